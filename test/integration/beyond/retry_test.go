package beyond

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestRetryDelays: spec.retryPolicy.initialDelaySeconds replaces the suite's short
// backoff; while the replacement waits, status.nextPodCreationTime says until when and
// the state is BackingOff; the delays can be changed on a running job; the CRD rejects
// bad values naming the field.
func TestRetryDelays(t *testing.T) {
	ns := env.NewNamespace(t, "retry-delays")
	wantRejected(t, newJob(ns, "neg", func(s *v1alpha1.BatchJobSpec) {
		s.RetryPolicy = &v1alpha1.RetryPolicy{InitialDelaySeconds: ptr.To[int32](-1)}
	}), "spec.retryPolicy.initialDelaySeconds")
	wantRejected(t, newJob(ns, "inverted", func(s *v1alpha1.BatchJobSpec) {
		s.RetryPolicy = &v1alpha1.RetryPolicy{InitialDelaySeconds: ptr.To[int32](20), MaxDelaySeconds: ptr.To[int32](10)}
	}), "spec.retryPolicy.maxDelaySeconds: must be greater than or equal to initialDelaySeconds")

	job := env.CreateJob(t, newJob(ns, "delayed", func(s *v1alpha1.BatchJobSpec) {
		s.BackoffLimit = ptr.To[int32](3)
		s.RetryPolicy = &v1alpha1.RetryPolicy{InitialDelaySeconds: ptr.To[int32](3)}
	}))
	pods := env.WaitForActivePods(t, job, 1)
	env.SetPodPhase(t, &pods[0], corev1.PodFailed, 1)
	failedAt := time.Now().Truncate(time.Second) // finishedAt as stored
	got := waitForState(t, job, v1alpha1.StateBackingOff)
	if next := got.Status.NextPodCreationTime; next == nil || next.Sub(failedAt) < 2*time.Second || next.Sub(failedAt) > 4*time.Second {
		t.Errorf("nextPodCreationTime %v, want about 3s after the failure at %v", next, failedAt)
	}
	framework.Consistently(t, time.Until(failedAt.Add(2*time.Second)), "no replacement before the delay", func() (bool, string) {
		n := len(framework.ActivePods(env.JobPods(t, job)))
		return n == 0, fmt.Sprintf("%d active pods", n)
	})
	env.WaitForActivePods(t, job, 1)
	framework.Eventually(t, "nextPodCreationTime unset once the pod is created", func() (bool, string) {
		j := env.GetJob(t, job)
		return j.Status.NextPodCreationTime == nil && j.Status.State == v1alpha1.StatePending,
			fmt.Sprintf("nextPodCreationTime %v, state %s", j.Status.NextPodCreationTime, j.Status.State)
	})

	// Mutable: with 0 the next failure is replaced at once.
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.RetryPolicy.InitialDelaySeconds = ptr.To[int32](0) })
	pods = framework.ActivePods(env.JobPods(t, job))
	env.SetPodPhase(t, &pods[0], corev1.PodFailed, 1)
	framework.EventuallyWithin(t, 2*time.Second, "an immediate replacement", func() (bool, string) {
		j := env.GetJob(t, job)
		n := len(framework.ActivePods(env.JobPods(t, job)))
		return j.Status.Failed == 2 && n == 1, fmt.Sprintf("failed %d, %d active", j.Status.Failed, n)
	})
}
