package cronjob

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/cronjob"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// cronEnv is one test's namespace, fake clock and BatchCronJob controller.
type cronEnv struct {
	t     *testing.T
	ns    string
	clock *clocktesting.FakeClock
	c     client.Client
}

// start creates a namespace and runs the BatchCronJob controller on it with a fake clock
// that starts at the wall clock (the API server stamps creationTimestamp with real time).
func start(t *testing.T) *cronEnv {
	t.Helper()
	ns := env.NewNamespace(t, "cron")
	ce := &cronEnv{t: t, ns: ns, clock: clocktesting.NewFakeClock(time.Now()), c: env.Client}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := cronjob.NewReconciler(mgr, cronjob.Options{Clock: ce.clock, Local: time.UTC})
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("caches did not sync")
	}
	return ce
}

func (ce *cronEnv) create(name, schedule string, mutate func(*v1alpha1.BatchCronJob)) *v1alpha1.BatchCronJob {
	ce.t.Helper()
	cj := testutil.MakeBatchCronJob(name, ce.ns, schedule).
		JobTemplateLabel("app", name).JobTemplateAnnotation("team", "data").Obj()
	if mutate != nil {
		mutate(cj)
	}
	if err := ce.c.Create(context.Background(), cj); err != nil {
		ce.t.Fatalf("Creating BatchCronJob: %v", err)
	}
	return cj
}

func (ce *cronEnv) get(cj *v1alpha1.BatchCronJob) *v1alpha1.BatchCronJob {
	ce.t.Helper()
	got := &v1alpha1.BatchCronJob{}
	if err := ce.c.Get(context.Background(), client.ObjectKeyFromObject(cj), got); err != nil {
		ce.t.Fatalf("Getting BatchCronJob: %v", err)
	}
	return got
}

// minuteAfter is the first whole minute after t.
func minuteAfter(t time.Time) time.Time { return t.Truncate(time.Minute).Add(time.Minute) }

// stepTo sets the fake clock to t once the controller waits on it (its first pass has
// set the wake-up), so that the step cannot pass unnoticed.
func (ce *cronEnv) stepTo(t time.Time) {
	ce.t.Helper()
	framework.Eventually(ce.t, "the controller to wait on the clock", func() (bool, string) {
		return ce.clock.HasWaiters(), "no wake-up set"
	})
	ce.clock.SetTime(t)
}

// jobs lists the namespace's BatchJobs, sorted by name (that is, by scheduled time).
func (ce *cronEnv) jobs() []v1alpha1.BatchJob {
	ce.t.Helper()
	var list v1alpha1.BatchJobList
	if err := ce.c.List(context.Background(), &list, client.InNamespace(ce.ns)); err != nil {
		ce.t.Fatalf("Listing BatchJobs: %v", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

func names(jobs []v1alpha1.BatchJob) []string {
	var out []string
	for _, j := range jobs {
		state := ""
		if j.DeletionTimestamp != nil {
			state = "(deleting)"
		}
		out = append(out, j.Name+state)
	}
	return out
}

// waitForJobs waits until the namespace's BatchJobs are exactly want (names; "(deleting)"
// marks one being deleted).
func (ce *cronEnv) waitForJobs(want ...string) []v1alpha1.BatchJob {
	ce.t.Helper()
	var got []v1alpha1.BatchJob
	framework.Eventually(ce.t, fmt.Sprintf("BatchJobs %v", want), func() (bool, string) {
		got = ce.jobs()
		return slices.Equal(names(got), want), fmt.Sprint(names(got))
	})
	return got
}

func jobName(cj *v1alpha1.BatchCronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// finish plays the BatchJob controller: the job started at started and ended Complete or
// Failed a second later, with the conditions batch/v1 requires before a terminal one.
func (ce *cronEnv) finish(name string, cond v1alpha1.JobConditionType, started time.Time) {
	ce.t.Helper()
	j := &v1alpha1.BatchJob{}
	if err := ce.c.Get(context.Background(), client.ObjectKey{Namespace: ce.ns, Name: name}, j); err != nil {
		ce.t.Fatalf("Getting BatchJob %s: %v", name, err)
	}
	// In fake time, which runs ahead of the wall clock.
	now := metav1.NewTime(started.Add(time.Second).Truncate(time.Second))
	j.Status.StartTime = &metav1.Time{Time: started}
	first := v1alpha1.JobSuccessCriteriaMet
	if cond == v1alpha1.JobFailed {
		first = v1alpha1.JobFailureTarget
		j.Status.Failed = 1
	} else {
		j.Status.Succeeded = 1
		j.Status.CompletionTime = &now
	}
	j.Status.Conditions = []v1alpha1.JobCondition{
		{Type: first, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
		{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
	}
	if err := ce.c.Status().Update(context.Background(), j); err != nil {
		ce.t.Fatalf("Finishing BatchJob %s: %v", name, err)
	}
}

// eventReasons lists the reasons of the BatchCronJob controller's events on cj.
func (ce *cronEnv) eventReasons(cj *v1alpha1.BatchCronJob) []string {
	ce.t.Helper()
	var list eventsv1.EventList
	if err := ce.c.List(context.Background(), &list, client.InNamespace(ce.ns)); err != nil {
		ce.t.Fatalf("Listing events: %v", err)
	}
	var out []string
	for _, ev := range list.Items {
		if ev.Regarding.UID == cj.UID && ev.ReportingController == cronjob.ControllerName {
			out = append(out, ev.Reason)
		}
	}
	sort.Strings(out)
	return out
}

func (ce *cronEnv) waitForEvent(cj *v1alpha1.BatchCronJob, reason string) {
	ce.t.Helper()
	framework.Eventually(ce.t, "event "+reason, func() (bool, string) {
		got := ce.eventReasons(cj)
		return slices.Contains(got, reason), fmt.Sprint(got)
	})
}
