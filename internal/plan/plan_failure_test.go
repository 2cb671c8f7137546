package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

func exitCodeRule(action v1alpha1.PodFailurePolicyAction, codes ...int32) v1alpha1.PodFailurePolicyRule {
	return v1alpha1.PodFailurePolicyRule{Action: action, OnExitCodes: &v1alpha1.PodFailurePolicyOnExitCodesRequirement{
		Operator: v1alpha1.PodFailurePolicyOnExitCodesOpIn, Values: codes}}
}

func TestPlanDeadline(t *testing.T) {
	started := ago(time.Minute)
	deadlineMsg := v1alpha1.MessageDeadlineExceeded + ": last failed pod f, container main exited with code 1"
	runPlanCases(t, map[string]planCase{
		"requeue at the deadline": {
			job:  job("pi", "ns").ActiveDeadlineSeconds(100).Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(running("a")),
			want: outcome{Status: status().Active(1).StartTime(started).Obj(), RequeueAfter: 40 * time.Second},
		},
		"deadline clock starts with the job": {
			job: job("pi", "ns").ActiveDeadlineSeconds(30).Obj(),
			want: outcome{Status: status().Active(1).StartTime(now).Obj(), StatusChanged: true,
				Created: []string{"pi-"}, CreateReason: "new", RequeueAfter: 30 * time.Second},
		},
		"deadline exceeded: active pods killed and counted, detail names the last failure": {
			job: job("pi", "ns").ActiveDeadlineSeconds(60).Completions(3).Parallelism(1).
				Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(running("a"), failed("f"), pod("older").Phase(corev1.PodFailed).Exited("main", 2, ago(2*time.Hour)).NoFinalizer()),
			want: outcome{Status: status().Terminating(1).StartTime(started).UncountedFailed("a", "f").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "DeadlineExceeded", deadlineMsg, now).Obj(),
				StatusChanged: true, Deleted: []string{"a"}, RemoveFinalizers: []string{"a", "f"}},
		},
		"deadline exceeded without a failed pod: upstream message": {
			job:  job("pi", "ns").ActiveDeadlineSeconds(10).Status(status().StartTime(started).Obj()).Obj(),
			pods: pods(),
			want: outcome{Status: status().StartTime(started).Failed(0).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "DeadlineExceeded", v1alpha1.MessageDeadlineExceeded, now).
				Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "DeadlineExceeded", v1alpha1.MessageDeadlineExceeded, now).Obj(),
				StatusChanged: true, Finished: &Finish{Reason: "DeadlineExceeded"},
				Events: []Event{{Type: corev1.EventTypeWarning, Reason: "DeadlineExceeded", Message: v1alpha1.MessageDeadlineExceeded}}},
		},
		"backoff limit is checked before the deadline": {
			job: job("pi", "ns").ActiveDeadlineSeconds(10).BackoffLimit(0).
				Status(status().StartTime(started).Obj()).Obj(),
			pods: pods(failed("f").ExitedWithMessage("side", 3, ago(time.Hour), "out of memory")),
			want: outcome{Status: status().StartTime(started).UncountedFailed("f").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded",
					v1alpha1.MessageBackoffLimitExceeded+": last failed pod f, container main exited with code 1", now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"f"},
				AfterRelease: &outcome{Status: status().StartTime(started).Failed(1).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", v1alpha1.MessageBackoffLimitExceeded+": last failed pod f, container main exited with code 1", now).
					Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "BackoffLimitExceeded", v1alpha1.MessageBackoffLimitExceeded+": last failed pod f, container main exited with code 1", now).Obj(),
					StatusChanged: true, Events: []Event{{Type: corev1.EventTypeWarning, Reason: "BackoffLimitExceeded", Message: v1alpha1.MessageBackoffLimitExceeded + ": last failed pod f, container main exited with code 1"}},
					Finished: &Finish{Reason: "BackoffLimitExceeded"}, PodsFinishedFailed: 1}},
		},
		"restartPolicy OnFailure: restarts reach the limit": {
			job: job("pi", "ns").RestartPolicy(corev1.RestartPolicyOnFailure).BackoffLimit(2).
				Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Restarts("main", 2)),
			want: outcome{Status: status().Terminating(1).StartTime(started).UncountedFailed("a").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded",
					v1alpha1.MessageBackoffLimitExceeded+": pod a, container main restarted 2 times", now).Obj(),
				StatusChanged: true, Deleted: []string{"a"}, RemoveFinalizers: []string{"a"}},
		},
		"restartPolicy OnFailure: below the limit": {
			job: job("pi", "ns").RestartPolicy(corev1.RestartPolicyOnFailure).BackoffLimit(3).
				Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Restarts("main", 2)),
			want: outcome{Status: status().Active(1).StartTime(started).Obj()},
		},
	})
}

func TestPlanPodFailurePolicy(t *testing.T) {
	started := ago(time.Minute)
	failJobMsg := "Container other for pod ns/f failed with exit code 5 matching FailJob rule at index 1"
	runPlanCases(t, map[string]planCase{
		"FailJob rule fails the job": {
			job: job("pi", "ns").Completions(2).Parallelism(2).PodFailurePolicy(
				exitCodeRule(v1alpha1.PodFailurePolicyActionIgnore, 3), exitCodeRule(v1alpha1.PodFailurePolicyActionFailJob, 5)).
				Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(running("a"), failed("f").Exited("other", 5, ago(time.Hour))),
			want: outcome{Status: status().Terminating(1).StartTime(started).UncountedFailed("a", "f").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, now).Obj(),
				StatusChanged: true, Deleted: []string{"a"}, RemoveFinalizers: []string{"a", "f"},
				FailurePolicyActions: map[v1alpha1.PodFailurePolicyAction]int32{v1alpha1.PodFailurePolicyActionFailJob: 1}},
		},
		"Ignore rule: not counted, replaced": {
			job: job("pi", "ns").BackoffLimit(0).PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionIgnore, 1)).
				Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(failed("f")),
			want: outcome{Status: status().Active(1).StartTime(started).Obj(),
				Created: []string{"pi-"}, CreateReason: "new", RemoveFinalizers: []string{"f"},
				FailurePolicyActions: map[v1alpha1.PodFailurePolicyAction]int32{v1alpha1.PodFailurePolicyActionIgnore: 1}},
		},
		"Count rule counts toward backoffLimit": {
			job: job("pi", "ns").BackoffLimit(0).PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionCount, 1)).
				Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(failed("f")),
			want: outcome{Status: status().StartTime(started).UncountedFailed("f").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded",
					v1alpha1.MessageBackoffLimitExceeded+": last failed pod f, container main exited with code 1", now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"f"},
				FailurePolicyActions: map[v1alpha1.PodFailurePolicyAction]int32{v1alpha1.PodFailurePolicyActionCount: 1},
				AfterRelease: &outcome{Status: status().StartTime(started).Failed(1).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", v1alpha1.MessageBackoffLimitExceeded+": last failed pod f, container main exited with code 1", now).
					Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "BackoffLimitExceeded", v1alpha1.MessageBackoffLimitExceeded+": last failed pod f, container main exited with code 1", now).Obj(),
					StatusChanged: true, Events: []Event{{Type: corev1.EventTypeWarning, Reason: "BackoffLimitExceeded", Message: v1alpha1.MessageBackoffLimitExceeded + ": last failed pod f, container main exited with code 1"}},
					Finished: &Finish{Reason: "BackoffLimitExceeded"}, PodsFinishedFailed: 1}},
		},
		"terminating pod is not failed under podReplacementPolicy Failed": {
			job: job("pi", "ns").PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionFailJob, 5)).
				Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Deleted(ago(time.Second))),
			want: outcome{Status: status().Terminating(1).StartTime(started).Obj(), StatusChanged: true},
		},
		"existing FailureTarget carries the decision; Failed when nothing is left": {
			job: job("pi", "ns").PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionFailJob, 5)).
				Status(status().Failed(1).StartTime(started).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, ago(time.Second)).Obj()).Obj(),
			want: outcome{Status: status().Failed(1).StartTime(started).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, ago(time.Second)).
				Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, now).Obj(),
				StatusChanged: true, Finished: &Finish{Reason: "PodFailurePolicy"},
				Events: []Event{{Type: corev1.EventTypeWarning, Reason: "PodFailurePolicy", Message: failJobMsg}}},
		},
		"existing SuccessCriteriaMet wins over a FailJob pod": {
			job: job("pi", "ns").Indexed().Completions(2).Parallelism(2).PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionFailJob, 1)).
				SuccessPolicy(v1alpha1.SuccessPolicyRule{SucceededCount: ptr.To[int32](1)}).
				Status(status().Succeeded(1).CompletedIndexes("0").StartTime(started).
					Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "SuccessPolicy", "Matched rules at index 0", ago(time.Second)).Obj()).Obj(),
			pods: pods(failed("f").Index(1)),
			want: outcome{Status: status().Succeeded(1).CompletedIndexes("0").StartTime(started).UncountedFailed("f").
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "SuccessPolicy", "Matched rules at index 0", ago(time.Second)).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"f"},
				FailurePolicyActions: map[v1alpha1.PodFailurePolicyAction]int32{v1alpha1.PodFailurePolicyActionFailJob: 1},
				AfterRelease: &outcome{Status: status().Succeeded(1).Failed(1).CompletedIndexes("0").StartTime(started).CompletionTime(now).
					Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "SuccessPolicy", "Matched rules at index 0", ago(time.Second)).
					Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "SuccessPolicy", "Matched rules at index 0", now).Obj(),
					StatusChanged: true, Events: []Event{completedEvent()}, Finished: &Finish{Succeeded: true, Reason: "SuccessPolicy"}, PodsFinishedFailed: 1}},
		},
	})
}
