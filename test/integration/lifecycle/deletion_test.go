package lifecycle

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// Deletion (upstream: garbage collector, Controller.syncJob on a job with a deletionTimestamp): while a job waits for its foreground deletion the controller creates and deletes
// no pod, removes the tracking finalizer from every pod, counts the terminal ones (not
// the running one), and does not act on suspend (upstream TestSyncJobDeleted and friends in job_controller_test.go).
func TestForegroundDeletionCountsTerminalPods(t *testing.T) {
	ns := env.NewNamespace(t, "del-foreground")
	stop := startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("fg", ns).Parallelism(3).Completions(5).Obj())
	pods := env.WaitForActivePods(t, job, 3)
	framework.Eventually(t, "3 active in status", func() (bool, string) {
		j := env.GetJob(t, job)
		return j.Status.Active == 3, fmt.Sprintf("%+v", j.Status)
	})
	stop()
	env.SetPodPhase(t, &pods[0], corev1.PodSucceeded, 0)
	env.SetPodPhase(t, &pods[1], corev1.PodFailed, 1)
	env.SetPodPhase(t, &pods[2], corev1.PodRunning, 0)
	env.DeleteJob(t, job, metav1.DeletePropagationForeground)
	t.Cleanup(func() { removeJobFinalizers(t, job) })
	startController(t, ns)

	for _, p := range pods {
		waitPodMeta(t, ns, p.Name, podMeta{Owners: []string{"BatchJob/fg/true"}})
	}
	framework.Eventually(t, "terminal pods counted", func() (bool, string) {
		j := env.GetJob(t, job)
		u := j.Status.UncountedTerminatedPods
		return j.Status.Succeeded == 1 && j.Status.Failed == 1 && j.Status.Active == 1 &&
			(u == nil || len(u.Succeeded)+len(u.Failed) == 0), fmt.Sprintf("%+v", j.Status)
	})
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) })
	framework.Consistently(t, framework.ControllerLatency*2, "no pod created or deleted, not suspended", func() (bool, string) {
		j := env.GetJob(t, job)
		got := env.JobPods(t, job)
		for _, p := range got {
			if p.DeletionTimestamp != nil {
				return false, "pod " + p.Name + " deleted"
			}
		}
		return len(got) == 3 && framework.ConditionStatus(j, v1alpha1.JobSuspended) == "" &&
				j.Status.Succeeded == 1 && j.Status.Failed == 1,
			fmt.Sprintf("%d pods, status %+v", len(got), j.Status)
	})
	waitForExactEvents(t, job, createdEvents(pods))
}

// Deletion: with propagation Orphan the job waits for the garbage collector's orphan
// finalizer; meanwhile the controller treats it as being deleted: tracking finalizers
// go, no pod is created or deleted.
func TestOrphanPropagation(t *testing.T) {
	ns := env.NewNamespace(t, "del-orphan")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("orph", ns).Parallelism(2).Completions(4).Obj())
	pods := env.WaitForActivePods(t, job, 2)
	env.DeleteJob(t, job, metav1.DeletePropagationOrphan)
	t.Cleanup(func() { removeJobFinalizers(t, job) })
	got := jobState(t, job)
	if got == nil || got.DeletionTimestamp == nil || !slices.Contains(got.Finalizers, metav1.FinalizerOrphanDependents) {
		t.Fatalf("job after an orphan delete: %+v", got)
	}
	for _, p := range pods {
		waitPodMeta(t, ns, p.Name, podMeta{Owners: []string{"BatchJob/orph/true"}})
	}
	// A pod that finishes now is not replaced.
	env.SetPodPhase(t, &pods[0], corev1.PodFailed, 1)
	framework.Consistently(t, framework.ControllerLatency*2, "no pod created", func() (bool, string) {
		n := len(env.JobPods(t, job))
		return n == 2, fmt.Sprintf("%d pods", n)
	})
	waitForExactEvents(t, job, createdEvents(pods))
}

// Appendix A: adding activeDeadlineSeconds to a running job schedules the deadline
// from startTime (upstream Controller.updateJob).
func TestActiveDeadlineAddedToRunningJob(t *testing.T) {
	ns := env.NewNamespace(t, "trig-deadline")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("late-deadline", ns).Obj())
	env.WaitForActivePods(t, job, 1)
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](2) })
	var got *v1alpha1.BatchJob
	framework.EventuallyWithin(t, 15*time.Second, "DeadlineExceeded", func() (bool, string) {
		got = env.GetJob(t, job)
		return framework.HasCondition(got, v1alpha1.JobFailed, v1alpha1.ReasonDeadlineExceeded), fmt.Sprintf("%+v", got.Status)
	})
	c := trueTerminalCondition(got)
	if earliest := got.Status.StartTime.Add(2 * time.Second); c.LastTransitionTime.Time.Before(earliest) {
		t.Errorf("failed at %v, before startTime %v + 2s", c.LastTransitionTime, got.Status.StartTime)
	}
}
