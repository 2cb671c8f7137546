package plan

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Edge cases of upstream's TestJobBackoffForOnFailure, TestSyncJobWithJobPodFailurePolicy,
// TestSyncJobWithJobSuccessPolicy and TestSyncJobWithJobBackoffLimitPerIndex
// (pkg/controller/job/job_controller_test.go) not covered by the other tables. Upstream's
// fake sync removes finalizers within the pass and adds Failed/Complete at once; here the
// pass that records the last pods leaves them uncounted and the next pass finishes.
func TestPlanPolicyEdgeCases(t *testing.T) {
	started := ago(time.Minute)
	onFailure := func(limit int32) *jobW {
		return job("pi", "ns").RestartPolicy(corev1.RestartPolicyOnFailure).BackoffLimit(limit).Completions(5).Parallelism(2)
	}
	initRestarted := running("a").Obj()
	initRestarted.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", RestartCount: 1}}
	backoffMsg := func(detail string) string { return v1alpha1.MessageBackoffLimitExceeded + detail }
	failJobMsg := "Container x for pod ns/a failed with exit code 3 matching FailJob rule at index 0"
	successRule := v1alpha1.SuccessPolicyRule{SucceededCount: ptr.To[int32](1)}
	runPlanCases(t, map[string]planCase{
		"OnFailure: restarts of running and pending pods add up to the limit": {
			job:  onFailure(2).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Restarts("main", 1), pod("b").Phase(corev1.PodPending).Restarts("main", 1)),
			want: outcome{Status: status().Terminating(2).StartTime(started).UncountedFailed("a", "b").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg(": pod a, container main restarted 1 times"), now).Obj(),
				StatusChanged: true, Deleted: []string{"a", "b"}, RemoveFinalizers: []string{"a", "b"}},
		},
		"OnFailure: init container restarts count": {
			job:  onFailure(1).Parallelism(1).Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: []*corev1.Pod{initRestarted},
			want: outcome{Status: status().Terminating(1).StartTime(started).UncountedFailed("a").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg(": pod a, container init restarted 1 times"), now).Obj(),
				StatusChanged: true, Deleted: []string{"a"}, RemoveFinalizers: []string{"a"}},
		},
		"OnFailure: restarts of a succeeded pod do not count": {
			job:  onFailure(1).Parallelism(1).Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("s").Restarts("side", 3), running("a")),
			want: outcome{Status: status().Active(1).StartTime(started).Uncounted(uids("s"), nil).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"s"}},
		},
		"OnFailure: backoffLimit 0 fails on the first restart": {
			job:  onFailure(0).Parallelism(1).Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(running("a").Restarts("main", 1)),
			want: outcome{Status: status().Terminating(1).StartTime(started).UncountedFailed("a").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg(": pod a, container main restarted 1 times"), now).Obj(),
				StatusChanged: true, Deleted: []string{"a"}, RemoveFinalizers: []string{"a"}},
		},
		"ignored failures still delay the replacement (UT ignored failures delays pod recreation)": {
			job: job("pi", "ns").BackoffLimit(0).PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionIgnore, 1)).
				Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: pods(failedAt("f", 4*time.Second)),
			want: outcome{Status: status().StartTime(started).Obj(), StatusChanged: true, RemoveFinalizers: []string{"f"},
				RequeueAfter:         6 * time.Second,
				FailurePolicyActions: map[v1alpha1.PodFailurePolicyAction]int32{v1alpha1.PodFailurePolicyActionIgnore: 1}},
		},
		"success policy met while another index failed: the failure is counted, the running pod is not": {
			job: job("pi", "ns").Indexed().Completions(3).Parallelism(3).SuccessPolicy(successRule).
				Status(status().Active(3).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("s0").Index(0), failed("f1").Index(1), running("r2").Index(2)),
			want: outcome{Status: status().Terminating(1).Succeeded(1).CompletedIndexes("0").StartTime(started).UncountedFailed("f1").
				Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "SuccessPolicy", "Matched rules at index 0", now).Obj(),
				StatusChanged: true, Deleted: []string{"r2"}, RemoveFinalizers: []string{"s0", "f1", "r2"}, PodsFinishedSucceeded: 1},
		},
		"backoffLimit beats a success policy met in the same pass": {
			job: job("pi", "ns").Indexed().Completions(2).Parallelism(2).BackoffLimit(0).SuccessPolicy(successRule).
				Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: pods(succeeded("s0").Index(0), failed("f1").Index(1)),
			want: outcome{Status: status().Succeeded(1).CompletedIndexes("0").StartTime(started).UncountedFailed("f1").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded",
					backoffMsg(": last failed pod f1, container main exited with code 1"), now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"s0", "f1"}, PodsFinishedSucceeded: 1,
				AfterRelease: &outcome{Status: status().Succeeded(1).Failed(1).CompletedIndexes("0").StartTime(started).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg(": last failed pod f1, container main exited with code 1"), now).
					Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "BackoffLimitExceeded", backoffMsg(": last failed pod f1, container main exited with code 1"), now).Obj(),
					StatusChanged: true, Events: []Event{{Type: corev1.EventTypeWarning, Reason: "BackoffLimitExceeded", Message: backoffMsg(": last failed pod f1, container main exited with code 1")}},
					Finished: &Finish{Reason: "BackoffLimitExceeded"}, PodsFinishedFailed: 1}},
		},
		"existing FailureTarget never turns into SuccessCriteriaMet": {
			job: job("pi", "ns").Indexed().Completions(2).Parallelism(2).SuccessPolicy(successRule).
				Status(status().Failed(1).StartTime(started).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, ago(time.Second)).Obj()).Obj(),
			pods: pods(succeeded("s0").Index(0)),
			want: outcome{Status: status().Failed(1).Succeeded(1).CompletedIndexes("0").StartTime(started).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, ago(time.Second)).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"s0"}, PodsFinishedSucceeded: 1,
				AfterRelease: &outcome{Status: status().Failed(1).Succeeded(1).CompletedIndexes("0").StartTime(started).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, ago(time.Second)).
					Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, now).Obj(),
					StatusChanged: true, Events: []Event{{Type: corev1.EventTypeWarning, Reason: "PodFailurePolicy", Message: failJobMsg}},
					Finished: &Finish{Reason: "PodFailurePolicy"}}},
		},
		"existing FailureTarget: Failed once no pod keeps the finalizer": {
			job: job("pi", "ns").Indexed().Completions(2).Parallelism(2).SuccessPolicy(successRule).
				Status(status().Failed(1).Succeeded(1).CompletedIndexes("0").StartTime(started).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, ago(time.Second)).Obj()).Obj(),
			pods: pods(succeeded("s0").Index(0).NoFinalizer()),
			want: outcome{Status: status().Failed(1).Succeeded(1).CompletedIndexes("0").StartTime(started).
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, ago(time.Second)).
				Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, now).Obj(),
				StatusChanged: true, Finished: &Finish{Reason: "PodFailurePolicy"},
				Events: []Event{{Type: corev1.EventTypeWarning, Reason: "PodFailurePolicy", Message: failJobMsg}}},
		},
		"pods killed by the failing job do not fail their indexes while their finalizer removal is in flight": {
			job: job("pi", "ns").Indexed().Completions(3).Parallelism(3).BackoffLimitPerIndex(1).BackoffLimit(2).
				Status(status().Failed(2).FailedIndexes("").StartTime(started).UncountedFailed("f2", "r0", "r1").
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", "m", ago(time.Second)).Obj()).Obj(),
			pods: pods(pod("r0").Index(0).FailureCount(1, 0).Deleted(ago(time.Second)),
				pod("r1").Index(1).FailureCount(1, 0).Deleted(ago(time.Second)), failed("f2").Index(2).NoFinalizer()),
			pending: uids("r0", "r1"),
			want: outcome{Status: status().Failed(3).Terminating(2).FailedIndexes("").StartTime(started).UncountedFailed("r0", "r1").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", "m", ago(time.Second)).Obj(),
				StatusChanged: true, PodsFinishedFailed: 1},
		},
		"FailJob on a per-index job fails the job, not the index": {
			job: job("pi", "ns").Indexed().Completions(2).Parallelism(2).BackoffLimitPerIndex(1).
				PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionFailJob, 3)).
				Status(status().Active(2).FailedIndexes("").StartTime(started).Obj()).Obj(),
			pods: pods(pod("a").Phase(corev1.PodFailed).Exited("x", 3, ago(time.Hour)).Index(0).FailureCount(0, 0)),
			want: outcome{Status: status().FailedIndexes("").StartTime(started).UncountedFailed("a").
				Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, now).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"a"},
				FailurePolicyActions: map[v1alpha1.PodFailurePolicyAction]int32{v1alpha1.PodFailurePolicyActionFailJob: 1},
				AfterRelease: &outcome{Status: status().Failed(1).FailedIndexes("").StartTime(started).
					Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, now).
					Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "PodFailurePolicy", failJobMsg, now).Obj(),
					StatusChanged: true, Events: []Event{{Type: corev1.EventTypeWarning, Reason: "PodFailurePolicy", Message: failJobMsg}},
					Finished: &Finish{Reason: "PodFailurePolicy"}, PodsFinishedFailed: 1}},
		},
	})
}
