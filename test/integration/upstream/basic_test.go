package upstream

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestNonParallelJob tests a job that only executes one pod, restarting the controller
// at some points to make sure a new controller is able to pick up (job_test.go:2406).
func TestNonParallelJob(t *testing.T) {
	ns := env.NewNamespace(t, "simple")
	cancel := startJobControllerAndWaitForCaches(t, ns)
	framework.ResetMetrics()

	jobObj := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("", "").Obj())
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Restarting controller.
	cancel()
	cancel = startJobControllerAndWaitForCaches(t, ns)

	// Failed Pod is replaced.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 1); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodFailed, err)
	}
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Failed: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	framework.ValidateCounterMetric(t, metrics.PodsFinishedTotal, 1, "NonIndexed", "failed")

	// Restarting controller.
	cancel()
	startJobControllerAndWaitForCaches(t, ns)

	// No more Pods are created after the Pod succeeds.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, 1); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodSucceeded, err)
	}
	env.ValidateJobCondition(t, jobObj, v1alpha1.JobComplete)
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Failed: 1, Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateFinishedPodsNoFinalizer(t, jobObj)
	framework.ValidateCounterMetric(t, metrics.JobsFinishedTotal, 1, "NonIndexed", "succeeded", "CompletionsReached")
	framework.ValidateCounterMetric(t, metrics.PodsFinishedTotal, 1, "NonIndexed", "succeeded")
}

// TestParallelJob: a work-queue job (no completions) with parallelism 5 (job_test.go:2471).
func TestParallelJob(t *testing.T) {
	ns := env.NewNamespace(t, "parallel")
	startJobControllerAndWaitForCaches(t, ns)
	framework.ResetMetrics()

	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](5)
	}))
	want := framework.PodsByStatus{Active: 5, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	env.ValidateJobPodsStatus(t, jobObj, want)

	// Tracks ready pods.
	if _, err := env.SetJobPodsReady(jobObj, 2); err != nil {
		t.Fatalf("Failed Marking Pods as ready: %v", err)
	}
	want.Ready = ptr.To[int32](2)
	env.ValidateJobPodsStatus(t, jobObj, want)

	// Failed Pods are replaced.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 2); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodFailed, err)
	}
	want = framework.PodsByStatus{Active: 5, Failed: 2, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	env.ValidateJobPodsStatus(t, jobObj, want)
	// Once one Pod succeeds, no more Pods are created, even if some fail.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, 1); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodSucceeded, err)
	}
	want = framework.PodsByStatus{Failed: 2, Succeeded: 1, Active: 4, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	env.ValidateJobPodsStatus(t, jobObj, want)
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 2); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodFailed, err)
	}
	want = framework.PodsByStatus{Failed: 4, Succeeded: 1, Active: 2, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	env.ValidateJobPodsStatus(t, jobObj, want)
	// No more Pods are created after remaining Pods succeed.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, 2); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodSucceeded, err)
	}
	env.ValidateJobCondition(t, jobObj, v1alpha1.JobComplete)
	want = framework.PodsByStatus{Failed: 4, Succeeded: 3, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	env.ValidateJobPodsStatus(t, jobObj, want)
	env.ValidateFinishedPodsNoFinalizer(t, jobObj)
	framework.ValidateCounterMetric(t, metrics.TerminatedPodsTrackingFinalizerTotal, 7, "add")
	framework.ValidateCounterMetric(t, metrics.TerminatedPodsTrackingFinalizerTotal, 7, "delete")
	framework.ValidateCounterMetric(t, metrics.JobsFinishedTotal, 1, "NonIndexed", "succeeded", "CompletionsReached")
	framework.ValidateCounterMetric(t, metrics.PodsFinishedTotal, 3, "NonIndexed", "succeeded")
	framework.ValidateCounterMetric(t, metrics.PodsFinishedTotal, 4, "NonIndexed", "failed")
}

// TestParallelJobChangingParallelism (job_test.go:2563).
func TestParallelJobChangingParallelism(t *testing.T) {
	ns := env.NewNamespace(t, "parallel")
	startJobControllerAndWaitForCaches(t, ns, withPodFailureBackoff(0))

	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.BackoffLimit = ptr.To[int32](2)
		s.Parallelism = ptr.To[int32](5)
	}))
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 5, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Reduce parallelism by a number greater than backoffLimit.
	if _, err := env.UpdateJob(jobObj, func(j *v1alpha1.BatchJob) { j.Spec.Parallelism = ptr.To[int32](2) }); err != nil {
		t.Fatalf("Updating Job: %v", err)
	}
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 2, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Increase parallelism again.
	if _, err := env.UpdateJob(jobObj, func(j *v1alpha1.BatchJob) { j.Spec.Parallelism = ptr.To[int32](4) }); err != nil {
		t.Fatalf("Updating Job: %v", err)
	}
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 4, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Succeed Job
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, 4); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodSucceeded, err)
	}
	env.ValidateJobCondition(t, jobObj, v1alpha1.JobComplete)
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Succeeded: 4, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateFinishedPodsNoFinalizer(t, jobObj)
}

// TestParallelJobWithCompletions (job_test.go:2621). Upstream also lowers MaxUncountedPods
// and MaxPodCreateDeletePerSync to 10 to exercise partial passes; ours are constants (500
// uncounted pods per pass, slow-start creation batches), so the job runs with them.
func TestParallelJobWithCompletions(t *testing.T) {
	ns := env.NewNamespace(t, "completions")
	startJobControllerAndWaitForCaches(t, ns)
	framework.ResetMetrics()

	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](54)
		s.Completions = ptr.To[int32](56)
	}))
	want := framework.PodsByStatus{Active: 54, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	env.ValidateJobPodsStatus(t, jobObj, want)
	// Tracks ready pods.
	if _, err := env.SetJobPodsReady(jobObj, 52); err != nil {
		t.Fatalf("Failed Marking Pods as ready: %v", err)
	}
	want.Ready = ptr.To[int32](52)
	env.ValidateJobPodsStatus(t, jobObj, want)

	// Failed Pods are replaced.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 2); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodFailed, err)
	}
	want = framework.PodsByStatus{Active: 54, Failed: 2, Ready: ptr.To[int32](50), Terminating: ptr.To[int32](0)}
	env.ValidateJobPodsStatus(t, jobObj, want)
	// Pods are created until the number of succeeded Pods equals completions.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, 53); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodSucceeded, err)
	}
	want = framework.PodsByStatus{Failed: 2, Succeeded: 53, Active: 3, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	env.ValidateJobPodsStatus(t, jobObj, want)
	// No more Pods are created after the Job completes.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, 3); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodSucceeded, err)
	}
	env.ValidateJobCondition(t, jobObj, v1alpha1.JobComplete)
	want = framework.PodsByStatus{Failed: 2, Succeeded: 56, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	env.ValidateJobPodsStatus(t, jobObj, want)
	env.ValidateFinishedPodsNoFinalizer(t, jobObj)
	framework.ValidateCounterMetric(t, metrics.JobsFinishedTotal, 1, "NonIndexed", "succeeded", "CompletionsReached")
	framework.ValidateCounterMetric(t, metrics.PodsFinishedTotal, 56, "NonIndexed", "succeeded")
	framework.ValidateCounterMetric(t, metrics.PodsFinishedTotal, 2, "NonIndexed", "failed")
}

// TestIndexedJob (job_test.go:2705). Upstream's job_finished_indexes_total assertions are
// left out: we have no such metric.
func TestIndexedJob(t *testing.T) {
	ns := env.NewNamespace(t, "indexed")
	startJobControllerAndWaitForCaches(t, ns)
	framework.ResetMetrics()

	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](3)
		s.Completions = ptr.To[int32](4)
		s.CompletionMode = indexedCompletion
	}))
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 3, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateIndexedJobPods(t, jobObj, sets.New(0, 1, 2), "", nil)

	// One Pod succeeds.
	env.SetJobPhaseForIndex(t, jobObj, corev1.PodSucceeded, 1)
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 3, Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateIndexedJobPods(t, jobObj, sets.New(0, 2, 3), "1", nil)

	// One Pod fails, which should be recreated.
	env.SetJobPhaseForIndex(t, jobObj, corev1.PodFailed, 2)
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 3, Failed: 1, Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateIndexedJobPods(t, jobObj, sets.New(0, 2, 3), "1", nil)

	// Remaining Pods succeed.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, 3); err != nil {
		t.Fatal("Failed trying to succeed remaining pods")
	}
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 0, Failed: 1, Succeeded: 4, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateIndexedJobPods(t, jobObj, nil, "0-3", nil)
	env.ValidateJobCondition(t, jobObj, v1alpha1.JobComplete)
	env.ValidateFinishedPodsNoFinalizer(t, jobObj)
	framework.ValidateCounterMetric(t, metrics.TerminatedPodsTrackingFinalizerTotal, 5, "add")
	framework.ValidateCounterMetric(t, metrics.JobsFinishedTotal, 1, "Indexed", "succeeded", "CompletionsReached")
	framework.ValidateCounterMetric(t, metrics.PodsFinishedTotal, 4, "Indexed", "succeeded")
	framework.ValidateCounterMetric(t, metrics.PodsFinishedTotal, 1, "Indexed", "failed")
}
