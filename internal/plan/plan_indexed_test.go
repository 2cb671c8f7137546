package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

func TestPlanIndexed(t *testing.T) {
	started := ago(time.Minute)
	backoffMsg := v1alpha1.MessageBackoffLimitExceeded + ": last failed pod f1, container main exited with code 1"
	runPlanCases(t, map[string]planCase{
		"indexed job start": {
			job: job("pi", "ns").Indexed().Completions(4).Parallelism(2).Obj(),
			want: outcome{Status: status().Active(2).StartTime(now).Obj(), StatusChanged: true,
				Created: []string{"pi-0-", "pi-1-"}, CreateReason: "new"},
		},
		"indexed job: podReplacementPolicy Failed holds the terminating index": {
			job: job("pi", "ns").Indexed().Completions(5).Parallelism(5).PodReplacementPolicy(v1alpha1.Failed).
				Status(status().Active(3).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Index(0), running("b").Index(1).Deleted(ago(time.Hour)), running("c").Index(2)),
			want: outcome{Status: status().Active(4).Terminating(1).StartTime(started).Obj(), StatusChanged: true,
				Created: []string{"pi-3-", "pi-4-"}, CreateReason: "recreate_terminating_or_failed"},
		},
		"indexed job: TerminatingOrFailed replaces the terminating index": {
			job: job("pi", "ns").Indexed().Completions(5).Parallelism(5).
				Status(status().Active(3).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Index(0), running("b").Index(1).Deleted(ago(time.Hour)), running("c").Index(2)),
			want: outcome{Status: status().Active(5).Terminating(1).StartTime(started).UncountedFailed("b").Obj(), StatusChanged: true,
				Created: []string{"pi-1-", "pi-3-", "pi-4-"}, CreateReason: "recreate_terminating_or_failed", RemoveFinalizers: []string{"b"}},
		},
		// Upstream's contract: a job seen Complete has no pod left with the tracking
		// finalizer. The pass that records the last indexes releases their finalizers; the
		// terminal condition waits for the pass that sees them gone.
		"indexed job: last indexes recorded, Complete once their finalizers are released": {
			job: job("pi", "ns").Indexed().Completions(3).Parallelism(3).Status(status().Active(3).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("c").Index(2), succeeded("a").Index(0), succeeded("b").Index(1),
				succeeded("b2").Index(1)),
			want: outcome{Status: status().Succeeded(3).CompletedIndexes("0-2").StartTime(started).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"a", "b", "b2", "c"}, PodsFinishedSucceeded: 3,
				AfterRelease: &outcome{Status: status().Succeeded(3).CompletedIndexes("0-2").StartTime(started).CompletionTime(now).
					Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).
					Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
					StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"}}},
		},
		"indexed job: last finalizer removal still in flight, not Complete yet": {
			job: job("pi", "ns").Indexed().Completions(3).Parallelism(3).Status(status().Succeeded(3).CompletedIndexes("0-2").StartTime(started).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj()).Obj(),
			pods:    pods(succeeded("c").Index(2), succeeded("a").Index(0).NoFinalizer(), succeeded("b").Index(1).NoFinalizer()),
			pending: uids("c"),
			want: outcome{Status: status().Succeeded(3).CompletedIndexes("0-2").StartTime(started).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj()},
		},
		"indexed job: every finalizer gone, Complete": {
			job: job("pi", "ns").Indexed().Completions(3).Parallelism(3).Status(status().Succeeded(3).CompletedIndexes("0-2").StartTime(started).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj()).Obj(),
			pods: pods(succeeded("c").Index(2).NoFinalizer(), succeeded("a").Index(0).NoFinalizer(), succeeded("b").Index(1).NoFinalizer()),
			want: outcome{Status: status().Succeeded(3).CompletedIndexes("0-2").StartTime(started).CompletionTime(now).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).
				Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
				StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"}},
		},
		"indexed job failed: running pods killed and counted": {
			job: job("pi", "ns").Indexed().Completions(3).Parallelism(3).BackoffLimit(0).
				Status(status().Active(3).StartTime(started).Obj()).Obj(),
			pods: pods(running("r2").Index(2), failed("f1").Index(1), succeeded("s0").Index(0)),
			want: outcome{Status: status().Terminating(1).Succeeded(1).CompletedIndexes("0").StartTime(started).UncountedFailed("f1", "r2").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg, now).Obj(),
				StatusChanged: true, Deleted: []string{"r2"}, RemoveFinalizers: []string{"s0", "f1", "r2"}, PodsFinishedSucceeded: 1},
		},
		"indexed job: repeated completed index counted once": {
			job: job("pi", "ns").Indexed().Completions(3).Parallelism(2).
				Status(status().Active(1).Succeeded(1).CompletedIndexes("0").StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("a").Index(0), running("b").Index(1)),
			want: outcome{Status: status().Active(2).Succeeded(1).CompletedIndexes("0").StartTime(started).Obj(), StatusChanged: true,
				Created: []string{"pi-2-"}, CreateReason: "new", RemoveFinalizers: []string{"a"}},
		},
		"indexed job: failed pods recreated with their index": {
			job: job("pi", "ns").Indexed().Completions(4).Parallelism(3).
				Status(status().Active(3).Succeeded(1).CompletedIndexes("0").StartTime(started).Obj()).Obj(),
			pods: pods(running("b").Index(1), failed("c").Index(2), failed("d").Index(3)),
			want: outcome{Status: status().Active(3).Succeeded(1).CompletedIndexes("0").StartTime(started).UncountedFailed("c", "d").Obj(),
				StatusChanged: true, Created: []string{"pi-2-", "pi-3-"}, CreateReason: "recreate_terminating_or_failed",
				RemoveFinalizers: []string{"c", "d"}},
		},
		"indexed job: pods without or beyond index deleted, not counted": {
			job: job("pi", "ns").Indexed().Completions(4).Parallelism(1).
				Status(status().Active(3).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Index(0), running("x"), running("z").Index(5), succeeded("y"),
				running("bad").Annotation(v1alpha1.JobCompletionIndexAnnotation, "nope")),
			want: outcome{Status: status().Active(1).Terminating(3).StartTime(started).Obj(), StatusChanged: true,
				Deleted: []string{"x/strip", "bad/strip", "z/strip"}, RemoveFinalizers: []string{"y"}},
		},
		"indexed job: duplicate index keeps the most advanced pod": {
			job: job("pi", "ns").Indexed().Completions(5).Parallelism(5).
				Status(status().Active(3).Ready(1).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Index(0).Ready(ago(time.Hour)), running("b").Index(0), running("c").Index(1)),
			want: outcome{Status: status().Active(2).Ready(1).Terminating(1).StartTime(started).Obj(), StatusChanged: true,
				Deleted: []string{"b/strip"}},
		},
		"elastic indexed job: scale down forgets completed indexes beyond completions": {
			job: job("pi", "ns").Indexed().Completions(2).Parallelism(2).
				Status(status().Active(2).Succeeded(3).CompletedIndexes("1-3").StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Index(0), running("e").Index(4)),
			want: outcome{Status: status().Active(1).Terminating(1).Succeeded(1).CompletedIndexes("1").StartTime(started).Obj(),
				StatusChanged: true, Deleted: []string{"e/strip"}},
		},
		"elastic indexed job: scale up re-runs forgotten indexes": {
			job: job("pi", "ns").Indexed().Completions(4).Parallelism(4).
				Status(status().Succeeded(2).CompletedIndexes("0,1").StartTime(started).Obj()).Obj(),
			want: outcome{Status: status().Active(2).Succeeded(2).CompletedIndexes("0,1").StartTime(started).Obj(),
				StatusChanged: true, Created: []string{"pi-2-", "pi-3-"}, CreateReason: "new"},
		},
	})
}

func TestPlanSuspend(t *testing.T) {
	started := ago(time.Minute)
	runPlanCases(t, map[string]planCase{
		"suspending deletes all active pods without counting them": {
			job: job("pi", "ns").Completions(4).Parallelism(2).Suspend(true).
				Status(status().Active(2).Ready(1).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Ready(ago(time.Hour)), running("b"), succeeded("s")),
			want: outcome{Status: status().Terminating(2).Uncounted(uids("s"), nil).
				Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now).Obj(),
				StatusChanged: true, Deleted: []string{"b/strip", "a/strip"}, RemoveFinalizers: []string{"s"},
				Events: []Event{{Type: corev1.EventTypeNormal, Reason: "Suspended", Message: "Job suspended"}}},
		},
		"suspending with unsatisfied expectations waits": {
			job: job("pi", "ns").Completions(4).Parallelism(2).Suspend(true).
				Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods:        pods(running("a"), running("b")),
			unsatisfied: true,
			want:        outcome{Status: status().Active(2).StartTime(started).Obj()},
		},
		"created suspended": {
			job: job("pi", "ns").Suspend(true).Obj(),
			want: outcome{Status: status().Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now).Obj(),
				StatusChanged: true, Events: []Event{{Type: corev1.EventTypeNormal, Reason: "Suspended", Message: "Job suspended"}}},
		},
		"stays suspended quietly": {
			job: job("pi", "ns").Suspend(true).Status(status().
				Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", ago(time.Hour)).Obj()).Obj(),
			want: outcome{Status: status().Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", ago(time.Hour)).Obj()},
		},
		"resuming": {
			job: job("pi", "ns").Completions(4).Parallelism(2).Suspend(false).Status(status().Succeeded(1).
				Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", ago(time.Hour)).Obj()).Obj(),
			want: outcome{Status: status().Active(2).Succeeded(1).StartTime(now).
				Condition(v1alpha1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now).Obj(),
				StatusChanged: true, Created: []string{"pi-", "pi-"}, CreateReason: "new",
				Events: []Event{{Type: corev1.EventTypeNormal, Reason: "Resumed", Message: "Job resumed"}}},
		},
		"suspending a deleted job does nothing but release finalizers": {
			job: job("pi", "ns").Completions(4).Parallelism(2).Suspend(true).DeletionTimestamp(ago(time.Second)).
				Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(running("a"), running("b")),
			want: outcome{Status: status().Active(2).StartTime(started).Obj(), RemoveFinalizers: []string{"a", "b"}},
		},
		"suspended job with completions 0 completes": {
			job: job("pi", "ns").Completions(0).Suspend(true).Obj(),
			want: outcome{Status: status().CompletionTime(now).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).
				Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
				StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"}},
		},
		"suspended job: deadline not evaluated": {
			job: job("pi", "ns").Suspend(true).ActiveDeadlineSeconds(10).Status(status().StartTime(ago(time.Hour)).
				Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", ago(time.Hour)).Obj()).Obj(),
			want: outcome{Status: status().StartTime(ago(time.Hour)).
				Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", ago(time.Hour)).Obj()},
		},
	})
}
