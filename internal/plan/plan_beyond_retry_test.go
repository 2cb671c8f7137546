package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestPlanRetryDelays: spec.retryPolicy.initialDelaySeconds and maxDelaySeconds replace
// upstream's 10s doubling up to 10min, job-wide and per index, and nextPodCreationTime
// says when the next pod may be created while (and only while) creation waits for it.
func TestPlanRetryDelays(t *testing.T) {
	started := ago(time.Minute)
	oneFailure := func(ago_ time.Duration) *BackoffRecord {
		return &BackoffRecord{FailuresAfterLastSuccess: 1, LastFailureTime: ptrTime(ago(ago_))}
	}
	waiting := func(left time.Duration) v1alpha1.BatchJobStatus {
		return status().Failed(1).StartTime(started).State(v1alpha1.StateBackingOff).NextPodCreationTime(now.Add(left)).Obj()
	}
	runPlanCases(t, map[string]planCase{
		"initialDelaySeconds 30: the first failure waits 30s": {
			job:     job("pi", "ns").RetryDelays(30, -1).Status(status().Failed(1).StartTime(started).Obj()).Obj(),
			backoff: oneFailure(4 * time.Second), beyond: true,
			want: outcome{Status: waiting(26 * time.Second), StatusChanged: true, RequeueAfter: 26 * time.Second},
		},
		"already waiting: the same time, no write": {
			job:     job("pi", "ns").RetryDelays(30, -1).Status(waiting(26 * time.Second)).Obj(),
			backoff: oneFailure(4 * time.Second), beyond: true,
			want: outcome{Status: waiting(26 * time.Second), RequeueAfter: 26 * time.Second},
		},
		"initialDelaySeconds 0: re-created at once": {
			job:     job("pi", "ns").RetryDelays(0, -1).Status(status().Failed(1).StartTime(started).Obj()).Obj(),
			backoff: oneFailure(0), beyond: true,
			want: outcome{Status: status().Failed(1).Active(1).StartTime(started).State(v1alpha1.StatePending).Obj(),
				StatusChanged: true, Created: []string{"pi-"}, CreateReason: "recreate_terminating_or_failed"},
		},
		"maxDelaySeconds caps the doubling: 4 failures wait 15s, not 80s": {
			job:     job("pi", "ns").RetryDelays(10, 15).Status(status().Failed(4).StartTime(started).Obj()).Obj(),
			backoff: &BackoffRecord{FailuresAfterLastSuccess: 4, LastFailureTime: ptrTime(ago(4 * time.Second))}, beyond: true,
			want: outcome{Status: status().Failed(4).StartTime(started).State(v1alpha1.StateBackingOff).
				NextPodCreationTime(now.Add(11 * time.Second)).Obj(), StatusChanged: true, RequeueAfter: 11 * time.Second},
		},
		"maxDelaySeconds alone below 10 caps the first delay": {
			job:     job("pi", "ns").RetryDelays(-1, 3).Status(status().Failed(1).StartTime(started).Obj()).Obj(),
			backoff: oneFailure(4 * time.Second), beyond: true,
			want: outcome{Status: status().Failed(1).Active(1).StartTime(started).State(v1alpha1.StatePending).Obj(),
				StatusChanged: true, Created: []string{"pi-"}, CreateReason: "recreate_terminating_or_failed"},
		},
		"without retryPolicy: upstream's 10s": {
			job:     job("pi", "ns").Status(status().Failed(1).StartTime(started).Obj()).Obj(),
			backoff: oneFailure(4 * time.Second), beyond: true,
			want: outcome{Status: waiting(6 * time.Second), StatusChanged: true, RequeueAfter: 6 * time.Second},
		},
		"a wait ending within a second is shown rounded up to the second": {
			job:     job("pi", "ns").Status(status().Failed(1).StartTime(started).Obj()).Obj(),
			backoff: oneFailure(4500 * time.Millisecond), beyond: true,
			want: outcome{Status: waiting(6 * time.Second), StatusChanged: true, RequeueAfter: 5500 * time.Millisecond},
		},
		"backoff over: pod created, nextPodCreationTime cleared": {
			job:     job("pi", "ns").RetryDelays(30, -1).Status(waiting(time.Second)).Obj(),
			backoff: oneFailure(time.Minute), beyond: true,
			want: outcome{Status: status().Failed(1).Active(1).StartTime(started).State(v1alpha1.StatePending).Obj(),
				StatusChanged: true, Created: []string{"pi-"}, CreateReason: "recreate_terminating_or_failed"},
		},
		"expectations pending: what the last pass said stays": {
			job:     job("pi", "ns").RetryDelays(30, -1).Status(waiting(26 * time.Second)).Obj(),
			backoff: oneFailure(time.Minute), unsatisfied: true, beyond: true,
			want: outcome{Status: waiting(26 * time.Second)},
		},
		"suspended: waits for nothing": {
			job:     job("pi", "ns").Suspend(true).RetryDelays(30, -1).Status(waiting(26 * time.Second)).Obj(),
			backoff: oneFailure(4 * time.Second), beyond: true,
			want: outcome{Status: status().Failed(1).State(v1alpha1.StateSuspended).
				Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now).Obj(),
				StatusChanged: true, Events: []Event{{Type: corev1.EventTypeNormal, Reason: "Suspended", Message: "Job suspended"}}},
		},
		"per index: initialDelaySeconds 20, the index's second failure waits 40s": {
			job: job("pi", "ns").Indexed().Completions(1).Parallelism(1).BackoffLimitPerIndex(3).RetryDelays(20, -1).
				Status(status().StartTime(started).FailedIndexes("").Obj()).Obj(),
			pods:   pods(pod("f").Phase(corev1.PodFailed).Index(0).FailureCount(1, 0).Exited("main", 1, ago(5*time.Second))),
			beyond: true,
			want: outcome{Status: status().StartTime(started).FailedIndexes("").State(v1alpha1.StateBackingOff).
				NextPodCreationTime(now.Add(35 * time.Second)).Obj(), StatusChanged: true, RequeueAfter: 35 * time.Second},
		},
		"per index: initialDelaySeconds 0 replaces the index at once": {
			job: job("pi", "ns").Indexed().Completions(1).Parallelism(1).BackoffLimitPerIndex(3).RetryDelays(0, -1).
				Status(status().StartTime(started).FailedIndexes("").Obj()).Obj(),
			pods:   pods(pod("f").Phase(corev1.PodFailed).Index(0).FailureCount(1, 0).Exited("main", 1, ago(5*time.Second))),
			beyond: true,
			want: outcome{Status: status().Active(1).StartTime(started).FailedIndexes("").State(v1alpha1.StatePending).Obj(),
				// f keeps its finalizer until its replacement is seen (delayed removal).
				StatusChanged: true, Created: []string{"pi-0- fc=2/"}, CreateReason: "recreate_terminating_or_failed"},
		},
	})
}
