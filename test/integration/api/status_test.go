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

func cond(t bj.JobConditionType, s corev1.ConditionStatus) bj.JobCondition {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	return bj.JobCondition{Type: t, Status: s, LastProbeTime: now, LastTransitionTime: now}
}

func addCond(t bj.JobConditionType, s corev1.ConditionStatus) func(*bj.BatchJobStatus) {
	return func(st *bj.BatchJobStatus) { st.Conditions = append(st.Conditions, cond(t, s)) }
}

func TestStatusUpdates(t *testing.T) {
	start := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	later := metav1.NewTime(start.Add(10 * time.Minute))
	earlier := metav1.NewTime(start.Add(-10 * time.Minute))
	T := corev1.ConditionTrue
	running := func(s *bj.BatchJobStatus) {
		s.StartTime = &start
		s.Active = 2
		s.Ready = ptr.To[int32](1)
		s.Terminating = ptr.To[int32](0)
	}
	cases := map[string]struct {
		job   *testutil.JobWrapper
		steps []step
	}{
		"success path": {testutil.MakeBareBatchJob("s", ns).Completions(3), []step{
			{name: "start", status: running},
			{name: "negative active", status: func(s *bj.BatchJobStatus) { s.Active = -1 }, want: "status.active"},
			{name: "ready above active", status: func(s *bj.BatchJobStatus) { s.Ready = ptr.To[int32](3) }, want: "status.ready: Invalid value"},
			{name: "negative terminating", status: func(s *bj.BatchJobStatus) { s.Terminating = ptr.To[int32](-1) }, want: "status.terminating"},
			{name: "startTime is immutable while running", status: func(s *bj.BatchJobStatus) { s.StartTime = &later }, want: "status.startTime: Invalid value: field is immutable for unsuspended job"},
			{name: "completionTime without Complete", status: func(s *bj.BatchJobStatus) { s.CompletionTime = &later }, want: "status.completionTime"},
			{name: "Complete without SuccessCriteriaMet", status: func(s *bj.BatchJobStatus) {
				s.Active, s.Ready, s.CompletionTime = 0, ptr.To[int32](0), &later
				addCond(bj.JobComplete, T)(s)
			}, want: "without the SuccessCriteriaMet=True condition"},
			{name: "progress", status: func(s *bj.BatchJobStatus) { s.Succeeded, s.Failed = 2, 1 }},
			{name: "failed never decreases", status: func(s *bj.BatchJobStatus) { s.Failed = 0 }, want: "status.failed: Invalid value"},
			{name: "succeeded never decreases", status: func(s *bj.BatchJobStatus) { s.Succeeded = 1 }, want: "status.succeeded: Invalid value"},
			{name: "completedIndexes on a NonIndexed job", status: func(s *bj.BatchJobStatus) { s.CompletedIndexes = "0" }, want: "status.completedIndexes"},
			{name: "failedIndexes without backoffLimitPerIndex", status: func(s *bj.BatchJobStatus) { s.FailedIndexes = ptr.To("") }, want: "status.failedIndexes"},
			{name: "SuccessCriteriaMet", status: func(s *bj.BatchJobStatus) { s.Succeeded = 3; addCond(bj.JobSuccessCriteriaMet, T)(s) }},
			{name: "FailureTarget with SuccessCriteriaMet", status: addCond(bj.JobFailureTarget, T), want: "cannot set SuccessCriteriaMet=True and FailureTarget=True"},
			{name: "SuccessCriteriaMet cannot be removed", status: func(s *bj.BatchJobStatus) { s.Conditions = nil }, want: "status.conditions"},
			{name: "Complete with active pods", status: func(s *bj.BatchJobStatus) { s.CompletionTime = &later; addCond(bj.JobComplete, T)(s) }, want: "status.active: Invalid value"},
			{name: "Complete without completionTime", status: func(s *bj.BatchJobStatus) { s.Active, s.Ready = 0, ptr.To[int32](0); addCond(bj.JobComplete, T)(s) }, want: "status.completionTime: Required value"},
			{name: "completionTime before startTime", status: func(s *bj.BatchJobStatus) {
				s.Active, s.Ready, s.CompletionTime = 0, ptr.To[int32](0), &earlier
				addCond(bj.JobComplete, T)(s)
			}, want: "must be equal to or after `startTime`"},
			{name: "Complete with uncounted pods", status: func(s *bj.BatchJobStatus) {
				s.Active, s.Ready, s.CompletionTime = 0, ptr.To[int32](0), &later
				s.UncountedTerminatedPods = &bj.UncountedTerminatedPods{Succeeded: []types.UID{"a"}}
				addCond(bj.JobComplete, T)(s)
			}, want: "status.uncountedTerminatedPods"},
			{name: "Complete", status: func(s *bj.BatchJobStatus) {
				s.Active, s.Ready, s.CompletionTime = 0, ptr.To[int32](0), &later
				addCond(bj.JobComplete, T)(s)
			}},
			{name: "Failed with Complete", status: func(s *bj.BatchJobStatus) { addCond(bj.JobFailureTarget, T)(s); addCond(bj.JobFailed, T)(s) }, want: "status.conditions"},
			{name: "completionTime is immutable", status: func(s *bj.BatchJobStatus) { s.CompletionTime = &metav1.Time{Time: later.Add(time.Minute)} }, want: "status.completionTime: Invalid value"},
			{name: "Complete cannot be removed", status: func(s *bj.BatchJobStatus) { s.Conditions = s.Conditions[:1] }, want: "cannot disable a terminal"},
		}},
		"failure path": {testutil.MakeBareBatchJob("s", ns).Completions(3), []step{
			{name: "start", status: running},
			{name: "Failed without FailureTarget", status: func(s *bj.BatchJobStatus) { s.Active, s.Ready = 0, ptr.To[int32](0); addCond(bj.JobFailed, T)(s) }, want: "without the FailureTarget=True condition"},
			{name: "FailureTarget", status: addCond(bj.JobFailureTarget, T)},
			{name: "FailureTarget cannot be removed", status: func(s *bj.BatchJobStatus) { s.Conditions = nil }, want: "cannot disable a terminal"},
			{name: "Failed with terminating pods", status: func(s *bj.BatchJobStatus) {
				s.Active, s.Ready, s.Terminating = 0, ptr.To[int32](0), ptr.To[int32](1)
				addCond(bj.JobFailed, T)(s)
			}, want: "status.terminating: Invalid value"},
			{name: "Failed", status: func(s *bj.BatchJobStatus) {
				s.Active, s.Ready, s.Terminating = 0, ptr.To[int32](0), ptr.To[int32](0)
				addCond(bj.JobFailed, T)(s)
			}},
		}},
		"indexed": {testutil.MakeBareBatchJob("s", ns).Indexed().Completions(6).Parallelism(2).BackoffLimitPerIndex(1), []step{
			{name: "start", status: running},
			{name: "indexes", status: func(s *bj.BatchJobStatus) { s.CompletedIndexes, s.FailedIndexes, s.Succeeded = "0,2-4", ptr.To("1"), 4 }},
			{name: "completedIndexes format", status: func(s *bj.BatchJobStatus) { s.CompletedIndexes = "0,a" }, want: "status.completedIndexes"},
			{name: "completedIndexes beyond completions", status: func(s *bj.BatchJobStatus) { s.CompletedIndexes = "0,2-4,6" }, want: "error parsing completedIndexes"},
			{name: "completedIndexes not increasing", status: func(s *bj.BatchJobStatus) { s.CompletedIndexes = "2-4,3" }, want: "error parsing completedIndexes"},
			{name: "failedIndexes X-X", status: func(s *bj.BatchJobStatus) { s.FailedIndexes = ptr.To("1-1") }, want: "error parsing failedIndexes"},
			{name: "succeeded decreases on scale down", status: func(s *bj.BatchJobStatus) { s.Succeeded = 3 }, want: "status.succeeded"},
		}},
		"resume": {testutil.MakeBareBatchJob("s", ns).Suspend(true), []step{
			{name: "Suspended", status: addCond(bj.JobSuspended, T)},
			{name: "startTime while suspended", status: func(s *bj.BatchJobStatus) { s.StartTime = &start }},
			{name: "startTime may change while suspended", status: func(s *bj.BatchJobStatus) { s.StartTime = &earlier }},
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := tc.job.Obj()
			job.Name = uniqueName("status")
			runSteps(t, job, tc.steps)
		})
	}
}
