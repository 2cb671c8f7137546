package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/controller"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var ctx = context.Background()

// startController starts a controller manager narrowed to ns for this test.
func startController(t testing.TB, ns string) (stop func()) {
	t.Helper()
	return env.StartTestController(t, framework.ControllerOptions{
		Namespaces: []string{ns}, PodFailureBackoff: framework.FastPodFailureBackoff,
	})
}

// event is what a test compares of one recorded event.
type event struct {
	Type, Reason, Note, Related string
}

// jobEvents lists our controller's events regarding job, expanded by series count and
// sorted, so that "emitted once" is a length check.
func jobEvents(t testing.TB, job *v1alpha1.BatchJob) []event {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(ctx, &list, client.InNamespace(job.Namespace)); err != nil {
		t.Fatalf("Listing events: %v", err)
	}
	var out []event
	for _, ev := range list.Items {
		if ev.Regarding.UID != job.UID || ev.ReportingController != controller.ControllerName {
			continue
		}
		e := event{Type: ev.Type, Reason: ev.Reason, Note: ev.Note}
		if ev.Related != nil {
			e.Related = ev.Related.Kind + "/" + ev.Related.Name
		}
		n := int32(1)
		if ev.Series != nil {
			n = max(n, ev.Series.Count)
		}
		for range n {
			out = append(out, e)
		}
	}
	sortEvents(out)
	return out
}

func sortEvents(evs []event) {
	sort.Slice(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		return strings.Join([]string{a.Reason, a.Note, a.Type, a.Related}, "\x00") <
			strings.Join([]string{b.Reason, b.Note, b.Type, b.Related}, "\x00")
	})
}

// createdEvents is the SuccessfulCreate event of each pod.
func createdEvents(pods []corev1.Pod) []event {
	var out []event
	for _, p := range pods {
		out = append(out, event{corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: " + p.Name, "Pod/" + p.Name})
	}
	return out
}

// getPod reads the stored pod; nil if it is gone.
func getPod(t testing.TB, ns, name string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("Getting pod %s: %v", name, err)
	}
	return p
}

// newPod is a one-container pod in ns with labels, finalizers and owners as given.
func newPod(ns, name string, labels map[string]string, finalizers []string, owners ...metav1.OwnerReference) *corev1.Pod {
	w := testutil.MakeBarePod(name, ns).WithLabels(labels).Owners(owners...)
	for _, f := range finalizers {
		w.Finalizer(f)
	}
	return w.Obj()
}

func createPod(t testing.TB, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	pod = pod.DeepCopy()
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatalf("Creating pod %s: %v", pod.Name, err)
	}
	return pod
}

// jobRef is the controller ownerReference a BatchJob puts on its pods.
func jobRef(job *v1alpha1.BatchJob) metav1.OwnerReference {
	return *metav1.NewControllerRef(job, v1alpha1.GroupVersion.WithKind("BatchJob"))
}

// podMeta is what the ownership tests compare of a pod.
type podMeta struct {
	Owners     []string // "Kind/name/controller"
	Finalizers []string
	Deleting   bool
}

func metaOf(p *corev1.Pod) podMeta {
	m := podMeta{Finalizers: slices.Clone(p.Finalizers), Deleting: p.DeletionTimestamp != nil}
	for _, r := range p.OwnerReferences {
		m.Owners = append(m.Owners, fmt.Sprintf("%s/%s/%t", r.Kind, r.Name, r.Controller != nil && *r.Controller))
	}
	slices.Sort(m.Finalizers)
	return m
}

// waitPodMeta waits until the pod's owners, finalizers and deletion state equal want.
func waitPodMeta(t testing.TB, ns, name string, want podMeta) {
	t.Helper()
	framework.Eventually(t, "pod "+name+" metadata", func() (bool, string) {
		p := getPod(t, ns, name)
		if p == nil {
			return false, "gone"
		}
		got := metaOf(p)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("got %+v, want %+v", got, want)
	})
}

// keepPodMeta checks for a while that the pod's metadata stays want.
func keepPodMeta(t testing.TB, ns, name string, want podMeta) {
	t.Helper()
	framework.Consistently(t, framework.ControllerLatency*2, "pod "+name+" metadata", func() (bool, string) {
		p := getPod(t, ns, name)
		if p == nil {
			return false, "gone"
		}
		got := metaOf(p)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("got %+v, want %+v", got, want)
	})
}

// removePodFinalizers drops every finalizer of the pod so the namespace can go.
func removePodFinalizers(t testing.TB, ns, name string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		p := getPod(t, ns, name)
		if p == nil {
			return nil
		}
		p.Finalizers = nil
		return env.Client.Update(ctx, p)
	})
	if err != nil {
		t.Fatalf("Removing finalizers of pod %s: %v", name, err)
	}
}

// removeJobFinalizers drops every finalizer of the job (no garbage collector here to do it).
func removeJobFinalizers(t testing.TB, job *v1alpha1.BatchJob) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		j := &v1alpha1.BatchJob{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(job), j); err != nil {
			return client.IgnoreNotFound(err)
		}
		j.Finalizers = nil
		return env.Client.Update(ctx, j)
	})
	if err != nil {
		t.Fatalf("Removing finalizers of job %s: %v", job.Name, err)
	}
}

// finishPods sets phase on every active pod of job until the job has condition ct.
func finishJob(t testing.TB, job *v1alpha1.BatchJob, phase corev1.PodPhase, ct v1alpha1.JobConditionType) *v1alpha1.BatchJob {
	t.Helper()
	var got *v1alpha1.BatchJob
	framework.Eventually(t, fmt.Sprintf("condition %s", ct), func() (bool, string) {
		got = env.GetJob(t, job)
		if framework.HasCondition(got, ct, "") {
			return true, ""
		}
		for _, p := range framework.ActivePods(env.JobPods(t, job)) {
			exit := int32(0)
			if phase == corev1.PodFailed {
				exit = 1
			}
			_ = env.UpdatePodStatus(&p, func(pp *corev1.Pod) { pp.Status = framework.PodStatus(phase, exit, 0) })
		}
		return false, fmt.Sprintf("%+v", got.Status)
	})
	return got
}

// jobState reads the job: nil when it is gone.
func jobState(t testing.TB, job *v1alpha1.BatchJob) *v1alpha1.BatchJob {
	t.Helper()
	j := &v1alpha1.BatchJob{}
	err := env.Client.Get(ctx, client.ObjectKeyFromObject(job), j)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("Getting job: %v", err)
	}
	return j
}

// waitForegroundDeletion waits until a foreground deletion of job was requested: with no
// garbage collector, the job stays with a deletionTimestamp and foregroundDeletion.
func waitForegroundDeletion(t testing.TB, job *v1alpha1.BatchJob, within time.Duration) *v1alpha1.BatchJob {
	t.Helper()
	var got *v1alpha1.BatchJob
	framework.EventuallyWithin(t, within, "foreground deletion requested", func() (bool, string) {
		got = jobState(t, job)
		if got == nil {
			return false, "job is gone (not a foreground deletion)"
		}
		return got.DeletionTimestamp != nil && slices.Contains(got.Finalizers, metav1.FinalizerDeleteDependents),
			fmt.Sprintf("deletionTimestamp %v finalizers %v", got.DeletionTimestamp, got.Finalizers)
	})
	return got
}

// trueTerminalCondition is the first true Complete or Failed condition.
func trueTerminalCondition(job *v1alpha1.BatchJob) *v1alpha1.JobCondition {
	for i, c := range job.Status.Conditions {
		if (c.Type == v1alpha1.JobComplete || c.Type == v1alpha1.JobFailed) && c.Status == corev1.ConditionTrue {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}
