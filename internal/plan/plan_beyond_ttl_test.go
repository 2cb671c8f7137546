package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestTTLSecondsAfterFailure: ttlSecondsAfterFailure overrides ttlSecondsAfterFinished for
// Failed jobs only, in TTLExpireAt (which the controller also uses for jobs managed
// elsewhere) and in the finishing pass's timer.
func TestTTLSecondsAfterFailure(t *testing.T) {
	finishedAt := ago(time.Minute)
	failedJob := func() *jobW {
		return job("pi", "ns").Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "BackoffLimitExceeded", "", finishedAt)
	}
	completeJob := func() *jobW {
		return job("pi", "ns").Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "", finishedAt)
	}
	type want struct {
		At time.Time
		OK bool
	}
	cases := map[string]struct {
		job  *v1alpha1.BatchJob
		want want
	}{
		"failed: the failure TTL wins": {job: failedJob().TTLSecondsAfterFinished(5).TTLSecondsAfterFailure(3600).Obj(),
			want: want{finishedAt.Add(time.Hour), true}},
		"failed, only the failure TTL": {job: failedJob().TTLSecondsAfterFailure(0).Obj(),
			want: want{finishedAt, true}},
		"complete: the failure TTL does not apply": {job: completeJob().TTLSecondsAfterFinished(5).TTLSecondsAfterFailure(3600).Obj(),
			want: want{finishedAt.Add(5 * time.Second), true}},
		"complete, only the failure TTL: kept": {job: completeJob().TTLSecondsAfterFailure(3600).Obj()},
		"failed, no failure TTL: ttlSecondsAfterFinished": {job: failedJob().TTLSecondsAfterFinished(5).Obj(),
			want: want{finishedAt.Add(5 * time.Second), true}},
		"managed elsewhere: same rule": {job: failedJob().ManagedBy("example.com/other").TTLSecondsAfterFinished(5).TTLSecondsAfterFailure(60).Obj(),
			want: want{finishedAt.Add(time.Minute), true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			at, ok := TTLExpireAt(tc.job)
			if !at.Equal(tc.want.At) || ok != tc.want.OK {
				t.Errorf("TTLExpireAt = %v, %v; want %v, %v", at, ok, tc.want.At, tc.want.OK)
			}
		})
	}

	started := ago(time.Minute)
	msg := v1alpha1.MessageBackoffLimitExceeded + ": last failed pod f, container main exited with code 1"
	failedStatus := func(requeue time.Duration) outcome {
		return outcome{Status: status().Failed(1).StartTime(started).
			Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", msg, now).
			Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "BackoffLimitExceeded", msg, now).Obj(),
			StatusChanged: true, Finished: &Finish{Reason: "BackoffLimitExceeded"}, PodsFinishedFailed: 1,
			Events: []Event{{Type: corev1.EventTypeWarning, Reason: "BackoffLimitExceeded", Message: msg}}, RequeueAfter: requeue}
	}
	counted := func(w *jobW) *v1alpha1.BatchJob {
		return w.BackoffLimit(0).Status(status().StartTime(started).UncountedFailed("f").
			Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", msg, now).Obj()).Obj()
	}
	runPlanCases(t, map[string]planCase{
		"failing pass: the failure TTL's timer": {
			job:  counted(job("pi", "ns").TTLSecondsAfterFinished(5).TTLSecondsAfterFailure(3600)),
			pods: pods(failed("f").NoFinalizer()),
			want: failedStatus(time.Hour),
		},
		"failing pass without the failure TTL: ttlSecondsAfterFinished's": {
			job:  counted(job("pi", "ns").TTLSecondsAfterFinished(5)),
			pods: pods(failed("f").NoFinalizer()),
			want: failedStatus(5 * time.Second),
		},
	})
}
