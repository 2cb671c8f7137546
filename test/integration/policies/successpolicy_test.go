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

// podTermination is one step of upstream's index-by-index tables: the status written to
// the active pod of index, then the expected counters and index sets.
type podTermination struct {
	index                          int
	status                         corev1.PodStatus
	wantActive                     int
	wantFailed                     int
	wantSucceeded                  int
	wantActiveIndexes              sets.Set[int]
	wantCompletedIndexes           string
	wantFailedIndexes              *string
	wantReplacementPodFailureCount *int
	wantTerminating                *int32
}

// runPodTerminations plays the steps and checks each of them as upstream does.
func runPodTerminations(t *testing.T, job *v1alpha1.BatchJob, steps []podTermination) {
	t.Helper()
	for _, step := range steps {
		pod := env.ActivePodForIndex(t, job, step.index)
		env.WritePodStatus(t, pod, step.status)
		env.ValidateJobPodsStatus(t, job, framework.PodsByStatus{
			Active: step.wantActive, Succeeded: step.wantSucceeded, Failed: step.wantFailed,
			Ready: ptr.To[int32](0), Terminating: step.wantTerminating,
		})
		env.ValidateIndexedJobPods(t, job, step.wantActiveIndexes, step.wantCompletedIndexes, step.wantFailedIndexes)
		if step.wantReplacementPodFailureCount != nil {
			replacement := env.ActivePodForIndex(t, job, step.index)
			if got := framework.IndexFailureCount(t, replacement); got != *step.wantReplacementPodFailureCount {
				t.Fatalf("Unexpected index failure count annotation: want %d, got %d", *step.wantReplacementPodFailureCount, got)
			}
		}
	}
}

func indexed() *v1alpha1.CompletionMode { return ptr.To(v1alpha1.IndexedCompletion) }

// Port of upstream TestSuccessPolicy (INT:553-834).
func TestSuccessPolicy(t *testing.T) {
	tmpl := framework.MainContainerTemplate()
	succeeded := corev1.PodStatus{Phase: corev1.PodSucceeded}
	cases := map[string]struct {
		job                v1alpha1.BatchJobSpec
		podTerminations    []podTermination
		wantConditionTypes []v1alpha1.JobConditionType
		wantFinishedReason string // jobs_finished_total{Indexed,succeeded,reason} += 1
	}{
		"all indexes succeeded": {
			job: v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1), CompletionMode: indexed(), Template: tmpl,
				SuccessPolicy: &v1alpha1.SuccessPolicy{Rules: []v1alpha1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}},
			podTerminations: []podTermination{
				{index: 0, status: succeeded, wantSucceeded: 1, wantCompletedIndexes: "0", wantTerminating: ptr.To[int32](0)},
			},
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobSuccessCriteriaMet, v1alpha1.JobComplete},
			wantFinishedReason: "SuccessPolicy",
		},
		"job without successPolicy; incremented the jobs_finished_total metric with CompletionsReached reason": {
			job: v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1), CompletionMode: indexed(), Template: tmpl},
			podTerminations: []podTermination{
				{index: 0, status: succeeded, wantSucceeded: 1, wantCompletedIndexes: "0", wantTerminating: ptr.To[int32](0)},
			},
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobSuccessCriteriaMet, v1alpha1.JobComplete},
			wantFinishedReason: "CompletionsReached",
		},
		"job with successPolicy with succeededIndexes; job has SuccessCriteriaMet and Complete conditions even if some indexes remain pending": {
			job: v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), CompletionMode: indexed(), Template: tmpl,
				SuccessPolicy: &v1alpha1.SuccessPolicy{Rules: []v1alpha1.SuccessPolicyRule{{SucceededIndexes: ptr.To("1")}}}},
			podTerminations: []podTermination{
				{index: 0, status: corev1.PodStatus{Phase: corev1.PodPending}, wantActive: 2, wantActiveIndexes: sets.New(0, 1), wantTerminating: ptr.To[int32](0)},
				{index: 1, status: succeeded, wantSucceeded: 1, wantCompletedIndexes: "1", wantTerminating: ptr.To[int32](0)},
			},
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobSuccessCriteriaMet, v1alpha1.JobComplete},
			wantFinishedReason: "SuccessPolicy",
		},
		"job with successPolicy with succeededCount; job has SuccessCriteriaMet and Complete conditions even if some indexes remain pending": {
			job: v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), CompletionMode: indexed(), Template: tmpl,
				SuccessPolicy: &v1alpha1.SuccessPolicy{Rules: []v1alpha1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}},
			podTerminations: []podTermination{
				{index: 0, status: corev1.PodStatus{Phase: corev1.PodPending}, wantActive: 2, wantActiveIndexes: sets.New(0, 1), wantTerminating: ptr.To[int32](0)},
				{index: 1, status: succeeded, wantSucceeded: 1, wantCompletedIndexes: "1", wantTerminating: ptr.To[int32](0)},
			},
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobSuccessCriteriaMet, v1alpha1.JobComplete},
			wantFinishedReason: "SuccessPolicy",
		},
		"job with successPolicy and backoffLimitPerIndex; job has a Failed condition if job meets backoffLimitPerIndex": {
			job: v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), CompletionMode: indexed(), Template: tmpl,
				BackoffLimitPerIndex: ptr.To[int32](0),
				SuccessPolicy:        &v1alpha1.SuccessPolicy{Rules: []v1alpha1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}},
			podTerminations: []podTermination{
				{index: 0, status: corev1.PodStatus{Phase: corev1.PodFailed}, wantActive: 1, wantActiveIndexes: sets.New(1), wantFailed: 1,
					wantFailedIndexes: ptr.To("0"), wantTerminating: ptr.To[int32](0)},
				{index: 1, status: succeeded, wantFailed: 1, wantSucceeded: 1, wantFailedIndexes: ptr.To("0"), wantCompletedIndexes: "1",
					wantTerminating: ptr.To[int32](0)},
			},
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobFailed},
		},
	}
	ns := env.NewNamespace(t, "success-policy")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			labels := []string{"Indexed", "succeeded", tc.wantFinishedReason}
			finished := framework.NewCounterDelta(t, metrics.JobsFinishedTotal, labels)
			job := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("", "").FullSpec(&tc.job).Obj())
			env.ValidateJobPodsStatus(t, job, framework.PodsByStatus{Active: int(*tc.job.Parallelism), Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
			runPodTerminations(t, job, tc.podTerminations)
			for _, ct := range tc.wantConditionTypes {
				env.ValidateJobCondition(t, job, ct)
			}
			if tc.wantFinishedReason != "" {
				finished.Validate(t, 1, labels...)
			}
			env.ValidateFinishedPodsNoFinalizer(t, job)
		})
	}
}
