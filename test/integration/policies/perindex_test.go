package policies

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

// Port of upstream TestBackoffLimitPerIndex (INT:1305-1713), including its
// job_finished_indexes_total checks (batchjob_finished_indexes_total here).
func TestBackoffLimitPerIndex(t *testing.T) {
	tmpl := framework.MainContainerTemplate()
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
					wantReplacementPodFailureCount: ptr.To(1), wantTerminating: ptr.To[int32](0)},
			},
			wantCondition:        v1alpha1.JobComplete,
			wantSucceededIndexes: 2, wantFailedIndexes: 0,
		},
		"job index fails due to exceeding backoff limit per index": {
			job: spec(2, 2),
			podTerminations: []podTermination{
				{status: failed, wantActive: 2, wantFailed: 1, wantActiveIndexes: sets.New(0, 1), wantFailedIndexes: ptr.To(""),
					wantReplacementPodFailureCount: ptr.To(1), wantTerminating: ptr.To[int32](0)},
				{status: failed, wantActive: 2, wantFailed: 2, wantActiveIndexes: sets.New(0, 1), wantFailedIndexes: ptr.To(""),
					wantReplacementPodFailureCount: ptr.To(2), wantTerminating: ptr.To[int32](0)},
				{status: failed, wantActive: 1, wantFailed: 3, wantActiveIndexes: sets.New(1), wantFailedIndexes: ptr.To("0"),
					wantTerminating: ptr.To[int32](0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 1, wantFailedIndexes: 1,
		},
		"job index fails due to exceeding the global backoff limit first": {
			job: withBackoffLimit,
			podTerminations: []podTermination{
				{index: 0, status: failed, wantActive: 3, wantFailed: 1, wantActiveIndexes: sets.New(0, 1, 2), wantFailedIndexes: ptr.To(""), wantTerminating: ptr.To[int32](0)},
				{index: 1, status: failed, wantActive: 3, wantFailed: 2, wantActiveIndexes: sets.New(0, 1, 2), wantFailedIndexes: ptr.To(""), wantTerminating: ptr.To[int32](0)},
				{index: 2, status: failed, wantFailed: 5, wantFailedIndexes: ptr.To(""), wantTerminating: ptr.To[int32](0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 0, wantFailedIndexes: 0,
		},
		"job continues execution after a failed index, the job is marked Failed due to the failed index": {
			job: spec(2, 0),
			podTerminations: []podTermination{
				{index: 0, status: failed, wantActive: 1, wantFailed: 1, wantActiveIndexes: sets.New(1), wantFailedIndexes: ptr.To("0"), wantTerminating: ptr.To[int32](0)},
				{index: 1, status: succeeded, wantFailed: 1, wantSucceeded: 1, wantFailedIndexes: ptr.To("0"), wantCompletedIndexes: "1", wantTerminating: ptr.To[int32](0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 1, wantFailedIndexes: 1,
		},
		"job execution terminated early due to exceeding max failed indexes": {
			job: withMaxFailed,
			podTerminations: []podTermination{
				{index: 0, status: failed, wantActive: 2, wantFailed: 1, wantActiveIndexes: sets.New(1, 2), wantFailedIndexes: ptr.To("0"), wantTerminating: ptr.To[int32](0)},
				{index: 1, status: failed, wantFailed: 3, wantFailedIndexes: ptr.To("0,1"), wantTerminating: ptr.To[int32](0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 0, wantFailedIndexes: 2,
		},
		"pod failure matching pod failure policy rule with FailIndex action": {
			job: withFailIndex,
			podTerminations: []podTermination{
				{index: 0, status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 13}}},
				}}, wantActive: 1, wantFailed: 1, wantActiveIndexes: sets.New(1), wantFailedIndexes: ptr.To("0"), wantTerminating: ptr.To[int32](0)},
				{index: 1, status: corev1.PodStatus{Phase: corev1.PodFailed, Conditions: []corev1.PodCondition{
					{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
				}}, wantFailed: 2, wantFailedIndexes: ptr.To("0,1"), wantTerminating: ptr.To[int32](0)},
			},
			wantCondition:        v1alpha1.JobFailed,
			wantSucceededIndexes: 0, wantFailedIndexes: 2,
		},
	}
	ns := env.NewNamespace(t, "backoff-limit-per-index")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			succ, fail := []string{"succeeded", "perIndex"}, []string{"failed", "perIndex"}
			finished := framework.NewCounterDelta(t, metrics.FinishedIndexesTotal, succ, fail)
			job := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("", "").FullSpec(&tc.job).Obj())
			env.ValidateJobPodsStatus(t, job, framework.PodsByStatus{Active: int(*tc.job.Parallelism), Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
			runPodTerminations(t, job, tc.podTerminations)
			if remaining := tc.podTerminations[len(tc.podTerminations)-1].wantActive; remaining > 0 {
				if _, err := env.SetJobPodsPhase(job, corev1.PodSucceeded, remaining); err != nil {
					t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodSucceeded, err)
				}
			}
			env.ValidateJobCondition(t, job, tc.wantCondition)
			finished.Validate(t, tc.wantSucceededIndexes, succ...)
			finished.Validate(t, tc.wantFailedIndexes, fail...)
			env.ValidateFinishedPodsNoFinalizer(t, job)
		})
	}
}
