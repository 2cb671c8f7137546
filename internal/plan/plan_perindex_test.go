package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

func TestPlanBackoffLimitPerIndex(t *testing.T) {
	started := ago(time.Minute)
	base := func() *jobW { return job("pi", "ns").Indexed().Completions(3).Parallelism(3).BackoffLimitPerIndex(1) }
	runPlanCases(t, map[string]planCase{
		"first failure: finalizer kept until replaced, replacement waits for the index backoff": {
			job:  base().Status(status().Active(3).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(failedAt("f0", 5*time.Second).Index(0).FailureCount(0, 0), running("r1").Index(1), running("r2").Index(2)),
			want: outcome{Status: status().Active(2).FailedIndexes("").StartTime(started).Obj(), StatusChanged: true,
				RequeueAfter: 5 * time.Second},
		},
		"index backoff expired: replacement carries the failure count": {
			job:  base().Status(status().Active(2).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(failedAt("f0", 20*time.Second).Index(0).FailureCount(0, 0), running("r1").Index(1), running("r2").Index(2)),
			want: outcome{Status: status().Active(3).FailedIndexes("").StartTime(started).Obj(), StatusChanged: true,
				Created: []string{"pi-0- fc=1/"}, CreateReason: "recreate_terminating_or_failed"},
		},
		"replacement exists: the failed pod is counted": {
			job: base().Status(status().Active(3).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(failedAt("f0", 20*time.Second).Index(0).FailureCount(0, 0), running("r0").Index(0).FailureCount(1, 0),
				running("r1").Index(1), running("r2").Index(2)),
			want: outcome{Status: status().Active(3).FailedIndexes("").StartTime(started).UncountedFailed("f0").Obj(), StatusChanged: true,
				RemoveFinalizers: []string{"f0"}},
		},
		"index fails once its backoff is used up": {
			job:  base().Status(status().Active(3).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(failedAt("f0", 20*time.Second).Index(0).FailureCount(1, 0), running("r1").Index(1), running("r2").Index(2)),
			want: outcome{Status: status().Active(2).FailedIndexes("0").StartTime(started).UncountedFailed("f0").Obj(), StatusChanged: true,
				RemoveFinalizers: []string{"f0"}},
		},
		"maxFailedIndexes exceeded": {
			job:  base().MaxFailedIndexes(0).Status(status().Active(3).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(running("r2").Index(2), failedAt("f0", 20*time.Second).Index(0).FailureCount(1, 0), running("r1").Index(1)),
			want: outcome{Status: status().Terminating(2).FailedIndexes("0").StartTime(started).UncountedFailed("f0", "r1", "r2").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "MaxFailedIndexesExceeded", v1alpha1.MessageMaxFailedIndexesExceeded, now).Obj(),
				StatusChanged: true, Deleted: []string{"r2", "r1"}, RemoveFinalizers: []string{"f0", "r1", "r2"}},
		},
		"every index finished with a failed one: FailedIndexes": {
			job:  job("pi", "ns").Indexed().Completions(2).Parallelism(2).BackoffLimitPerIndex(0).Status(status().Active(2).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(failedAt("f0", 20*time.Second).Index(0), succeeded("s1").Index(1)),
			want: outcome{Status: status().Succeeded(1).CompletedIndexes("1").FailedIndexes("0").StartTime(started).UncountedFailed("f0").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "FailedIndexes", v1alpha1.MessageFailedIndexes, now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"f0", "s1"}, PodsFinishedSucceeded: 1,
				AfterRelease: &outcome{Status: status().Succeeded(1).Failed(1).CompletedIndexes("1").FailedIndexes("0").StartTime(started).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "FailedIndexes", v1alpha1.MessageFailedIndexes, now).
					Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "FailedIndexes", v1alpha1.MessageFailedIndexes, now).Obj(),
					StatusChanged: true, Events: []Event{{Type: corev1.EventTypeWarning, Reason: "FailedIndexes", Message: v1alpha1.MessageFailedIndexes}},
					Finished: &Finish{Reason: "FailedIndexes"}, PodsFinishedFailed: 1}},
		},
		"FailIndex rule fails the index at once; Ignore bumps the ignored count": {
			job: base().PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionFailIndex, 7), exitCodeRule(v1alpha1.PodFailurePolicyActionIgnore, 3)).
				Status(status().Active(3).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(failedAt("f0", 20*time.Second).Index(0).Exited("main", 7, ago(20*time.Second)),
				failedAt("f1", 20*time.Second).Index(1).FailureCount(0, 1).Exited("main", 3, ago(20*time.Second)), running("r2").Index(2)),
			want: outcome{Status: status().Active(2).FailedIndexes("0").StartTime(started).UncountedFailed("f0").Obj(), StatusChanged: true,
				Created: []string{"pi-1- fc=0/2"}, CreateReason: "recreate_failed",
				RemoveFinalizers: []string{"f0"}, FailurePolicyActions: map[v1alpha1.PodFailurePolicyAction]int32{v1alpha1.PodFailurePolicyActionFailIndex: 1}},
		},
		"global backoffLimit still applies": {
			job:  base().BackoffLimit(0).Status(status().Active(3).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(failedAt("f0", 20*time.Second).Index(0), running("r1").Index(1)),
			want: outcome{Status: status().Terminating(1).FailedIndexes("").StartTime(started).UncountedFailed("f0", "r1").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded",
					v1alpha1.MessageBackoffLimitExceeded+": last failed pod f0, container main exited with code 1", now).Obj(),
				StatusChanged: true, Deleted: []string{"r1"}, RemoveFinalizers: []string{"f0", "r1"}},
		},
	})
}

func TestPlanSuccessPolicy(t *testing.T) {
	started := ago(time.Minute)
	rule := v1alpha1.SuccessPolicyRule{SucceededIndexes: ptr.To("0")}
	runPlanCases(t, map[string]planCase{
		"success policy met: other pods terminated, not counted": {
			job:  job("pi", "ns").Indexed().Completions(5).Parallelism(2).SuccessPolicy(rule).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("s0").Index(0), running("r1").Index(1)),
			want: outcome{Status: status().Terminating(1).Succeeded(1).CompletedIndexes("0").StartTime(started).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "SuccessPolicy", "Matched rules at index 0", now).Obj(),
				StatusChanged: true, Deleted: []string{"r1"}, RemoveFinalizers: []string{"s0", "r1"}, PodsFinishedSucceeded: 1},
		},
		"success policy: Complete once the pods are gone": {
			job: job("pi", "ns").Indexed().Completions(5).Parallelism(2).SuccessPolicy(rule).
				Status(status().Terminating(1).Succeeded(1).CompletedIndexes("0").StartTime(started).
					Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "SuccessPolicy", "Matched rules at index 0", ago(time.Second)).Obj()).Obj(),
			pods: pods(succeeded("s0").Index(0).NoFinalizer()),
			want: outcome{Status: status().Succeeded(1).CompletedIndexes("0").StartTime(started).CompletionTime(now).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "SuccessPolicy", "Matched rules at index 0", ago(time.Second)).
				Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "SuccessPolicy", "Matched rules at index 0", now).Obj(),
				StatusChanged: true, Finished: &Finish{Succeeded: true, Reason: "SuccessPolicy"}, Events: []Event{completedEvent()}},
		},
		"failed index beats a satisfied success policy": {
			job: job("pi", "ns").Indexed().Completions(2).Parallelism(2).BackoffLimitPerIndex(0).SuccessPolicy(rule).
				Status(status().Active(2).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("s0").Index(0), failedAt("f1", time.Minute).Index(1)),
			want: outcome{Status: status().Succeeded(1).CompletedIndexes("0").FailedIndexes("1").StartTime(started).UncountedFailed("f1").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "FailedIndexes", v1alpha1.MessageFailedIndexes, now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"s0", "f1"}, PodsFinishedSucceeded: 1,
				AfterRelease: &outcome{Status: status().Succeeded(1).Failed(1).CompletedIndexes("0").FailedIndexes("1").StartTime(started).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "FailedIndexes", v1alpha1.MessageFailedIndexes, now).
					Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "FailedIndexes", v1alpha1.MessageFailedIndexes, now).Obj(),
					StatusChanged: true, Events: []Event{{Type: corev1.EventTypeWarning, Reason: "FailedIndexes", Message: v1alpha1.MessageFailedIndexes}},
					Finished: &Finish{Reason: "FailedIndexes"}, PodsFinishedFailed: 1}},
		},
	})
}

func TestPlanFinishedAndTTL(t *testing.T) {
	done := func(ttl *int32, at time.Time) *jobW {
		j := job("pi", "ns").Status(status().Succeeded(1).StartTime(ago(time.Hour)).CompletionTime(at).
			Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", at).
			Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", at).Obj())
		if ttl != nil {
			j.TTLSecondsAfterFinished(*ttl)
		}
		return j
	}
	doneStatus := func(at time.Time) outcome {
		return outcome{Status: status().Succeeded(1).StartTime(ago(time.Hour)).CompletionTime(at).
			Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", at).
			Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", at).Obj()}
	}
	withTTL := func(o outcome, requeue time.Duration, expired bool, remove ...string) outcome {
		o.RequeueAfter, o.TTLExpired, o.RemoveFinalizers = requeue, expired, remove
		return o
	}
	runPlanCases(t, map[string]planCase{
		"finished job: stray finalizers released, nothing else": {
			job:     done(nil, ago(time.Minute)).Obj(),
			pods:    pods(running("late"), succeeded("s").NoFinalizer(), succeeded("inflight")),
			pending: uids("inflight"),
			want:    withTTL(doneStatus(ago(time.Minute)), 0, false, "late"),
		},
		"TTL not yet expired": {
			job:  done(ptr.To[int32](60), ago(20*time.Second)).Obj(),
			want: withTTL(doneStatus(ago(20*time.Second)), 40*time.Second, false),
		},
		"TTL expired": {
			job:  done(ptr.To[int32](60), ago(time.Minute)).Obj(),
			want: withTTL(doneStatus(ago(time.Minute)), 0, true),
		},
		"TTL 0": {
			job:  done(ptr.To[int32](0), ago(time.Second)).Obj(),
			want: withTTL(doneStatus(ago(time.Second)), 0, true),
		},
		"finishing pass with TTL schedules a look": {
			job: job("pi", "ns").Completions(0).TTLSecondsAfterFinished(30).Obj(),
			want: outcome{Status: status().StartTime(now).CompletionTime(now).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).
				Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
				StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"},
				RequeueAfter: 30 * time.Second},
		},
	})
}

func TestTTLExpireAt(t *testing.T) {
	finishedAt := ago(time.Minute)
	type want struct {
		At time.Time
		OK bool
	}
	cases := map[string]struct {
		job  *v1alpha1.BatchJob
		want want
	}{
		"no ttl": {job: job("pi", "ns").Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "", "", finishedAt).Obj()},
		"not finished": {job: job("pi", "ns").TTLSecondsAfterFinished(5).
			Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "", "", finishedAt).Obj()},
		"complete": {job: job("pi", "ns").TTLSecondsAfterFinished(5).Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "", "", finishedAt).Obj(),
			want: want{finishedAt.Add(5 * time.Second), true}},
		"first true terminal condition counts": {job: job("pi", "ns").TTLSecondsAfterFinished(5).
			Condition(v1alpha1.JobComplete, corev1.ConditionFalse, "", "", ago(time.Hour)).
			Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "", "", finishedAt).
			Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "", "", now).Obj(),
			want: want{finishedAt.Add(5 * time.Second), true}},
		"being deleted": {job: job("pi", "ns").TTLSecondsAfterFinished(5).DeletionTimestamp(now).
			Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "", "", finishedAt).Obj()},
		"zero transition time": {job: job("pi", "ns").TTLSecondsAfterFinished(5).
			Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "", "", time.Time{}).Obj()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			at, ok := TTLExpireAt(tc.job)
			if !at.Equal(tc.want.At) || ok != tc.want.OK {
				t.Errorf("TTLExpireAt = %v, %v; want %v, %v", at, ok, tc.want.At, tc.want.OK)
			}
		})
	}
}

// failedAt is a failed pod whose containers finished d ago.
func failedAt(name string, d time.Duration) *podW {
	return pod(name).Phase(corev1.PodFailed).Exited("main", 1, ago(d))
}
