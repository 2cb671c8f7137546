package policies

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
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
		pod := getActivePodForIndex(t, job, step.index)
		writePodStatus(t, pod, backdated(step.status))
		validateJobPodsStatus(t, job, podsByStatus{
			Active: step.wantActive, Succeeded: step.wantSucceeded, Failed: step.wantFailed,
			Ready: ptrInt32(0), Terminating: step.wantTerminating,
		})
		validateIndexedJobPods(t, job, step.wantActiveIndexes, step.wantCompletedIndexes, step.wantFailedIndexes)
		if step.wantReplacementPodFailureCount != nil {
			replacement := getActivePodForIndex(t, job, step.index)
			if got := indexFailureCount(t, replacement); got != *step.wantReplacementPodFailureCount {
				t.Fatalf("Unexpected index failure count annotation: want %d, got %d", *step.wantReplacementPodFailureCount, got)
			}
		}
	}
}

func indexed() *v1alpha1.CompletionMode { return ptr.To(v1alpha1.IndexedCompletion) }

// Port of upstream TestSuccessPolicy (INT:553-834).
func TestSuccessPolicy(t *testing.T) {
	tmpl := mainContainerTemplate()
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
				{index: 0, status: succeeded, wantSucceeded: 1, wantCompletedIndexes: "0", wantTerminating: ptrInt32(0)},
			},
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobSuccessCriteriaMet, v1alpha1.JobComplete},
			wantFinishedReason: "SuccessPolicy",
		},
		"job without successPolicy; incremented the jobs_finished_total metric with CompletionsReached reason": {
			job: v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1), CompletionMode: indexed(), Template: tmpl},
			podTerminations: []podTermination{
				{index: 0, status: succeeded, wantSucceeded: 1, wantCompletedIndexes: "0", wantTerminating: ptrInt32(0)},
			},
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobSuccessCriteriaMet, v1alpha1.JobComplete},
			wantFinishedReason: "CompletionsReached",
		},
		"job with successPolicy with succeededIndexes; job has SuccessCriteriaMet and Complete conditions even if some indexes remain pending": {
			job: v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), CompletionMode: indexed(), Template: tmpl,
				SuccessPolicy: &v1alpha1.SuccessPolicy{Rules: []v1alpha1.SuccessPolicyRule{{SucceededIndexes: ptr.To("1")}}}},
			podTerminations: []podTermination{
				{index: 0, status: corev1.PodStatus{Phase: corev1.PodPending}, wantActive: 2, wantActiveIndexes: sets.New(0, 1), wantTerminating: ptrInt32(0)},
				{index: 1, status: succeeded, wantSucceeded: 1, wantCompletedIndexes: "1", wantTerminating: ptrInt32(0)},
			},
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobSuccessCriteriaMet, v1alpha1.JobComplete},
			wantFinishedReason: "SuccessPolicy",
		},
		"job with successPolicy with succeededCount; job has SuccessCriteriaMet and Complete conditions even if some indexes remain pending": {
			job: v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), CompletionMode: indexed(), Template: tmpl,
				SuccessPolicy: &v1alpha1.SuccessPolicy{Rules: []v1alpha1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}},
			podTerminations: []podTermination{
				{index: 0, status: corev1.PodStatus{Phase: corev1.PodPending}, wantActive: 2, wantActiveIndexes: sets.New(0, 1), wantTerminating: ptrInt32(0)},
				{index: 1, status: succeeded, wantSucceeded: 1, wantCompletedIndexes: "1", wantTerminating: ptrInt32(0)},
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
					wantFailedIndexes: ptr.To("0"), wantTerminating: ptrInt32(0)},
				{index: 1, status: succeeded, wantFailed: 1, wantSucceeded: 1, wantFailedIndexes: ptr.To("0"), wantCompletedIndexes: "1",
					wantTerminating: ptrInt32(0)},
			},
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobFailed},
		},
	}
	ns := setup(t, "success-policy")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			labels := []string{"Indexed", "succeeded", tc.wantFinishedReason}
			finished := newCounterDelta(metrics.JobsFinishedTotal, labels)
			job := createJobWithDefaults(t, ns, tc.job)
			validateJobPodsStatus(t, job, podsByStatus{Active: int(*tc.job.Parallelism), Ready: ptrInt32(0), Terminating: ptrInt32(0)})
			runPodTerminations(t, job, tc.podTerminations)
			for _, ct := range tc.wantConditionTypes {
				validateJobCondition(t, job, ct)
			}
			if tc.wantFinishedReason != "" {
				finished.validate(t, 1, labels...)
			}
			validateFinishedPodsNoFinalizer(t, job)
		})
	}
}

// Port of upstream TestDelayTerminalPhaseCondition (INT:1033-1303): the terminal
// condition waits for every pod to be terminal, the interim condition says the outcome
// first. The JobManagedBy on/off variants are one case each here: the gate is locked on.
func TestDelayTerminalPhaseCondition(t *testing.T) {
	tmpl := mainContainerTemplate()
	tmpl.Finalizers = []string{blockDeletionFinalizer}
	failOnePod := func(t *testing.T, job *v1alpha1.BatchJob) {
		setJobPodsPhase(t, job, corev1.PodFailed, 1)
	}
	succeedOnePodAndScaleDown := func(t *testing.T, job *v1alpha1.BatchJob) {
		setJobPhaseForIndex(t, job, corev1.PodSucceeded, 0)
		if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) {
			j.Spec.Parallelism, j.Spec.Completions = ptr.To[int32](1), ptr.To[int32](1)
		}); err != nil {
			t.Fatalf("scaling down: %v", err)
		}
	}
	cond := func(ct v1alpha1.JobConditionType, reason string) v1alpha1.JobCondition {
		return v1alpha1.JobCondition{Type: ct, Status: corev1.ConditionTrue, Reason: reason}
	}
	cases := map[string]struct {
		job                v1alpha1.BatchJobSpec
		action             func(*testing.T, *v1alpha1.BatchJob)
		wantInterimStatus  v1alpha1.BatchJobStatus
		wantTerminalStatus v1alpha1.BatchJobStatus
	}{
		"job backoff limit exceeded": {
			job:    v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), Template: tmpl, BackoffLimit: ptr.To[int32](0)},
			action: failOnePod,
			wantInterimStatus: v1alpha1.BatchJobStatus{Failed: 2, Terminating: ptrInt32(1), Ready: ptrInt32(0),
				Conditions: []v1alpha1.JobCondition{cond(v1alpha1.JobFailureTarget, v1alpha1.ReasonBackoffLimitExceeded)}},
			wantTerminalStatus: v1alpha1.BatchJobStatus{Failed: 2, Terminating: ptrInt32(0), Ready: ptrInt32(0),
				Conditions: []v1alpha1.JobCondition{
					cond(v1alpha1.JobFailureTarget, v1alpha1.ReasonBackoffLimitExceeded),
					cond(v1alpha1.JobFailed, v1alpha1.ReasonBackoffLimitExceeded),
				}},
		},
		"job scale down to meet completions": {
			job:    v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), CompletionMode: indexed(), Template: tmpl},
			action: succeedOnePodAndScaleDown,
			wantInterimStatus: v1alpha1.BatchJobStatus{Succeeded: 1, Terminating: ptrInt32(1), Ready: ptrInt32(0), CompletedIndexes: "0",
				Conditions: []v1alpha1.JobCondition{cond(v1alpha1.JobSuccessCriteriaMet, v1alpha1.ReasonCompletionsReached)}},
			wantTerminalStatus: v1alpha1.BatchJobStatus{Succeeded: 1, Terminating: ptrInt32(0), Ready: ptrInt32(0), CompletedIndexes: "0",
				Conditions: []v1alpha1.JobCondition{
					cond(v1alpha1.JobSuccessCriteriaMet, v1alpha1.ReasonCompletionsReached),
					cond(v1alpha1.JobComplete, v1alpha1.ReasonCompletionsReached),
				}},
		},
	}
	ns := setup(t, "delay-terminal-condition")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := createJobWithDefaults(t, ns, tc.job)
			waitForPodsToBeActive(t, job, *tc.job.Parallelism)
			tc.action(t, job)
			validateJobStatus(t, job, tc.wantInterimStatus)
			if got := getJob(t, job); got.Status.CompletionTime != nil {
				t.Errorf("completionTime set before the terminal condition: %v", got.Status.CompletionTime)
			}
			// Play the kubelet: every remaining pod terminates.
			remaining := filterPods(jobPods(t, job), isActivePhase)
			setJobPodsPhase(t, job, corev1.PodSucceeded, len(remaining))
			validateJobStatus(t, job, tc.wantTerminalStatus)
		})
	}
}
