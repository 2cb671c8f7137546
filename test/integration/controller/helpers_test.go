package controller

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// finishUntil marks every active pod of job with phase, repeatedly, until cond holds.
func finishUntil(t *testing.T, job *v1alpha1.BatchJob, phase corev1.PodPhase, cond func(*v1alpha1.BatchJob) bool) *v1alpha1.BatchJob {
	t.Helper()
	var got *v1alpha1.BatchJob
	framework.Eventually(t, "job to reach the expected state", func() (bool, string) {
		for _, p := range framework.ActivePods(env.JobPods(t, job)) {
			env.SetPodPhase(t, &p, phase, exitCodeFor(phase))
		}
		got = env.GetJob(t, job)
		return cond(got), fmt.Sprintf("%+v", got.Status)
	})
	return got
}

func exitCodeFor(phase corev1.PodPhase) int32 {
	if phase == corev1.PodFailed {
		return 1
	}
	return 0
}
