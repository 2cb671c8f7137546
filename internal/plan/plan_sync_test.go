package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestPlanSync ports the cases of upstream's TestControllerSyncJob that do not depend on
// API errors (those are the controller's business).
func TestPlanSync(t *testing.T) {
	started := ago(time.Minute)
	backoffMsg := v1alpha1.MessageBackoffLimitExceeded + ": last failed pod f, container main exited with code 1"
	runPlanCases(t, map[string]planCase{
		"job start": {
			job: job("pi", "ns").Parallelism(2).Completions(5).Obj(),
			want: outcome{Status: status().Active(2).StartTime(now).Obj(), StatusChanged: true,
				Created: []string{"pi-", "pi-"}, CreateReason: "new"},
		},
		"work queue job start": {
			job: job("pi", "ns").NoCompletions(2).Obj(),
			want: outcome{Status: status().Active(2).StartTime(now).Obj(), StatusChanged: true,
				Created: []string{"pi-", "pi-"}, CreateReason: "new"},
		},
		"pending pods: nothing changes": {
			job:  job("pi", "ns").Parallelism(2).Completions(5).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(pod("a"), pod("b")),
			want: outcome{Status: status().Active(2).StartTime(started).Obj()},
		},
		"too few active pods": {
			job:  job("pi", "ns").Parallelism(2).Completions(5).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(running("a"), succeeded("s")),
			want: outcome{Status: status().Active(2).StartTime(started).Uncounted(uids("s"), nil).Obj(), StatusChanged: true,
				Created: []string{"pi-"}, CreateReason: "new", RemoveFinalizers: []string{"s"}},
		},
		"work queue job: recreate failed pod": {
			job:  job("pi", "ns").NoCompletions(1).Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(failed("f")),
			want: outcome{Status: status().Active(1).StartTime(started).UncountedFailed("f").Obj(), StatusChanged: true,
				Created: []string{"pi-"}, CreateReason: "recreate_terminating_or_failed", RemoveFinalizers: []string{"f"}},
		},
		"terminating pods wait with podReplacementPolicy Failed": {
			job: job("pi", "ns").PodReplacementPolicy(v1alpha1.Failed).
				Status(status().StartTime(started).Terminating(2).Obj()).Obj(),
			pods: pods(running("a").Deleted(ago(time.Second)), running("b").Deleted(ago(time.Second))),
			want: outcome{Status: status().StartTime(started).Terminating(2).Obj()},
		},
		"terminating pods count as failed and are replaced with TerminatingOrFailed": {
			job:  job("pi", "ns").Status(status().StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Deleted(ago(time.Hour)), running("b").Deleted(ago(time.Hour))),
			want: outcome{Status: status().Active(1).StartTime(started).Terminating(2).UncountedFailed("a", "b").Obj(),
				StatusChanged: true, Created: []string{"pi-"}, CreateReason: "recreate_terminating_or_failed",
				RemoveFinalizers: []string{"a", "b"}},
		},
		"too few active pods and active back-off": {
			job:     job("pi", "ns").Failed(1).StartTime(started).Obj(),
			backoff: &BackoffRecord{FailuresAfterLastSuccess: 1, LastFailureTime: ptrTime(ago(4 * time.Second))},
			want: outcome{Status: status().Failed(1).StartTime(started).Obj(), StatusChanged: true,
				RequeueAfter: 6 * time.Second},
		},
		"back-off about to expire requeues after at least a second": {
			job:     job("pi", "ns").Failed(1).Status(status().Failed(1).StartTime(started).Obj()).Obj(),
			backoff: &BackoffRecord{FailuresAfterLastSuccess: 1, LastFailureTime: ptrTime(ago(9*time.Second + 900*time.Millisecond))},
			want:    outcome{Status: status().Failed(1).StartTime(started).Obj(), RequeueAfter: time.Second},
		},
		"back-off expired creates": {
			job:     job("pi", "ns").Status(status().Failed(1).StartTime(started).Obj()).Obj(),
			backoff: &BackoffRecord{FailuresAfterLastSuccess: 1, LastFailureTime: ptrTime(ago(10 * time.Second))},
			want: outcome{Status: status().Active(1).Failed(1).StartTime(started).Obj(), StatusChanged: true,
				Created: []string{"pi-"}, CreateReason: "recreate_terminating_or_failed"},
		},
		"too many active pods: the unscheduled one goes first": {
			job:  job("pi", "ns").Parallelism(2).Completions(5).Status(status().Active(3).StartTime(started).Obj()).Obj(),
			pods: pods(running("a"), running("b"), pod("c")),
			want: outcome{Status: status().Active(2).Terminating(1).StartTime(started).Obj(), StatusChanged: true,
				Deleted: []string{"c/strip"}},
		},
		"too many ready pods: the most recently ready goes first": {
			job: job("pi", "ns").Parallelism(2).Completions(5).Status(status().Active(3).Ready(3).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Ready(ago(3*time.Hour)), running("b").Ready(ago(time.Hour)),
				running("c").Ready(ago(2*time.Hour))),
			want: outcome{Status: status().Active(2).Ready(2).Terminating(1).StartTime(started).Obj(), StatusChanged: true,
				Deleted: []string{"b/strip"}},
		},
		"more active pods than remaining completions": {
			job:  job("pi", "ns").Parallelism(3).Completions(4).Status(status().Active(3).Succeeded(2).StartTime(started).Obj()).Obj(),
			pods: pods(running("a"), running("b"), running("c").Restarts("main", 1)),
			want: outcome{Status: status().Active(2).Succeeded(2).Terminating(1).StartTime(started).Obj(), StatusChanged: true,
				Deleted: []string{"c/strip"}},
		},
		"limited to 500 creations per pass": {
			job: job("pi", "ns").Parallelism(600).Completions(600).Obj(),
			want: outcome{Status: status().Active(500).StartTime(now).Obj(), StatusChanged: true,
				Created: repeat("pi-", 500), CreateReason: "new"},
		},
		"job finish: succeeded pods recorded, interim condition": {
			job:  job("pi", "ns").Parallelism(2).Completions(3).Status(status().Active(1).Succeeded(1).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("a"), succeeded("b"), succeeded("old").NoFinalizer()),
			want: outcome{Status: status().Succeeded(1).StartTime(started).Uncounted(uids("a", "b"), nil).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"a", "b"},
				AfterRelease: &outcome{Status: status().Succeeded(3).StartTime(started).CompletionTime(now).
					Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).
					Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
					StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"}, PodsFinishedSucceeded: 2}},
		},
		"job finish: counted in the next pass, then Complete": {
			job: job("pi", "ns").Parallelism(2).Completions(3).Status(status().Succeeded(1).StartTime(started).Uncounted(uids("a", "b"), nil).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", ago(time.Second)).Obj()).Obj(),
			pods: pods(succeeded("a").NoFinalizer(), succeeded("old").NoFinalizer()),
			want: outcome{Status: status().Succeeded(3).StartTime(started).CompletionTime(now).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", ago(time.Second)).
				Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
				StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"},
				PodsFinishedSucceeded: 2},
		},
		"too many succeeded pods warns": {
			job: job("pi", "ns").Completions(1).Status(status().Succeeded(1).StartTime(started).Uncounted(uids("b"), nil).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", ago(time.Second)).Obj()).Obj(),
			want: outcome{Status: status().Succeeded(2).StartTime(started).CompletionTime(now).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", ago(time.Second)).
				Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
				StatusChanged: true, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"}, PodsFinishedSucceeded: 1,
				Events: []Event{{Type: corev1.EventTypeWarning, Reason: "TooManySucceededPods", Message: "Too many succeeded pods running after completion count reached"}, completedEvent()}},
		},
		"work queue job: after a success running pods stay, failures are not replaced": {
			job:  job("pi", "ns").NoCompletions(3).Status(status().Active(3).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("s"), failed("f"), running("a")),
			want: outcome{Status: status().Active(1).StartTime(started).Uncounted(uids("s"), uids("f")).Obj(), StatusChanged: true,
				RemoveFinalizers: []string{"s", "f"}},
		},
		"work queue job all finished despite one failure": {
			job:  job("pi", "ns").NoCompletions(2).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("s"), failed("f")),
			want: outcome{Status: status().StartTime(started).Uncounted(uids("s"), uids("f")).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"s", "f"},
				AfterRelease: &outcome{Status: status().Succeeded(1).Failed(1).StartTime(started).CompletionTime(now).
					Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).
					Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
					StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"}, PodsFinishedSucceeded: 1, PodsFinishedFailed: 1}},
		},
		"deleting job: finalizers released, running pods not counted": {
			job:  job("pi", "ns").Parallelism(2).Completions(5).DeletionTimestamp(ago(time.Second)).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(running("a"), succeeded("s")),
			want: outcome{Status: status().Active(1).StartTime(started).Uncounted(uids("s"), nil).Obj(), StatusChanged: true,
				RemoveFinalizers: []string{"a", "s"}},
		},
		"too many job failures": {
			job:  job("pi", "ns").Parallelism(2).Completions(5).BackoffLimit(0).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(running("a"), failed("f")),
			want: outcome{Status: status().Terminating(1).StartTime(started).UncountedFailed("a", "f").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg, now).Obj(),
				StatusChanged: true, Deleted: []string{"a"}, RemoveFinalizers: []string{"a", "f"}},
		},
		"job failures, unsatisfied expectations: decision waits": {
			job:         job("pi", "ns").Parallelism(2).Completions(5).BackoffLimit(0).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods:        pods(running("a"), failed("f")),
			unsatisfied: true,
			want: outcome{Status: status().Terminating(1).StartTime(started).UncountedFailed("f").Obj(),
				StatusChanged: true, Deleted: []string{"a"}, RemoveFinalizers: []string{"f"}},
		},
		"failed job: Failed once the killed pods are counted and gone": {
			job: job("pi", "ns").BackoffLimit(0).Status(status().StartTime(started).UncountedFailed("a", "f").Terminating(1).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg, ago(time.Second)).Obj()).Obj(),
			pods: pods(failed("a").NoFinalizer()),
			want: outcome{Status: status().StartTime(started).Failed(2).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg, ago(time.Second)).
				Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg, now).Obj(),
				StatusChanged: true, PodsFinishedFailed: 2, Finished: &Finish{Reason: "BackoffLimitExceeded"},
				Events: []Event{{Type: corev1.EventTypeWarning, Reason: "BackoffLimitExceeded", Message: backoffMsg}}},
		},
		"failed job: Failed waits for terminating pods": {
			job: job("pi", "ns").BackoffLimit(0).Status(status().StartTime(started).Failed(2).Terminating(1).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg, ago(time.Second)).Obj()).Obj(),
			pods: pods(running("a").Deleted(ago(time.Second)).NoFinalizer()),
			want: outcome{Status: status().StartTime(started).Failed(2).Terminating(1).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg, ago(time.Second)).Obj()},
		},
		"completions 0 completes at once": {
			job: job("pi", "ns").Completions(0).Obj(),
			want: outcome{Status: status().StartTime(now).CompletionTime(now).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).
				Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "Reached expected number of succeeded pods", now).Obj(),
				StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "CompletionsReached"}},
		},
		"parallelism 0 creates nothing": {
			job:  job("pi", "ns").Parallelism(0).Completions(3).Obj(),
			want: outcome{Status: status().StartTime(now).Obj(), StatusChanged: true},
		},
		"managed by another controller: nothing at all": {
			job:  job("pi", "ns").ManagedBy("example.com/other").Obj(),
			pods: pods(succeeded("s")),
			want: outcome{},
		},
		"managed by this controller explicitly": {
			job: job("pi", "ns").ManagedBy(v1alpha1.ControllerName).Obj(),
			want: outcome{Status: status().Active(1).StartTime(now).Obj(), StatusChanged: true,
				Created: []string{"pi-"}, CreateReason: "new"},
		},
		"FailureTarget=False added by someone else is ignored": {
			job: job("pi", "ns").Status(status().Active(1).StartTime(started).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionFalse, "", "", ago(time.Hour)).Obj()).Obj(),
			pods: pods(running("a")),
			want: outcome{Status: status().Active(1).StartTime(started).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionFalse, "", "", ago(time.Hour)).Obj()},
		},
		"SuccessCriteriaMet=False added by someone else is ignored": {
			job: job("pi", "ns").Status(status().Active(1).StartTime(started).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionFalse, "", "", ago(time.Hour)).Obj()).Obj(),
			pods: pods(running("a")),
			want: outcome{Status: status().Active(1).StartTime(started).
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionFalse, "", "", ago(time.Hour)).Obj()},
		},
		"finalizer removal in flight: listed pod stays uncounted, not re-added": {
			job:     job("pi", "ns").Completions(3).Status(status().Active(1).StartTime(started).Uncounted(uids("a"), nil).Obj()).Obj(),
			pods:    pods(succeeded("a"), succeeded("b"), running("c")),
			pending: uids("a", "b"),
			want:    outcome{Status: status().Active(1).StartTime(started).Uncounted(uids("a"), nil).Obj()},
		},
		"uncounted pod whose finalizer is still there is released again": {
			job:  job("pi", "ns").Completions(3).Status(status().Active(1).StartTime(started).UncountedFailed("f").Obj()).Obj(),
			pods: pods(failed("f"), running("c")),
			want: outcome{Status: status().Active(1).StartTime(started).UncountedFailed("f").Obj(), RemoveFinalizers: []string{"f"}},
		},
		"pod flips from failed to succeeded: stays failed": {
			job:  job("pi", "ns").Completions(3).Status(status().Active(1).StartTime(started).UncountedFailed("f").Obj()).Obj(),
			pods: pods(succeeded("f"), running("c")),
			want: outcome{Status: status().Active(1).StartTime(started).UncountedFailed("f").Obj(), RemoveFinalizers: []string{"f"}},
		},
		"first pass writes the empty uncounted lists": {
			job:  job("pi", "ns").Status(status().NoUncounted().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(running("a")),
			want: outcome{Status: status().Active(1).StartTime(started).Obj(), StatusChanged: true},
		},
	})
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestPlanCapsUncountedPerPass(t *testing.T) {
	var ps []*corev1.Pod
	for i := range 520 {
		ps = append(ps, succeeded(fmt.Sprintf("s%03d", i)).Obj())
	}
	j := job("pi", "ns").Completions(600).Parallelism(1).Status(status().StartTime(ago(time.Minute)).Obj()).Obj()
	res := Plan(Input{Job: j, Pods: ps, Now: now, ExpectationsSatisfied: true})
	if got := len(res.Status.UncountedTerminatedPods.Succeeded); got != 500 {
		t.Errorf("uncounted succeeded = %d, want 500", got)
	}
	if got := len(res.RemoveFinalizers); got != 500 {
		t.Errorf("finalizers to remove = %d, want 500", got)
	}
	if res.Status.Conditions != nil || res.Finished != nil {
		t.Errorf("job must not finish in a capped pass: %+v", res.Status.Conditions)
	}
}

func TestPlanBackoffRecord(t *testing.T) {
	cases := map[string]struct {
		in   *BackoffRecord
		pods []*corev1.Pod
		want *BackoffRecord
	}{
		"rebuilt from every finished pod after a restart": {
			pods: pods(failedAt("a", 30*time.Second).NoFinalizer(), failedAt("b", 10*time.Second), succeeded("s").NoFinalizer()),
			want: &BackoffRecord{FailuresAfterLastSuccess: 2, LastFailureTime: ptrTime(ago(10 * time.Second))},
		},
		"kept record gets only the newly finished pods": {
			in:   &BackoffRecord{FailuresAfterLastSuccess: 3, LastFailureTime: ptrTime(ago(time.Hour))},
			pods: pods(failedAt("counted", 30*time.Second).NoFinalizer(), failedAt("new", 10*time.Second)),
			want: &BackoffRecord{FailuresAfterLastSuccess: 4, LastFailureTime: ptrTime(ago(10 * time.Second))},
		},
		"a new success resets it": {
			in:   &BackoffRecord{FailuresAfterLastSuccess: 3, LastFailureTime: ptrTime(ago(time.Hour))},
			pods: pods(succeeded("s")),
			want: &BackoffRecord{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			j := job("pi", "ns").Completions(5).Status(status().StartTime(ago(time.Minute)).Obj()).Obj()
			res := Plan(Input{Job: j, Pods: tc.pods, Now: now, ExpectationsSatisfied: true, Backoff: tc.in})
			if diff := cmp.Diff(tc.want, res.Backoff); diff != "" {
				t.Errorf("Backoff (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestPrintFields(t *testing.T) {
	res := Plan(Input{Job: job("pi", "ns").Completions(3).Parallelism(2).Obj(), Now: now, ExpectationsSatisfied: true})
	got := []string{res.Status.State, res.Status.CompletionsText, res.Status.Duration}
	// The pods are only being created: kubectl would print Running, status.state says
	// Pending until one of them runs (TestPlanState).
	if diff := cmp.Diff([]string{"Pending", "0/3", "0s"}, got); diff != "" {
		t.Errorf("printing fields (-want,+got):\n%s", diff)
	}
}
