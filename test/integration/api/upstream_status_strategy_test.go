package api

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// Port of upstream TestStatusStrategy_ValidateUpdate (pkg/registry/batch/job), with the
// JobManagedBy gate on as in 1.37: each rule is enforced only when the fields it is about
// change, so old objects that break a rule (seeded into etcd) may still get unrelated updates.
//
// Not ported: "incoming resource version on update should not be mutated" (an in-memory
// strategy detail) and the two cases with JobManagedBy disabled ("...; allowed because
// feature gate disabled", "valid update ... JobManagedBy disabled"). Translated: the
// SuccessCriteriaMet cases upstream runs with the gate off; under the 1.37 default, a new
// Complete=True also needs startTime and completionTime, so "valid addition of Complete for
// Job with SuccessCriteriaMet" sets them.
func TestUpstreamStatusStrategyValidateUpdate(t *testing.T) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	plus := metav1.NewTime(now.Add(time.Minute))
	C, F, FT, SCM, S := bj.JobComplete, bj.JobFailed, bj.JobFailureTarget, bj.JobSuccessCriteriaMet, bj.JobSuspended
	job := manualJob
	nonIndexed5 := func() *testutil.JobWrapper { return manualJob().Completions(5) }
	indexed5 := func() *testutil.JobWrapper { return manualJob().Indexed().Completions(5) }
	withSP := func() *testutil.JobWrapper {
		return manualJob().RestartPolicy(corev1.RestartPolicyNever).Indexed().Completions(10).SuccessPolicy(testutil.SuccessRule("0-2", -1))
	}
	st := func(f func(*bj.BatchJobStatus)) bj.BatchJobStatus {
		var s bj.BatchJobStatus
		f(&s)
		return s
	}
	runUpstreamStatus(t, map[string]upstreamStatus{
		"invalid addition of both Failed=True and Complete=True": {spec: job(),
			new: bj.BatchJobStatus{StartTime: &now, CompletionTime: &now, Conditions: conds(C, F)}, want: "status.conditions"},
		"invalid addition of Complete=True without SuccessCriteriaMet=True": {spec: job(),
			new: bj.BatchJobStatus{StartTime: &now, CompletionTime: &now, Conditions: conds(C)}, want: "status.conditions"},
		"invalid addition of Failed=True without FailureTarget=True": {spec: job(),
			new: bj.BatchJobStatus{StartTime: &now, Conditions: conds(F)}, want: "status.conditions"},
		"completionTime can be removed to fix still running job": {spec: job(),
			old: bj.BatchJobStatus{StartTime: &now, CompletionTime: &now}, new: bj.BatchJobStatus{StartTime: &now}},
		"invalid attempt to transition to Failed=True without startTime": {spec: job(),
			old: bj.BatchJobStatus{Conditions: conds(FT)}, new: bj.BatchJobStatus{Conditions: conds(FT, F)}, want: "status.startTime"},
		"invalid attempt to transition to Complete=True without startTime": {spec: job(),
			old: bj.BatchJobStatus{Conditions: conds(SCM)}, new: bj.BatchJobStatus{CompletionTime: &now, Conditions: conds(SCM, C)}, want: "status.startTime"},
		"invalid attempt to transition to Complete=True with active > 0": {spec: job(),
			old: bj.BatchJobStatus{StartTime: &now, Active: 1, Conditions: conds(SCM)},
			new: bj.BatchJobStatus{StartTime: &now, CompletionTime: &now, Active: 1, Conditions: conds(SCM, C)}, want: "status.active"},
		"invalid attempt to transition to Failed=True with terminating > 0": {spec: job(),
			old: bj.BatchJobStatus{StartTime: &now, Terminating: ptr.To[int32](1), Conditions: conds(FT)},
			new: bj.BatchJobStatus{StartTime: &now, Terminating: ptr.To[int32](1), Conditions: conds(FT, F)}, want: "status.terminating"},
		"invalid attempt to transition to Failed=True with active > 0": {spec: job(),
			old: bj.BatchJobStatus{StartTime: &now, Active: 1, Conditions: conds(FT)},
			new: bj.BatchJobStatus{StartTime: &now, Active: 1, Conditions: conds(FT, F)}, want: "status.active"},
		"invalid attempt to transition to Failed=True with uncountedTerminatedPods.Failed>0": {spec: job(),
			old: st(func(s *bj.BatchJobStatus) {
				*s = uncounted(nil, []types.UID{"a"})
				s.StartTime, s.Conditions = &now, conds(FT)
			}),
			new: st(func(s *bj.BatchJobStatus) {
				*s = uncounted(nil, []types.UID{"a"})
				s.StartTime, s.Conditions = &now, conds(FT, F)
			}),
			want: "status.uncountedTerminatedPods"},
		"invalid attempt to update uncountedTerminatedPods.Succeeded for Complete job": {spec: job(),
			old: st(func(s *bj.BatchJobStatus) {
				*s = uncounted(nil, []types.UID{"a"})
				s.StartTime, s.CompletionTime, s.Conditions = &now, &now, conds(C)
			}),
			new: st(func(s *bj.BatchJobStatus) {
				*s = uncounted(nil, []types.UID{"b"})
				s.StartTime, s.CompletionTime, s.Conditions = &now, &now, conds(C)
			}),
			want: "status.uncountedTerminatedPods"},
		"non-empty uncountedTerminatedPods for complete job, unrelated update": {spec: job(),
			old: st(func(s *bj.BatchJobStatus) {
				*s = uncounted(nil, []types.UID{"a"})
				s.StartTime, s.CompletionTime, s.Conditions = &now, &now, conds(C)
			}),
			new: st(func(s *bj.BatchJobStatus) {
				*s = uncounted(nil, []types.UID{"a"})
				s.StartTime, s.CompletionTime, s.Conditions = &now, &now, conds(C, "CustomJobCondition")
			})},
		"invalid attempt to transition to Complete=True with uncountedTerminatedPods.Succeeded>0": {spec: job(),
			old: st(func(s *bj.BatchJobStatus) {
				*s = uncounted([]types.UID{"a"}, nil)
				s.StartTime, s.Conditions = &now, conds(SCM)
			}),
			new: st(func(s *bj.BatchJobStatus) {
				*s = uncounted([]types.UID{"a"}, nil)
				s.StartTime, s.CompletionTime, s.Conditions = &now, &now, conds(SCM, C)
			}),
			want: "status.uncountedTerminatedPods"},
		"invalid addition Complete=True without setting CompletionTime": {spec: job(),
			old: bj.BatchJobStatus{StartTime: &now, Conditions: conds(SCM)}, new: bj.BatchJobStatus{StartTime: &now, Conditions: conds(SCM, C)}, want: "status.completionTime"},
		"invalid attempt to remove completionTime": {spec: job(),
			old: bj.BatchJobStatus{CompletionTime: &now, Conditions: conds(C)}, new: bj.BatchJobStatus{StartTime: &now, Conditions: conds(C)}, want: "status.completionTime"},
		"verify startTime can be cleared for suspended job": {spec: job().Suspend(true),
			old: bj.BatchJobStatus{StartTime: &now}, new: bj.BatchJobStatus{}},
		"verify startTime cannot be removed for unsuspended job": {spec: job(),
			old: bj.BatchJobStatus{StartTime: &now}, new: bj.BatchJobStatus{}, want: "status.startTime"},
		"verify startTime cannot be updated for unsuspended job": {spec: job(),
			old: bj.BatchJobStatus{StartTime: &now}, new: bj.BatchJobStatus{StartTime: &plus}, want: "status.startTime"},
		"verify startTime can be updated when resuming job (JobSuspended: True -> False)": {spec: job(),
			old: bj.BatchJobStatus{StartTime: &now, Conditions: conds(S)},
			new: bj.BatchJobStatus{StartTime: &plus, Conditions: []bj.JobCondition{cond(S, corev1.ConditionFalse)}}},
		"invalid attempt to set completionTime before startTime": {spec: job(),
			old: bj.BatchJobStatus{StartTime: &plus, Conditions: conds(SCM)}, new: bj.BatchJobStatus{StartTime: &plus, CompletionTime: &now, Conditions: conds(SCM, C)},
			want: "status.completionTime"},
		"invalid attempt to modify completionTime": {spec: job(),
			old: bj.BatchJobStatus{CompletionTime: &now, Conditions: conds(C)}, new: bj.BatchJobStatus{CompletionTime: &plus, StartTime: &now, Conditions: conds(C)},
			want: "status.completionTime"},
		"invalid removal of terminal condition Failed=True":        {spec: job(), old: bj.BatchJobStatus{Conditions: conds(F)}, want: "status.conditions"},
		"invalid removal of terminal condition Complete=True":      {spec: job(), old: bj.BatchJobStatus{Conditions: conds(C)}, want: "status.conditions"},
		"invalid removal of terminal condition FailureTarget=True": {spec: job(), old: bj.BatchJobStatus{Conditions: conds(FT)}, want: "status.conditions"},
		"invalid addition of FailureTarget=True when Complete=True": {spec: job(),
			old:  bj.BatchJobStatus{StartTime: &now, CompletionTime: &now, Conditions: conds(C)},
			new:  bj.BatchJobStatus{StartTime: &now, CompletionTime: &now, Conditions: conds(C, FT)},
			want: "status.conditions"},
		"invalid attempt setting of CompletionTime when there is no Complete condition": {spec: job(),
			new: bj.BatchJobStatus{CompletionTime: &now}, want: "status.completionTime"},
		"invalid CompletionTime when there is no Complete condition, but allowed": {spec: job(),
			old: bj.BatchJobStatus{CompletionTime: &now}, new: bj.BatchJobStatus{CompletionTime: &now, Active: 1}},
		"invalid attempt setting CompletedIndexes when non-indexed completion mode is used": {spec: nonIndexed5(),
			new: bj.BatchJobStatus{StartTime: &now, CompletedIndexes: "0"}, want: "status.completedIndexes"},
		"invalid because CompletedIndexes set when non-indexed completion mode is used; but allowed": {spec: nonIndexed5(),
			old: bj.BatchJobStatus{CompletedIndexes: "0"}, new: bj.BatchJobStatus{CompletedIndexes: "0", Active: 1}},
		"invalid attempt setting FailedIndexes when not backoffLimitPerIndex": {spec: indexed5(),
			new: bj.BatchJobStatus{FailedIndexes: ptr.To("0")}, want: "status.failedIndexes"},
		"invalid attempt to decrease the failed counter": {spec: nonIndexed5(),
			old: bj.BatchJobStatus{Failed: 3}, new: bj.BatchJobStatus{Failed: 1}, want: "status.failed"},
		"invalid attempt to decrease the succeeded counter": {spec: nonIndexed5(),
			old: bj.BatchJobStatus{Succeeded: 3}, new: bj.BatchJobStatus{Succeeded: 1}, want: "status.succeeded"},
		"invalid attempt to set bad format for CompletedIndexes": {spec: indexed5(),
			new: bj.BatchJobStatus{CompletedIndexes: "invalid format"}, want: "status.completedIndexes"},
		"invalid format for CompletedIndexes, but allowed": {spec: indexed5(),
			old: bj.BatchJobStatus{CompletedIndexes: "invalid format"}, new: bj.BatchJobStatus{CompletedIndexes: "invalid format", Active: 1}},
		"invalid attempt to set bad format for FailedIndexes": {spec: indexed5().BackoffLimitPerIndex(1),
			new: bj.BatchJobStatus{FailedIndexes: ptr.To("invalid format")}, want: "status.failedIndexes"},
		"invalid format for FailedIndexes, but allowed": {spec: indexed5().BackoffLimitPerIndex(1),
			old: bj.BatchJobStatus{FailedIndexes: ptr.To("invalid format")}, new: bj.BatchJobStatus{FailedIndexes: ptr.To("invalid format"), Active: 1}},
		"more ready pods than active, but allowed": {spec: nonIndexed5(),
			old: bj.BatchJobStatus{Active: 1, Ready: ptr.To[int32](2)}, new: bj.BatchJobStatus{Active: 1, Ready: ptr.To[int32](2), Succeeded: 1}},
		"invalid addition of both FailureTarget=True and Complete=True": {spec: job(),
			new: bj.BatchJobStatus{StartTime: &now, CompletionTime: &now, Conditions: conds(C, FT)}, want: "status.conditions"},
		"invalid failedIndexes, which overlap with completedIndexes": {spec: indexed5(),
			old:  bj.BatchJobStatus{FailedIndexes: ptr.To("0,2"), CompletedIndexes: "3-4"},
			new:  bj.BatchJobStatus{FailedIndexes: ptr.To("0,2"), CompletedIndexes: "2-4"},
			want: "status.failedIndexes"},
		"failedIndexes overlap with completedIndexes, unrelated field change": {spec: indexed5(),
			old: bj.BatchJobStatus{FailedIndexes: ptr.To("0,2"), CompletedIndexes: "2-4"},
			new: bj.BatchJobStatus{FailedIndexes: ptr.To("0,2"), CompletedIndexes: "2-4", Active: 1}},
		"invalid addition of SuccessCriteriaMet for Job with Failed": {spec: withSP(),
			old: bj.BatchJobStatus{Conditions: conds(F)}, new: bj.BatchJobStatus{Conditions: conds(F, SCM)}, want: "status.conditions"},
		"invalid addition of Failed for Job with SuccessCriteriaMet": {spec: withSP(),
			old: bj.BatchJobStatus{Conditions: conds(SCM)}, new: bj.BatchJobStatus{Conditions: conds(SCM, F)}, want: "status.conditions"},
		"invalid addition of SuccessCriteriaMet for Job with FailureTarget": {spec: withSP(),
			old: bj.BatchJobStatus{Conditions: conds(FT)}, new: bj.BatchJobStatus{Conditions: conds(FT, SCM)}, want: "status.conditions"},
		"invalid addition of FailureTarget for Job with SuccessCriteriaMet": {spec: withSP(),
			old: bj.BatchJobStatus{Conditions: conds(SCM)}, new: bj.BatchJobStatus{Conditions: conds(SCM, FT)}, want: "status.conditions"},
		"invalid addition of SuccessCriteriaMet for Job with Complete": {spec: withSP(),
			old: bj.BatchJobStatus{Conditions: conds(C)}, new: bj.BatchJobStatus{Conditions: conds(C, SCM)}, want: "status.conditions"},
		"valid addition of Complete for Job with SuccessCriteriaMet": {spec: withSP(),
			old: bj.BatchJobStatus{StartTime: &now, Conditions: conds(SCM)}, new: bj.BatchJobStatus{StartTime: &now, CompletionTime: &now, Conditions: conds(SCM, C)}},
		"invalid addition of Complete for Job with SuccessPolicy unless SuccessCriteriaMet": {spec: withSP(),
			new: bj.BatchJobStatus{Conditions: conds(C)}, want: "status.conditions"},
		"invalid disabling of SuccessCriteriaMet for Job": {spec: withSP(),
			old: bj.BatchJobStatus{Conditions: conds(SCM)}, new: bj.BatchJobStatus{Conditions: []bj.JobCondition{cond(C, corev1.ConditionFalse)}}, want: "status.conditions"},
		"invalid removing of SuccessCriteriaMet for Job": {spec: withSP(),
			old: bj.BatchJobStatus{Conditions: conds(SCM)}, want: "status.conditions"},
		"valid addition of SuccessCriteriaMet when JobManagedBy is enabled": {spec: job(), new: bj.BatchJobStatus{Conditions: conds(SCM)}},
		"valid addition of SuccessCriteriaMet":                              {spec: job(), new: bj.BatchJobStatus{Conditions: conds(SCM)}},
		"invalid attempt to set more ready pods than active": {spec: nonIndexed5(),
			new: bj.BatchJobStatus{Active: 1, Ready: ptr.To[int32](2)}, want: "status.ready"},
		"valid transition to Complete for suspended Job with completions=0; without startTime": {spec: job().Completions(0).Suspend(true),
			new: bj.BatchJobStatus{CompletionTime: &now, Conditions: conds(SCM, C)}},
	})
}
