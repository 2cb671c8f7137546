package upstream

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestOrphanPodsFinalizersClearedOnRestart (job_test.go:3653): a job deleted while the
// controller is down leaves no pod with the tracking finalizer once it is back.
func TestOrphanPodsFinalizersClearedOnRestart(t *testing.T) {
	ns := env.NewNamespace(t, "simple")
	cancel := startJobControllerAndWaitForCaches(t, ns)
	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) { s.Parallelism = ptr.To[int32](1) }))
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	jobObj = env.GetJob(t, jobObj) // with the selector the controller generated

	// Delete the Job while the controller is stopped. No garbage collector runs here, so
	// the pods stay, owned by a job that no longer exists.
	cancel()
	env.DeleteJob(t, jobObj, metav1.DeletePropagationBackground)

	startJobControllerAndWaitForCaches(t, ns)
	validateNoOrphanPodsWithFinalizers(t, jobObj)
}

// TestFinalizersClearedWhenBackoffLimitExceeded (job_test.go:3447). Upstream lowers
// MaxUncountedPods to 50 (below parallelism); ours is a constant 500.
func TestFinalizersClearedWhenBackoffLimitExceeded(t *testing.T) {
	ns := env.NewNamespace(t, "simple")
	startJobControllerAndWaitForCaches(t, ns)
	framework.ResetMetrics()
	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.CompletionMode = indexedCompletion
		s.Completions = ptr.To[int32](100)
		s.Parallelism = ptr.To[int32](100)
		s.BackoffLimit = ptr.To[int32](0)
	}))
	// Fail a pod ASAP.
	err := wait.PollUntilContextTimeout(ctx, time.Millisecond, framework.WaitTimeout, true, func(context.Context) (bool, error) {
		_, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 1)
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("Could not fail pod: %v", err)
	}
	env.ValidateJobCondition(t, jobObj, v1alpha1.JobFailed)
	framework.ValidateCounterMetric(t, metrics.JobsFinishedTotal, 1, "Indexed", "failed", "BackoffLimitExceeded")
	validateNoOrphanPodsWithFinalizers(t, env.GetJob(t, jobObj))
}

// TestJobFailedWithInterrupts (job_test.go:3582): a job where one pod fails and the rest
// succeed is marked Failed, even if the controller restarts in the middle.
func TestJobFailedWithInterrupts(t *testing.T) {
	ns := env.NewNamespace(t, "simple")
	cancel := startJobControllerAndWaitForCaches(t, ns)
	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Completions = ptr.To[int32](10)
		s.Parallelism = ptr.To[int32](10)
		s.BackoffLimit = ptr.To[int32](0)
		s.Template.Spec.NodeName = "foo" // Scheduled pods are not deleted immediately.
	}))
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 10, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	t.Log("Finishing pods")
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 1); err != nil {
		t.Fatalf("Could not fail a pod: %v", err)
	}
	remaining := 9
	err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, framework.WaitTimeout, true, func(context.Context) (bool, error) {
		if succ, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, remaining); err != nil {
			remaining -= succ
			t.Logf("Transient failure succeeding pods: %v", err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("Could not succeed the remaining %d pods: %v", remaining, err)
	}
	t.Log("Recreating job controller")
	cancel()
	startJobControllerAndWaitForCaches(t, ns)
	env.ValidateJobCondition(t, jobObj, v1alpha1.JobFailed)
}
