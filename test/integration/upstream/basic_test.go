package upstream

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
)

// TestNonParallelJob tests a job that only executes one pod, restarting the controller
// at some points to make sure a new controller is able to pick up (job_test.go:2406).
func TestNonParallelJob(t *testing.T) {
	ns := setup(t, "simple")
	cancel := startJobControllerAndWaitForCaches(t, ns)
	resetMetrics()

	jobObj := createJobWithDefaults(t, ns.Name, &v1alpha1.BatchJob{})
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Restarting controller.
	cancel()
	cancel = startJobControllerAndWaitForCaches(t, ns)

	// Failed Pod is replaced.
	if _, err := setJobPodsPhase(jobObj, corev1.PodFailed, 1); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodFailed, err)
	}
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 1, Failed: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateCounterMetric(t, metrics.PodsFinishedTotal, 1, "NonIndexed", "failed")

	// Restarting controller.
	cancel()
	startJobControllerAndWaitForCaches(t, ns)

	// No more Pods are created after the Pod succeeds.
	if _, err := setJobPodsPhase(jobObj, corev1.PodSucceeded, 1); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodSucceeded, err)
	}
	validateJobComplete(t, jobObj)
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Failed: 1, Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateFinishedPodsNoFinalizer(t, jobObj)
	validateCounterMetric(t, metrics.JobsFinishedTotal, 1, "NonIndexed", "succeeded", "CompletionsReached")
	validateCounterMetric(t, metrics.PodsFinishedTotal, 1, "NonIndexed", "succeeded")
}

// TestParallelJob: a work-queue job (no completions) with parallelism 5 (job_test.go:2471).
func TestParallelJob(t *testing.T) {
	ns := setup(t, "parallel")
	startJobControllerAndWaitForCaches(t, ns)
	resetMetrics()

	jobObj := createJobWithDefaults(t, ns.Name, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](5)
	}))
	want := podsByStatus{Active: 5, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	validateJobPodsStatus(t, jobObj, "", want)

	// Tracks ready pods.
	if _, err := setJobPodsReady(jobObj, 2); err != nil {
		t.Fatalf("Failed Marking Pods as ready: %v", err)
	}
	want.Ready = ptr.To[int32](2)
	validateJobPodsStatus(t, jobObj, "", want)

	// Failed Pods are replaced.
	if _, err := setJobPodsPhase(jobObj, corev1.PodFailed, 2); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodFailed, err)
	}
	want = podsByStatus{Active: 5, Failed: 2, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	validateJobPodsStatus(t, jobObj, "", want)
	// Once one Pod succeeds, no more Pods are created, even if some fail.
	if _, err := setJobPodsPhase(jobObj, corev1.PodSucceeded, 1); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodSucceeded, err)
	}
	want = podsByStatus{Failed: 2, Succeeded: 1, Active: 4, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	validateJobPodsStatus(t, jobObj, "", want)
	if _, err := setJobPodsPhase(jobObj, corev1.PodFailed, 2); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodFailed, err)
	}
	want = podsByStatus{Failed: 4, Succeeded: 1, Active: 2, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	validateJobPodsStatus(t, jobObj, "", want)
	// No more Pods are created after remaining Pods succeed.
	if _, err := setJobPodsPhase(jobObj, corev1.PodSucceeded, 2); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodSucceeded, err)
	}
	validateJobComplete(t, jobObj)
	want = podsByStatus{Failed: 4, Succeeded: 3, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	validateJobPodsStatus(t, jobObj, "", want)
	validateFinishedPodsNoFinalizer(t, jobObj)
	validateCounterMetric(t, metrics.TerminatedPodsTrackingFinalizerTotal, 7, "add")
	validateCounterMetric(t, metrics.TerminatedPodsTrackingFinalizerTotal, 7, "delete")
	validateCounterMetric(t, metrics.JobsFinishedTotal, 1, "NonIndexed", "succeeded", "CompletionsReached")
	validateCounterMetric(t, metrics.PodsFinishedTotal, 3, "NonIndexed", "succeeded")
	validateCounterMetric(t, metrics.PodsFinishedTotal, 4, "NonIndexed", "failed")
}

// TestParallelJobChangingParallelism (job_test.go:2563).
func TestParallelJobChangingParallelism(t *testing.T) {
	ns := setup(t, "parallel")
	startJobControllerAndWaitForCaches(t, ns, withPodFailureBackoff(0))

	jobObj := createJobWithDefaults(t, ns.Name, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.BackoffLimit = ptr.To[int32](2)
		s.Parallelism = ptr.To[int32](5)
	}))
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 5, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Reduce parallelism by a number greater than backoffLimit.
	if _, err := updateJob(jobObj, func(j *v1alpha1.BatchJob) { j.Spec.Parallelism = ptr.To[int32](2) }); err != nil {
		t.Fatalf("Updating Job: %v", err)
	}
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 2, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Increase parallelism again.
	if _, err := updateJob(jobObj, func(j *v1alpha1.BatchJob) { j.Spec.Parallelism = ptr.To[int32](4) }); err != nil {
		t.Fatalf("Updating Job: %v", err)
	}
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 4, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Succeed Job
	if _, err := setJobPodsPhase(jobObj, corev1.PodSucceeded, 4); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodSucceeded, err)
	}
	validateJobComplete(t, jobObj)
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Succeeded: 4, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateFinishedPodsNoFinalizer(t, jobObj)
}

// TestParallelJobWithCompletions (job_test.go:2621). Upstream also lowers MaxUncountedPods
// and MaxPodCreateDeletePerSync to 10 to exercise partial passes; ours are constants (500
// uncounted pods per pass, slow-start creation batches), so the job runs with them.
func TestParallelJobWithCompletions(t *testing.T) {
	ns := setup(t, "completions")
	startJobControllerAndWaitForCaches(t, ns)
	resetMetrics()

	jobObj := createJobWithDefaults(t, ns.Name, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](54)
		s.Completions = ptr.To[int32](56)
	}))
	want := podsByStatus{Active: 54, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	validateJobPodsStatus(t, jobObj, "", want)
	// Tracks ready pods.
	if _, err := setJobPodsReady(jobObj, 52); err != nil {
		t.Fatalf("Failed Marking Pods as ready: %v", err)
	}
	want.Ready = ptr.To[int32](52)
	validateJobPodsStatus(t, jobObj, "", want)

	// Failed Pods are replaced.
	if _, err := setJobPodsPhase(jobObj, corev1.PodFailed, 2); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodFailed, err)
	}
	want = podsByStatus{Active: 54, Failed: 2, Ready: ptr.To[int32](50), Terminating: ptr.To[int32](0)}
	validateJobPodsStatus(t, jobObj, "", want)
	// Pods are created until the number of succeeded Pods equals completions.
	if _, err := setJobPodsPhase(jobObj, corev1.PodSucceeded, 53); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pod: %v", corev1.PodSucceeded, err)
	}
	want = podsByStatus{Failed: 2, Succeeded: 53, Active: 3, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	validateJobPodsStatus(t, jobObj, "", want)
	// No more Pods are created after the Job completes.
	if _, err := setJobPodsPhase(jobObj, corev1.PodSucceeded, 3); err != nil {
		t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodSucceeded, err)
	}
	validateJobComplete(t, jobObj)
	want = podsByStatus{Failed: 2, Succeeded: 56, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)}
	validateJobPodsStatus(t, jobObj, "", want)
	validateFinishedPodsNoFinalizer(t, jobObj)
	validateCounterMetric(t, metrics.JobsFinishedTotal, 1, "NonIndexed", "succeeded", "CompletionsReached")
	validateCounterMetric(t, metrics.PodsFinishedTotal, 56, "NonIndexed", "succeeded")
	validateCounterMetric(t, metrics.PodsFinishedTotal, 2, "NonIndexed", "failed")
}

// TestIndexedJob (job_test.go:2705). Upstream's job_finished_indexes_total assertions are
// left out: we have no such metric.
func TestIndexedJob(t *testing.T) {
	ns := setup(t, "indexed")
	startJobControllerAndWaitForCaches(t, ns)
	resetMetrics()

	jobObj := createJobWithDefaults(t, ns.Name, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](3)
		s.Completions = ptr.To[int32](4)
		s.CompletionMode = indexedCompletion
	}))
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 3, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateIndexedJobPods(t, jobObj, sets.New(0, 1, 2), "", nil)

	// One Pod succeeds.
	if err := setJobPhaseForIndex(jobObj, corev1.PodSucceeded, 1); err != nil {
		t.Fatal("Failed trying to succeed pod with index 1")
	}
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 3, Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateIndexedJobPods(t, jobObj, sets.New(0, 2, 3), "1", nil)

	// One Pod fails, which should be recreated.
	if err := setJobPhaseForIndex(jobObj, corev1.PodFailed, 2); err != nil {
		t.Fatal("Failed trying to fail pod with index 2")
	}
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 3, Failed: 1, Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateIndexedJobPods(t, jobObj, sets.New(0, 2, 3), "1", nil)

	// Remaining Pods succeed.
	if _, err := setJobPodsPhase(jobObj, corev1.PodSucceeded, 3); err != nil {
		t.Fatal("Failed trying to succeed remaining pods")
	}
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 0, Failed: 1, Succeeded: 4, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateIndexedJobPods(t, jobObj, nil, "0-3", nil)
	validateJobComplete(t, jobObj)
	validateFinishedPodsNoFinalizer(t, jobObj)
	validateCounterMetric(t, metrics.TerminatedPodsTrackingFinalizerTotal, 5, "add")
	validateCounterMetric(t, metrics.JobsFinishedTotal, 1, "Indexed", "succeeded", "CompletionsReached")
	validateCounterMetric(t, metrics.PodsFinishedTotal, 4, "Indexed", "succeeded")
	validateCounterMetric(t, metrics.PodsFinishedTotal, 1, "Indexed", "failed")
}
