package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestPlanCompletionIndexes: with spec.completionIndexes only those indexes run, with
// their own index, and the job succeeds once they all succeeded.
func TestPlanCompletionIndexes(t *testing.T) {
	started := ago(time.Minute)
	sel := func(parallelism int32, indexes string) *jobW {
		return job("pi", "ns").Indexed().Completions(10).Parallelism(parallelism).CompletionIndexes(indexes)
	}
	met := v1alpha1.MessageCompletionsReached
	runPlanCases(t, map[string]planCase{
		"only the selected indexes are created, lowest first": {
			job:    sel(3, "3,7-9").Obj(),
			beyond: true,
			want: outcome{Status: status().Active(3).StartTime(now).State(v1alpha1.StatePending).Obj(), StatusChanged: true,
				Created: []string{"pi-3-", "pi-7-", "pi-8-"}, CreateReason: "new"},
		},
		"the rest of the selection once some succeeded": {
			job:    sel(5, "3,7-9").Status(status().Succeeded(2).CompletedIndexes("3,7").StartTime(started).Obj()).Obj(),
			beyond: true,
			want: outcome{Status: status().Active(2).Succeeded(2).CompletedIndexes("3,7").StartTime(started).State(v1alpha1.StatePending).Obj(),
				StatusChanged: true, Created: []string{"pi-8-", "pi-9-"}, CreateReason: "new"},
		},
		"every selected index succeeded: success": {
			job:    sel(2, "3,7").Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods:   pods(succeeded("a").Index(3), succeeded("b").Index(7)),
			beyond: true,
			want: outcome{Status: status().Succeeded(2).CompletedIndexes("3,7").StartTime(started).State(v1alpha1.StateSuccessCriteriaMet).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", met, now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"a", "b"}, PodsFinishedSucceeded: 2,
				AfterRelease: &outcome{Status: status().Succeeded(2).CompletedIndexes("3,7").StartTime(started).CompletionTime(now).
					State(v1alpha1.StateComplete).
					Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", met, now).
					Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", met, now).Obj(),
					StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"}}},
		},
		"a failed selected index with backoffLimitPerIndex 0 fails the job once the rest succeeded": {
			job: sel(2, "3,7").BackoffLimitPerIndex(0).Status(status().Active(1).Succeeded(1).CompletedIndexes("7").
				FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods:   pods(failed("f").Index(3), succeeded("b").Index(7).NoFinalizer()),
			beyond: true,
			want: outcome{Status: status().Succeeded(1).CompletedIndexes("7").FailedIndexes("3").StartTime(started).UncountedFailed("f").
				State(v1alpha1.StateFailureTarget).RecentFailures(v1alpha1.PodFailure{Pod: "f", Index: ptrInt32(3), Container: "main",
				ExitCode: 1, Reason: "Error", Time: metaTime(ago(time.Hour))}).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "FailedIndexes", v1alpha1.MessageFailedIndexes, now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"f"},
				AfterRelease: &outcome{Status: status().Succeeded(1).Failed(1).CompletedIndexes("7").FailedIndexes("3").StartTime(started).
					State(v1alpha1.StateFailed).RecentFailures(v1alpha1.PodFailure{Pod: "f", Index: ptrInt32(3), Container: "main",
					ExitCode: 1, Reason: "Error", Time: metaTime(ago(time.Hour))}).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "FailedIndexes", v1alpha1.MessageFailedIndexes, now).
					Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "FailedIndexes", v1alpha1.MessageFailedIndexes, now).Obj(),
					StatusChanged: true, Events: []Event{{Type: corev1.EventTypeWarning, Reason: "FailedIndexes", Message: v1alpha1.MessageFailedIndexes}},
					Finished: &Finish{Reason: "FailedIndexes"}, PodsFinishedFailed: 1}},
		},
	})
	res := Plan(Input{Job: sel(2, "3,7").Status(status().Succeeded(1).CompletedIndexes("3").StartTime(started).Obj()).Obj(),
		Now: now, ExpectationsSatisfied: true})
	if got := res.Status.CompletionsText; got != "1/2" {
		t.Errorf("COMPLETIONS = %q, want 1/2 (of the selected indexes)", got)
	}
}
