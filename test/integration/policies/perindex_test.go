package policies

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/backoff"
	"github.com/batchjob-dev/batchjob/internal/metrics"
)

// Port of upstream TestBackoffLimitPerIndex (INT:1305-1713), including its
// job_finished_indexes_total checks (batchjob_finished_indexes_total here).
func TestBackoffLimitPerIndex(t *testing.T) {
	tmpl := mainContainerTemplate()
	failed := corev1.PodStatus{Phase: corev1.PodFailed}
	succeeded := corev1.PodStatus{Phase: corev1.PodSucceeded}
	spec := func(n, perIndex int32) v1alpha1.BatchJobSpec {
		return v1alpha1.BatchJobSpec{Parallelism: ptr.To(n), Completions: ptr.To(n), CompletionMode: indexed(),
			BackoffLimitPerIndex: ptr.To(perIndex), Template: tmpl}
	}
	withBackoffLimit := spec(3, 1)
	withBackoffLimit.BackoffLimit = ptr.To[int32](2)
	withMaxFailed := spec(3, 0)
	withMaxFailed.MaxFailedIndexes = ptr.To[int32](1)
	withFailIndex := spec(2, 1)
	withFailIndex.PodFailurePolicy = &v1alpha1.PodFailurePolicy{Rules: []v1alpha1.PodFailurePolicyRule{
		onExitCodes(v1alpha1.PodFailurePolicyActionFailIndex, 13),
		onDisruption(v1alpha1.PodFailurePolicyActionFailIndex),
	}}
	cases := map[string]struct {
		job             v1alpha1.BatchJobSpec
		podTerminations []podTermination
		wantCondition   v1alpha1.JobConditionType
		// finished indexes per status, backoffLimit label perIndex
		wantSucceededIndexes, wantFailedIndexes int
	}{
		"job succeeded": {
			job: spec(2, 1),
			podTerminations: []podTermination{
				{status: failed, wantActive: 2, wantFailed: 1, wantActiveIndexes: sets.New(0, 1), wantFailedIndexes: ptr.To(""),
					wantReplacementPodFailureCount: ptr.To(1), wantTerminating: ptrInt32(0)},
			},
			wantCondition:        v1alpha1.JobComplete,
			wantSucceededIndexes: 2, wantFailedIndexes: 0,
		},
		"job index fails due to exceeding backoff limit per index": {
			job: spec(2, 2),
			podTerminations: []podTermination{
				{status: failed, wantActive: 2, wantFailed: 1, wantActiveIndexes: sets.New(0, 1), wantFailedIndexes: ptr.To(""),
					wantReplacementPodFailureCount: ptr.To(1), wantTerminating: ptrInt32(0)},
				{status: failed, wantActive: 2, wantFailed: 2, wantActiveIndexes: sets.New(0, 1), wantFailedIndexes: ptr.To(""),
					wantReplacementPodFailureCount: ptr.To(2), wantTerminating: ptrInt32(0)},
				{status: failed, wantActive: 1, wantFailed: 3, wantActiveIndexes: sets.New(1), wantFailedIndexes: ptr.To("0"),
					wantTerminating: ptrInt32(0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 1, wantFailedIndexes: 1,
		},
		"job index fails due to exceeding the global backoff limit first": {
			job: withBackoffLimit,
			podTerminations: []podTermination{
				{index: 0, status: failed, wantActive: 3, wantFailed: 1, wantActiveIndexes: sets.New(0, 1, 2), wantFailedIndexes: ptr.To(""), wantTerminating: ptrInt32(0)},
				{index: 1, status: failed, wantActive: 3, wantFailed: 2, wantActiveIndexes: sets.New(0, 1, 2), wantFailedIndexes: ptr.To(""), wantTerminating: ptrInt32(0)},
				{index: 2, status: failed, wantFailed: 5, wantFailedIndexes: ptr.To(""), wantTerminating: ptrInt32(0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 0, wantFailedIndexes: 0,
		},
		"job continues execution after a failed index, the job is marked Failed due to the failed index": {
			job: spec(2, 0),
			podTerminations: []podTermination{
				{index: 0, status: failed, wantActive: 1, wantFailed: 1, wantActiveIndexes: sets.New(1), wantFailedIndexes: ptr.To("0"), wantTerminating: ptrInt32(0)},
				{index: 1, status: succeeded, wantFailed: 1, wantSucceeded: 1, wantFailedIndexes: ptr.To("0"), wantCompletedIndexes: "1", wantTerminating: ptrInt32(0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 1, wantFailedIndexes: 1,
		},
		"job execution terminated early due to exceeding max failed indexes": {
			job: withMaxFailed,
			podTerminations: []podTermination{
				{index: 0, status: failed, wantActive: 2, wantFailed: 1, wantActiveIndexes: sets.New(1, 2), wantFailedIndexes: ptr.To("0"), wantTerminating: ptrInt32(0)},
				{index: 1, status: failed, wantFailed: 3, wantFailedIndexes: ptr.To("0,1"), wantTerminating: ptrInt32(0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 0, wantFailedIndexes: 2,
		},
		"pod failure matching pod failure policy rule with FailIndex action": {
			job: withFailIndex,
			podTerminations: []podTermination{
				{index: 0, status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 13}}},
				}}, wantActive: 1, wantFailed: 1, wantActiveIndexes: sets.New(1), wantFailedIndexes: ptr.To("0"), wantTerminating: ptrInt32(0)},
				{index: 1, status: corev1.PodStatus{Phase: corev1.PodFailed, Conditions: []corev1.PodCondition{
					{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
				}}, wantFailed: 2, wantFailedIndexes: ptr.To("0,1"), wantTerminating: ptrInt32(0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 0, wantFailedIndexes: 2,
		},
	}
	ns := setup(t, "backoff-limit-per-index")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			succ, fail := []string{"succeeded", "perIndex"}, []string{"failed", "perIndex"}
			finished := newCounterDelta(metrics.FinishedIndexesTotal, succ, fail)
			job := createJobWithDefaults(t, ns, tc.job)
			validateJobPodsStatus(t, job, podsByStatus{Active: int(*tc.job.Parallelism), Ready: ptrInt32(0), Terminating: ptrInt32(0)})
			runPodTerminations(t, job, tc.podTerminations)
			if remaining := tc.podTerminations[len(tc.podTerminations)-1].wantActive; remaining > 0 {
				setJobPodsPhase(t, job, corev1.PodSucceeded, remaining)
			}
			validateJobCondition(t, job, tc.wantCondition)
			finished.validate(t, tc.wantSucceededIndexes, succ...)
			finished.validate(t, tc.wantFailedIndexes, fail...)
			validateFinishedPodsNoFinalizer(t, job)
		})
	}
}

// Port of upstream TestBackoffLimitPerIndex_DelayedPodDeletion (INT:836-916): the failed
// pod keeps its finalizer until its replacement exists, so a user deleting it does not
// lose the index's failure count.
func TestBackoffLimitPerIndex_DelayedPodDeletion(t *testing.T) {
	ns := setup(t, "backoff-limit-per-index-failed")
	job := createJobWithDefaults(t, ns, v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1),
		BackoffLimitPerIndex: ptr.To[int32](1), CompletionMode: indexed()})
	validateJobPodsStatus(t, job, podsByStatus{Active: 1, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateIndexedJobPods(t, job, sets.New(0), "", ptr.To(""))

	pod := setJobPhaseForIndexAt(t, job, corev1.PodFailed, 0, time.Now().Add(-longAgo))
	if err := k8sClient.Delete(context.Background(), pod); err != nil {
		t.Fatalf("deleting the failed pod: %v", err)
	}
	validateJobPodsStatus(t, job, podsByStatus{Active: 1, Failed: 1, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateIndexedJobPods(t, job, sets.New(0), "", ptr.To(""))

	replacement := getActivePodForIndex(t, job, 0)
	if got := indexFailureCount(t, replacement); got != 1 {
		t.Errorf("replacement pod's index failure count = %d, want 1", got)
	}
	setJobPhaseForIndex(t, job, corev1.PodSucceeded, 0)
	validateJobPodsStatus(t, job, podsByStatus{Succeeded: 1, Failed: 1, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateJobCondition(t, job, v1alpha1.JobComplete)
}

// Port of upstream TestBackoffLimitPerIndex_JobPodsCreatedWithExponentialBackoff
// (INT:918-1031). Upstream lowers the base delay to 2s; ours is the production 10s, so
// each failure is reported as having finished (d - 2s) ago, d being the delay due: the
// test waits ~2s per failure yet checks the full delays (10s, then 20s) per index.
func TestBackoffLimitPerIndex_JobPodsCreatedWithExponentialBackoff(t *testing.T) {
	ns := setup(t, "simple")
	job := createJobWithDefaults(t, ns, v1alpha1.BatchJobSpec{Completions: ptr.To[int32](2), Parallelism: ptr.To[int32](2),
		BackoffLimitPerIndex: ptr.To[int32](2), CompletionMode: indexed()})
	validateJobPodsStatus(t, job, podsByStatus{Active: 2, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateIndexedJobPods(t, job, sets.New(0, 1), "", ptr.To(""))

	// failAt reports the failure of the nth pod of an index so that its delay is 2s away.
	failAt := func(ix int, nth int32) {
		at := time.Now().Add(-backoff.Delay(nth) + 2*time.Second).Truncate(time.Second)
		setJobPhaseForIndexAt(t, job, corev1.PodFailed, ix, at)
	}
	failAt(0, 1)
	validateJobPodsStatus(t, job, podsByStatus{Active: 2, Failed: 1, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateIndexedJobPods(t, job, sets.New(0, 1), "", ptr.To(""))
	failAt(0, 2)
	validateJobPodsStatus(t, job, podsByStatus{Active: 2, Failed: 2, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateIndexedJobPods(t, job, sets.New(0, 1), "", ptr.To(""))
	failAt(1, 1)
	validateJobPodsStatus(t, job, podsByStatus{Active: 2, Failed: 3, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateIndexedJobPods(t, job, sets.New(0, 1), "", ptr.To(""))
	setJobPhaseForIndexAt(t, job, corev1.PodSucceeded, 0, time.Now())
	validateJobPodsStatus(t, job, podsByStatus{Active: 1, Failed: 3, Succeeded: 1, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateIndexedJobPods(t, job, sets.New(1), "0", ptr.To(""))
	failAt(1, 2)
	validateJobPodsStatus(t, job, podsByStatus{Active: 1, Failed: 4, Succeeded: 1, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateIndexedJobPods(t, job, sets.New(1), "0", ptr.To(""))
	setJobPhaseForIndexAt(t, job, corev1.PodSucceeded, 1, time.Now())
	validateJobPodsStatus(t, job, podsByStatus{Failed: 4, Succeeded: 2, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	validateIndexedJobPods(t, job, sets.New[int](), "0,1", ptr.To(""))
	validateJobCondition(t, job, v1alpha1.JobComplete)

	for ix := range 2 {
		validateExponentialBackoffDelay(t, getJobPodsForIndex(t, job, ix, func(*corev1.Pod) bool { return true }))
	}
}

// validateExponentialBackoffDelay is upstream's check with the 10s base: the 2nd pod of an
// index is created in [10s, 20s) after the 1st finished, the 3rd in [20s, 40s) after the 2nd.
// Pods are paired in creation order (upstream sorts creation and finish times separately,
// which the backdated finish times would scramble).
func validateExponentialBackoffDelay(t *testing.T, pods []corev1.Pod) {
	t.Helper()
	if len(pods) != 3 {
		t.Fatalf("want 3 pods for the index, got %d", len(pods))
	}
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	for i, d := range []time.Duration{backoff.Base, 2 * backoff.Base} {
		finished := pods[i].Status.ContainerStatuses[0].State.Terminated.FinishedAt.Time
		if diff := pods[i+1].CreationTimestamp.Sub(finished); diff < d || diff >= 2*d {
			t.Errorf("pod %d created %v after pod %d finished, want within [%v, %v)", i+2, diff, i+1, d, 2*d)
		}
	}
}
