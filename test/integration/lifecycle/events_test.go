package lifecycle

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// waitForExactEvents waits until the job's events are exactly want, then checks that no
// further event arrives for a while (each is emitted once).
func waitForExactEvents(t testing.TB, job *v1alpha1.BatchJob, want []event) {
	t.Helper()
	want = append([]event(nil), want...)
	sortEvents(want)
	framework.Eventually(t, "events", func() (bool, string) {
		got := jobEvents(t, job)
		return cmp.Equal(want, got), "(-want,+got)\n" + cmp.Diff(want, got)
	})
	framework.Consistently(t, framework.ControllerLatency*2, "no further events", func() (bool, string) {
		got := jobEvents(t, job)
		return cmp.Equal(want, got), "(-want,+got)\n" + cmp.Diff(want, got)
	})
}

// Events: SuccessfulCreate "Created pod: <name>" per pod, then Completed "Job completed"
// once, recorded after the status write that added Complete; a job never suspended gets
// no Suspended/Resumed event.
func TestEventsOfCompletingJob(t *testing.T) {
	ns := env.NewNamespace(t, "ev-complete")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("done", ns).Completions(2).Parallelism(2).Obj())
	pods := env.WaitForActivePods(t, job, 2)
	waitForExactEvents(t, job, createdEvents(pods))
	for i := range pods {
		env.SetPodPhase(t, &pods[i], corev1.PodSucceeded, 0)
	}
	framework.Eventually(t, "Completed event", func() (bool, string) {
		evs := jobEvents(t, job)
		for _, e := range evs {
			if e.Reason == "Completed" {
				// The event follows the write: the stored job must already show it.
				if j := env.GetJob(t, job); !framework.HasCondition(j, v1alpha1.JobComplete, "") {
					t.Fatalf("Completed event recorded before the Complete condition was stored: %+v", j.Status)
				}
				return true, ""
			}
		}
		return false, fmt.Sprint(evs)
	})
	waitForExactEvents(t, job, append(createdEvents(pods), event{corev1.EventTypeNormal, "Completed", "Job completed", ""}))
}

// Suspend, resume and their events: Suspended "Job suspended" on creation, Resumed "Job resumed",
// SuccessfulDelete "Deleted pod: <name>" for each pod deleted by a suspension.
func TestEventsOfSuspendAndResume(t *testing.T) {
	ns := env.NewNamespace(t, "ev-suspend")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("susp", ns).Parallelism(1).Completions(1).Suspend(true).Obj())
	suspended := event{corev1.EventTypeNormal, "Suspended", "Job suspended", ""}
	waitForExactEvents(t, job, []event{suspended})

	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(false) })
	pods := env.WaitForActivePods(t, job, 1)
	resumed := event{corev1.EventTypeNormal, "Resumed", "Job resumed", ""}
	waitForExactEvents(t, job, append(createdEvents(pods), suspended, resumed))

	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) })
	deleted := event{corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: " + pods[0].Name, "Pod/" + pods[0].Name}
	waitForExactEvents(t, job, append(createdEvents(pods), suspended, resumed, deleted, suspended))
}

// Events: a failed job records a Warning whose reason is the Failed condition's reason and
// whose message is the condition's message (upstream's exact text, then the last failed
// pod), once.
func TestEventsOfFailedJob(t *testing.T) {
	ns := env.NewNamespace(t, "ev-fail")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("fail", ns).BackoffLimit(0).Obj())
	pods := env.WaitForActivePods(t, job, 1)
	env.SetPodPhase(t, &pods[0], corev1.PodFailed, 1)
	got := env.WaitForCondition(t, job, v1alpha1.JobFailed, v1alpha1.ReasonBackoffLimitExceeded)
	c := trueTerminalCondition(got)
	// Upstream's exact text first (tools match on it), then why: the last failed pod, its
	// container and exit code.
	wantDetail := fmt.Sprintf(": last failed pod %s, container %s exited with code 1",
		pods[0].Name, pods[0].Spec.Containers[0].Name)
	if !strings.HasPrefix(c.Message, v1alpha1.MessageBackoffLimitExceeded+wantDetail) {
		t.Errorf("Failed condition message %q, want upstream's %q followed by %q",
			c.Message, v1alpha1.MessageBackoffLimitExceeded, wantDetail)
	}
	waitForExactEvents(t, job, append(createdEvents(pods),
		event{corev1.EventTypeWarning, v1alpha1.ReasonBackoffLimitExceeded, c.Message, ""}))
}

// activeDeadlineSeconds and its events: at the deadline the active pod is deleted (SuccessfulDelete) and the job
// fails with a DeadlineExceeded Warning carrying the condition's message.
func TestEventsOfDeadlineExceeded(t *testing.T) {
	ns := env.NewNamespace(t, "ev-deadline")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("deadline", ns).ActiveDeadlineSeconds(1).Obj())
	got := env.WaitForCondition(t, job, v1alpha1.JobFailed, v1alpha1.ReasonDeadlineExceeded)
	if c := trueTerminalCondition(got); c.Message != v1alpha1.MessageDeadlineExceeded {
		t.Errorf("Failed condition message %q, want %q", c.Message, v1alpha1.MessageDeadlineExceeded)
	}
	// The pod may be gone already (its finalizer is removed once it is counted): name it
	// from its creation event.
	var pod string
	for _, e := range jobEvents(t, job) {
		if e.Reason == "SuccessfulCreate" {
			pod = strings.TrimPrefix(e.Note, "Created pod: ")
		}
	}
	waitForExactEvents(t, job, []event{
		{corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: " + pod, "Pod/" + pod},
		{corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: " + pod, "Pod/" + pod},
		{corev1.EventTypeWarning, v1alpha1.ReasonDeadlineExceeded, v1alpha1.MessageDeadlineExceeded, ""}})
	if got.Status.Failed != 1 || got.Status.Active != 0 {
		t.Errorf("failed %d active %d, want 1 and 0", got.Status.Failed, got.Status.Active)
	}
}

// Ownership, completion and events: terminal orphans matching a manualSelector are adopted and counted in
// the pass that adopts them; more succeeded pods than completions complete the job with
// TooManySucceededPods and Completed, and no pod is created.
func TestAdoptedSucceededPodsCountedAndTooManySucceeded(t *testing.T) {
	ns := env.NewNamespace(t, "ev-toomany")
	labels := map[string]string{"app": "many", v1alpha1.ControllerUIDLabel: "many"}
	for _, name := range []string{"orphan-a", "orphan-b"} {
		p := createPod(t, newPod(ns, name, labels, nil))
		env.SetPodPhase(t, p, corev1.PodSucceeded, 0)
	}
	startController(t, ns)
	// MakeBatchJob's template label is app=many.
	job := env.CreateJob(t, testutil.MakeBatchJob("many", ns).Completions(1).Parallelism(1).
		ManualSelector(map[string]string{"app": "many"}).Obj())
	got := env.WaitForCondition(t, job, v1alpha1.JobComplete, v1alpha1.ReasonCompletionsReached)
	if got.Status.Succeeded != 2 || got.Status.Failed != 0 || got.Status.Active != 0 {
		t.Errorf("succeeded %d failed %d active %d, want 2, 0, 0", got.Status.Succeeded, got.Status.Failed, got.Status.Active)
	}
	for _, name := range []string{"orphan-a", "orphan-b"} {
		waitPodMeta(t, ns, name, podMeta{Owners: []string{"BatchJob/many/true"}})
	}
	waitForExactEvents(t, job, []event{
		{corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached", ""},
		{corev1.EventTypeNormal, "Completed", "Job completed", ""},
	})
	if n := len(env.JobPods(t, job)); n != 2 {
		t.Errorf("%d pods, want the 2 adopted ones", n)
	}
}
