package upstream

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestJobPodsCreatedWithExponentialBackoff (job_test.go:3492): with a 2s base the second
// pod is created in [2s, 4s) after the first failed, the third in [4s, 8s) after the
// second failed. Real time, as upstream: about 7s.
func TestJobPodsCreatedWithExponentialBackoff(t *testing.T) {
	const base = 2 * time.Second
	ns := env.NewNamespace(t, "simple")
	startJobControllerAndWaitForCaches(t, ns, withPodFailureBackoff(base))
	jobObj := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("", "").Obj())
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Fail the first pod
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 1); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodFailed, err)
	}
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Failed: 1, Terminating: ptr.To[int32](0)})

	// Fail the second pod
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 1); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodFailed, err)
	}
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Failed: 2, Terminating: ptr.To[int32](0)})

	jobPods := env.JobPods(t, jobObj)
	if len(jobPods) != 3 {
		t.Fatalf("Expected to get %v pods, received %v", 3, len(jobPods))
	}
	validateExponentialBackoffDelay(t, base, jobPods)
}

func validateExponentialBackoffDelay(t *testing.T, base time.Duration, pods []corev1.Pod) {
	t.Helper()
	var creationTime, finishTime []time.Time
	for _, pod := range pods {
		creationTime = append(creationTime, pod.CreationTimestamp.Time)
		if len(pod.Status.ContainerStatuses) > 0 {
			finishTime = append(finishTime, pod.Status.ContainerStatuses[0].State.Terminated.FinishedAt.Time)
		}
	}
	slices.SortFunc(creationTime, time.Time.Compare)
	slices.SortFunc(finishTime, time.Time.Compare)
	// Timestamps have a one-second resolution, as upstream's.
	if diff := creationTime[1].Sub(finishTime[0]); diff < base || diff >= 2*base {
		t.Errorf("Second pod should be created in [%v, %v) after the first pod failed, time difference: %v", base, 2*base, diff)
	}
	if diff := creationTime[2].Sub(finishTime[1]); diff < 2*base || diff >= 4*base {
		t.Errorf("Third pod should be created in [%v, %v) after the second pod failed, time difference: %v", 2*base, 4*base, diff)
	}
}
