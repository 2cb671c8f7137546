package upstream

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestBackoffLimitPerIndex_DelayedPodDeletion (job_test.go:836): a failed pod deleted
// before its replacement exists is still counted once, and the replacement carries the
// bumped index failure count.
func TestBackoffLimitPerIndex_DelayedPodDeletion(t *testing.T) {
	ns := setup(t, "backoff-limit-per-index-failed")
	startJobControllerAndWaitForCaches(t, ns)
	jobObj := createJobWithDefaults(t, ns.Name, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](1)
		s.Completions = ptr.To[int32](1)
		s.BackoffLimitPerIndex = ptr.To[int32](1)
		s.CompletionMode = indexedCompletion
	}))
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateIndexedJobPods(t, jobObj, sets.New(0), "", ptr.To(""))

	// First pod from index 0 failed.
	if err := setJobPhaseForIndex(jobObj, corev1.PodFailed, 0); err != nil {
		t.Fatal("Failed trying to fail pod with index 0")
	}
	// Delete the failed pod.
	pods := getJobPodsForIndex(t, jobObj, 0, func(*corev1.Pod) bool { return true })
	if len(pods) == 0 {
		t.Fatalf("failed to get terminal pod for index: %v", 0)
	}
	if err := env.Client.Delete(ctx, pods[0]); err != nil {
		t.Fatalf("failed to delete pod %s: %v", pods[0].Name, err)
	}
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 1, Failed: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateIndexedJobPods(t, jobObj, sets.New(0), "", ptr.To(""))

	// The replacement pod has the index-failure-count annotation bumped.
	active := getJobPodsForIndex(t, jobObj, 0, func(p *corev1.Pod) bool {
		return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
	})
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
	if err := setJobPhaseForIndex(jobObj, corev1.PodSucceeded, 0); err != nil {
		t.Fatal("Failed trying to succeed pod with index 0")
	}
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Succeeded: 1, Failed: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateJobComplete(t, jobObj)
}

// TestBackoffLimitPerIndex_JobPodsCreatedWithExponentialBackoff (job_test.go:918): pods
// are re-created with an exponential delay computed per index. Real time: about 8s.
func TestBackoffLimitPerIndex_JobPodsCreatedWithExponentialBackoff(t *testing.T) {
	const base = 2 * time.Second
	ns := setup(t, "simple")
	startJobControllerAndWaitForCaches(t, ns, withPodFailureBackoff(base))
	jobObj := createJobWithDefaults(t, ns.Name, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Completions = ptr.To[int32](2)
		s.Parallelism = ptr.To[int32](2)
		s.BackoffLimitPerIndex = ptr.To[int32](2)
		s.CompletionMode = indexedCompletion
	}))
	validateJobPodsStatus(t, jobObj, "", podsByStatus{Active: 2, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	validateIndexedJobPods(t, jobObj, sets.New(0, 1), "", ptr.To(""))

	steps := []struct {
		ix            int
		phase         corev1.PodPhase
		want          podsByStatus
		wantActive    sets.Set[int]
		wantCompleted string
	}{
		{0, corev1.PodFailed, podsByStatus{Active: 2, Failed: 1}, sets.New(0, 1), ""},
		{0, corev1.PodFailed, podsByStatus{Active: 2, Failed: 2}, sets.New(0, 1), ""},
		{1, corev1.PodFailed, podsByStatus{Active: 2, Failed: 3}, sets.New(0, 1), ""},
		{0, corev1.PodSucceeded, podsByStatus{Active: 1, Failed: 3, Succeeded: 1}, sets.New(1), "0"},
		{1, corev1.PodFailed, podsByStatus{Active: 1, Failed: 4, Succeeded: 1}, sets.New(1), "0"},
		{1, corev1.PodSucceeded, podsByStatus{Failed: 4, Succeeded: 2}, sets.New[int](), "0,1"},
	}
	for i, s := range steps {
		if err := setJobPhaseForIndex(jobObj, s.phase, s.ix); err != nil {
			t.Fatalf("Step %d: failed setting phase %s on the pod of index %d: %v", i, s.phase, s.ix, err)
		}
		s.want.Ready, s.want.Terminating = ptr.To[int32](0), ptr.To[int32](0)
		validateJobPodsStatus(t, jobObj, fmt.Sprintf("step %d", i), s.want)
		validateIndexedJobPods(t, jobObj, s.wantActive, s.wantCompleted, ptr.To(""))
	}
	validateJobComplete(t, jobObj)
	for index := range 2 {
		validateExponentialBackoffDelay(t, base, getJobPodsForIndex(t, jobObj, index, func(*corev1.Pod) bool { return true }))
	}
}

// getJobPodsForIndex lists the job's pods of index ix that pass filter.
func getJobPodsForIndex(t testing.TB, jobObj *v1alpha1.BatchJob, ix int, filter func(*corev1.Pod) bool) []*corev1.Pod {
	t.Helper()
	var out []*corev1.Pod
	for _, p := range getJobPods(t, jobObj, func(corev1.PodStatus) bool { return true }) {
		if pix, err := getCompletionIndex(p.Annotations); err == nil && pix == ix && filter(p) {
			out = append(out, p)
		}
	}
	return out
}
