package upstream

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestBackoffLimitPerIndex_DelayedPodDeletion (job_test.go:836): a failed pod deleted
// before its replacement exists is still counted once, and the replacement carries the
// bumped index failure count.
func TestBackoffLimitPerIndex_DelayedPodDeletion(t *testing.T) {
	ns := env.NewNamespace(t, "backoff-limit-per-index-failed")
	startJobControllerAndWaitForCaches(t, ns)
	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](1)
		s.Completions = ptr.To[int32](1)
		s.BackoffLimitPerIndex = ptr.To[int32](1)
		s.CompletionMode = indexedCompletion
	}))
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateIndexedJobPods(t, jobObj, sets.New(0), "", ptr.To(""))

	// First pod from index 0 failed.
	failed := env.SetJobPhaseForIndex(t, jobObj, corev1.PodFailed, 0)
	// Delete the failed pod. Upstream deletes the first pod it lists for the index; with
	// our controller the replacement may already be listed too, and deleting it instead
	// would fail the index (seen 3 times in 20 runs), so the failed pod is named.
	if err := env.Client.Delete(ctx, failed); err != nil {
		t.Fatalf("failed to delete pod %s: %v", failed.Name, err)
	}
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Failed: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateIndexedJobPods(t, jobObj, sets.New(0), "", ptr.To(""))

	// The replacement pod has the index-failure-count annotation bumped.
	active := env.JobPodsForIndex(t, jobObj, 0, framework.IsNotTerminal)
	if len(active) == 0 {
		t.Fatalf("Failed to get active replacement pod for index 0")
	}
	got, err := strconv.Atoi(active[0].Annotations[v1alpha1.JobIndexFailureCountAnnotation])
	if err != nil {
		t.Fatalf("Failed to read the index failure count annotation of pod %s: %v", active[0].Name, err)
	}
	if diff := cmp.Diff(1, got); diff != "" {
		t.Errorf("Unexpected index failure count for the replacement pod: %s", diff)
	}
	env.SetJobPhaseForIndex(t, jobObj, corev1.PodSucceeded, 0)
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Succeeded: 1, Failed: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateJobCondition(t, jobObj, v1alpha1.JobComplete)
}

// TestBackoffLimitPerIndex_JobPodsCreatedWithExponentialBackoff (job_test.go:918): pods
// are re-created with an exponential delay computed per index. Real time: about 8s.
func TestBackoffLimitPerIndex_JobPodsCreatedWithExponentialBackoff(t *testing.T) {
	const base = 2 * time.Second
	ns := env.NewNamespace(t, "simple")
	startJobControllerAndWaitForCaches(t, ns, withPodFailureBackoff(base))
	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Completions = ptr.To[int32](2)
		s.Parallelism = ptr.To[int32](2)
		s.BackoffLimitPerIndex = ptr.To[int32](2)
		s.CompletionMode = indexedCompletion
	}))
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 2, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	env.ValidateIndexedJobPods(t, jobObj, sets.New(0, 1), "", ptr.To(""))

	steps := []struct {
		ix            int
		phase         corev1.PodPhase
		want          framework.PodsByStatus
		wantActive    sets.Set[int]
		wantCompleted string
	}{
		{0, corev1.PodFailed, framework.PodsByStatus{Active: 2, Failed: 1}, sets.New(0, 1), ""},
		{0, corev1.PodFailed, framework.PodsByStatus{Active: 2, Failed: 2}, sets.New(0, 1), ""},
		{1, corev1.PodFailed, framework.PodsByStatus{Active: 2, Failed: 3}, sets.New(0, 1), ""},
		{0, corev1.PodSucceeded, framework.PodsByStatus{Active: 1, Failed: 3, Succeeded: 1}, sets.New(1), "0"},
		{1, corev1.PodFailed, framework.PodsByStatus{Active: 1, Failed: 4, Succeeded: 1}, sets.New(1), "0"},
		{1, corev1.PodSucceeded, framework.PodsByStatus{Failed: 4, Succeeded: 2}, sets.New[int](), "0,1"},
	}
	for i, s := range steps {
		t.Logf("Step %d: phase %s on the pod of index %d", i, s.phase, s.ix)
		env.SetJobPhaseForIndex(t, jobObj, s.phase, s.ix)
		s.want.Ready, s.want.Terminating = ptr.To[int32](0), ptr.To[int32](0)
		env.ValidateJobPodsStatus(t, jobObj, s.want)
		env.ValidateIndexedJobPods(t, jobObj, s.wantActive, s.wantCompleted, ptr.To(""))
	}
	env.ValidateJobCondition(t, jobObj, v1alpha1.JobComplete)
	for index := range 2 {
		validateExponentialBackoffDelay(t, base, env.JobPodsForIndex(t, jobObj, index, framework.AllPods))
	}
}
