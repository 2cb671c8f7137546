package plan

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestPlanAfterRelease: the write after a pass's finalizer removals is planned only when
// those removals are all that keeps the decided job from its terminal condition.
func TestPlanAfterRelease(t *testing.T) {
	started := ago(time.Minute)
	met := v1alpha1.MessageCompletionsReached
	complete := &Finish{Succeeded: true, Reason: "CompletionsReached"}
	runPlanCases(t, map[string]planCase{
		"one-pod job: recorded, then counted and Complete after the release, with the TTL timer": {
			job:  job("pi", "ns").Completions(1).Parallelism(1).TTLSecondsAfterFinished(30).Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("a")),
			want: outcome{Status: status().StartTime(started).Uncounted(uids("a"), nil).Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", met, now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"a"},
				AfterRelease: &outcome{Status: status().Succeeded(1).StartTime(started).CompletionTime(now).Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", met, now).Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", met, now).Obj(),
					StatusChanged: true, Events: []Event{completedEvent()}, Finished: complete, PodsFinishedSucceeded: 1, RequeueAfter: 30 * time.Second}},
		},
		"a release in flight from an earlier pass holds the finish back": {
			job:     job("pi", "ns").Completions(2).Parallelism(2).Status(status().Active(1).StartTime(started).Uncounted(uids("a"), nil).Obj()).Obj(),
			pods:    pods(succeeded("a"), succeeded("b")),
			pending: uids("a"),
			want: outcome{Status: status().StartTime(started).Uncounted(uids("a", "b"), nil).Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", met, now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"b"}},
		},
		"a terminating pod holds the finish back": {
			job: job("pi", "ns").Completions(1).Parallelism(2).PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionFailJob, 5)).
				Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("a"), running("t").Deleted(ago(time.Second))),
			want: outcome{Status: status().Terminating(1).StartTime(started).Uncounted(uids("a"), nil).Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", met, now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"a", "t"}},
		},
		"a failure that deletes the running pods finishes in a later pass": {
			job:  job("pi", "ns").Completions(2).Parallelism(2).BackoffLimit(0).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(failed("f"), running("r")),
			want: outcome{Status: status().Terminating(1).StartTime(started).Uncounted(nil, uids("f", "r")).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded",
					v1alpha1.MessageBackoffLimitExceeded+": last failed pod f, container main exited with code 1", now).Obj(),
				StatusChanged: true, Deleted: []string{"r"}, RemoveFinalizers: []string{"f", "r"}},
		},
		"too many successes warn in the write after the release": {
			job:  job("pi", "ns").Completions(1).Parallelism(2).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("a"), succeeded("b")),
			want: outcome{Status: status().StartTime(started).Uncounted(uids("a", "b"), nil).Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", met, now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"a", "b"},
				AfterRelease: &outcome{Status: status().Succeeded(2).StartTime(started).CompletionTime(now).Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", met, now).Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", met, now).Obj(),
					StatusChanged: true, Finished: complete, PodsFinishedSucceeded: 2, Events: []Event{{Type: corev1.EventTypeWarning,
						Reason: "TooManySucceededPods", Message: "Too many succeeded pods running after completion count reached"}, completedEvent()}}},
		},
	})
}

// TestPlanAfterReleaseNotWhenCapped: a pass that hit the per-pass cap leaves the finish
// to the pass it asks for.
func TestPlanAfterReleaseNotWhenCapped(t *testing.T) {
	var ps []*corev1.Pod
	for i := range 520 {
		ps = append(ps, succeeded(fmt.Sprintf("s%03d", i)).Obj())
	}
	j := job("pi", "ns").Completions(520).Parallelism(520).Status(status().Active(520).StartTime(ago(time.Minute)).Obj()).Obj()
	res := Plan(Input{Job: j, Pods: ps, Now: now, ExpectationsSatisfied: true})
	if !res.MoreWork || res.AfterRelease != nil {
		t.Errorf("MoreWork = %v, AfterRelease = %v; want true, nil", res.MoreWork, res.AfterRelease)
	}
}
