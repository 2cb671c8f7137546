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

// checkDeletedAfter checks that the deletion was requested no earlier than the first
// true Complete/Failed condition's lastTransitionTime plus ttl (both have second
// precision, as upstream's e2e compares them).
func checkDeletedAfter(t testing.TB, job *v1alpha1.BatchJob, ttl time.Duration) {
	t.Helper()
	c := trueTerminalCondition(job)
	if c == nil {
		t.Fatalf("deleted job has no terminal condition: %+v", job.Status)
	}
	if earliest := c.LastTransitionTime.Add(ttl); job.DeletionTimestamp.Time.Before(earliest) {
		t.Errorf("deletion requested at %v, before finish %v + ttl %v", job.DeletionTimestamp, c.LastTransitionTime, ttl)
	}
}

// keepNotDeleted checks until the given time that no deletion of the job was requested.
func keepNotDeleted(t testing.TB, job *v1alpha1.BatchJob, until time.Time) {
	t.Helper()
	framework.Consistently(t, time.Until(until), "job not deleted", func() (bool, string) {
		j := jobState(t, job)
		return j != nil && j.DeletionTimestamp == nil, fmt.Sprintf("%v", j)
	})
}

func ttlJob(t testing.TB, ns, name string, ttl int32) *v1alpha1.BatchJob {
	t.Helper()
	job := env.CreateJob(t, testutil.MakeBatchJob(name, ns).TTLSecondsAfterFinished(ttl).Obj())
	t.Cleanup(func() { removeJobFinalizers(t, job) })
	return job
}

// TTL after finished (upstream ttlafterfinished controller): ttlSecondsAfterFinished 0 deletes the job as soon as it finished, in the
// foreground (a failed job as well as a complete one).
func TestTTLZero(t *testing.T) {
	ns := env.NewNamespace(t, "ttl-zero")
	startController(t, ns)
	for _, tc := range []struct {
		name  string
		phase corev1.PodPhase
		cond  v1alpha1.JobConditionType
	}{{"complete", corev1.PodSucceeded, v1alpha1.JobComplete}, {"failed", corev1.PodFailed, v1alpha1.JobFailed}} {
		t.Run(tc.name, func(t *testing.T) {
			job := env.CreateJob(t, testutil.MakeBatchJob(tc.name, ns).TTLSecondsAfterFinished(0).BackoffLimit(0).Obj())
			t.Cleanup(func() { removeJobFinalizers(t, job) })
			env.WaitForActivePods(t, job, 1)
			finishJob(t, job, tc.phase, tc.cond)
			got := waitForegroundDeletion(t, job, 10*time.Second)
			checkDeletedAfter(t, got, 0)
		})
	}
}

// TTL after finished, upstream e2e ttl_after_finished.go: the job is deleted no earlier than finish time + TTL, where the
// finish time is the first true terminal condition's lastTransitionTime.
func TestTTLDeletesAfterFinishTime(t *testing.T) {
	ns := env.NewNamespace(t, "ttl-time")
	startController(t, ns)
	job := ttlJob(t, ns, "timed", 2)
	env.WaitForActivePods(t, job, 1)
	finished := finishJob(t, job, corev1.PodSucceeded, v1alpha1.JobComplete)
	keepNotDeleted(t, finished, trueTerminalCondition(finished).LastTransitionTime.Add(time.Second))
	got := waitForegroundDeletion(t, job, 10*time.Second)
	checkDeletedAfter(t, got, 2*time.Second)
}

// TTL after finished: shortening the TTL of a finished job takes effect on the update.
func TestTTLShortened(t *testing.T) {
	ns := env.NewNamespace(t, "ttl-short")
	startController(t, ns)
	job := ttlJob(t, ns, "short", 3600)
	env.WaitForActivePods(t, job, 1)
	finishJob(t, job, corev1.PodSucceeded, v1alpha1.JobComplete)
	keepNotDeleted(t, job, time.Now().Add(framework.ControllerLatency*2))
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](1) })
	got := waitForegroundDeletion(t, job, 10*time.Second)
	checkDeletedAfter(t, got, time.Second)
}

// TTL after finished: lengthening the TTL before it ran out postpones the deletion to the new expiry.
func TestTTLLengthened(t *testing.T) {
	ns := env.NewNamespace(t, "ttl-long")
	startController(t, ns)
	job := ttlJob(t, ns, "long", 3)
	env.WaitForActivePods(t, job, 1)
	finished := finishJob(t, job, corev1.PodSucceeded, v1alpha1.JobComplete)
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](7) })
	keepNotDeleted(t, job, trueTerminalCondition(finished).LastTransitionTime.Add(6*time.Second))
	got := waitForegroundDeletion(t, job, 10*time.Second)
	checkDeletedAfter(t, got, 7*time.Second)
}

// TTL after finished: removing the TTL of a finished job stops its deletion.
func TestTTLRemoved(t *testing.T) {
	ns := env.NewNamespace(t, "ttl-removed")
	startController(t, ns)
	job := ttlJob(t, ns, "removed", 2)
	env.WaitForActivePods(t, job, 1)
	finished := finishJob(t, job, corev1.PodSucceeded, v1alpha1.JobComplete)
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.TTLSecondsAfterFinished = nil })
	keepNotDeleted(t, job, trueTerminalCondition(finished).LastTransitionTime.Add(4*time.Second))
}

// TTL after finished: a finished job already being deleted is left to that deletion: the TTL issues no
// foreground DELETE of its own (which would add the foregroundDeletion finalizer).
func TestTTLIgnoresJobBeingDeleted(t *testing.T) {
	ns := env.NewNamespace(t, "ttl-deleting")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("deleting", ns).TTLSecondsAfterFinished(3600).
		Finalizer("example.com/hold").Obj())
	t.Cleanup(func() { removeJobFinalizers(t, job) })
	env.WaitForActivePods(t, job, 1)
	finishJob(t, job, corev1.PodSucceeded, v1alpha1.JobComplete)
	env.DeleteJob(t, job, metav1.DeletePropagationBackground)
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](0) })
	framework.Consistently(t, 2*time.Second, "only the user's deletion", func() (bool, string) {
		j := jobState(t, job)
		return j != nil && j.DeletionTimestamp != nil && slices.Equal(j.Finalizers, []string{"example.com/hold"}),
			fmt.Sprintf("%v", j)
	})
}
