package policies

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

func exitedStatus(container string, code int32) corev1.PodStatus {
	return corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: container, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}},
	}}}
}

func onExitCodes(action v1alpha1.PodFailurePolicyAction, codes ...int32) v1alpha1.PodFailurePolicyRule {
	return v1alpha1.PodFailurePolicyRule{Action: action, OnExitCodes: &v1alpha1.PodFailurePolicyOnExitCodesRequirement{
		Operator: v1alpha1.PodFailurePolicyOnExitCodesOpIn, Values: codes,
	}}
}

func onDisruption(action v1alpha1.PodFailurePolicyAction) v1alpha1.PodFailurePolicyRule {
	return v1alpha1.PodFailurePolicyRule{Action: action, OnPodConditions: []v1alpha1.PodFailurePolicyOnPodConditionsPattern{
		{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
	}}
}

// Port of upstream TestJobPodFailurePolicy (INT:268-551).
func TestJobPodFailurePolicy(t *testing.T) {
	job := v1alpha1.BatchJobSpec{
		Template: framework.MainContainerTemplate(),
		PodFailurePolicy: &v1alpha1.PodFailurePolicy{Rules: []v1alpha1.PodFailurePolicyRule{
			onDisruption(v1alpha1.PodFailurePolicyActionIgnore),
			onExitCodes(v1alpha1.PodFailurePolicyActionCount, 10),
			onExitCodes(v1alpha1.PodFailurePolicyActionFailJob, 5, 6, 7),
		}},
	}
	failJobStatus := exitedStatus("main-container", 5)
	ignoreStatus := corev1.PodStatus{Phase: corev1.PodFailed, Conditions: []corev1.PodCondition{
		{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
	}}
	notMatching := corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
		{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
	}}
	negative := v1alpha1.BatchJobSpec{
		Template: framework.MainContainerTemplate(),
		PodFailurePolicy: &v1alpha1.PodFailurePolicy{Rules: []v1alpha1.PodFailurePolicyRule{
			onExitCodes(v1alpha1.PodFailurePolicyActionFailJob, -1073741510, 137),
		}},
	}
	type metric struct {
		labels []string
		value  int
	}
	cases := map[string]struct {
		restartController bool
		job               v1alpha1.BatchJobSpec
		podStatus         corev1.PodStatus
		wantActive        int
		wantFailed        int
		wantCondition     v1alpha1.JobConditionType
		wantFinished      metric
		wantPolicyMetric  *metric
	}{
		"pod status matching the configured FailJob rule on exit codes; job terminated": {
			job: job, podStatus: failJobStatus, wantFailed: 1, wantCondition: v1alpha1.JobFailed,
			wantFinished:     metric{[]string{"NonIndexed", "failed", "PodFailurePolicy"}, 1},
			wantPolicyMetric: &metric{[]string{"FailJob"}, 1},
		},
		"pod status matching the configured FailJob rule on exit codes; with controller restart; job terminated": {
			restartController: true,
			job:               job, podStatus: failJobStatus, wantFailed: 1, wantCondition: v1alpha1.JobFailed,
			wantFinished: metric{[]string{"NonIndexed", "failed", "PodFailurePolicy"}, 1},
		},
		"pod status matching the configured Ignore rule on pod conditions; pod failure not counted": {
			job: job, podStatus: ignoreStatus, wantActive: 1, wantCondition: v1alpha1.JobComplete,
			wantFinished:     metric{[]string{"NonIndexed", "succeeded", "CompletionsReached"}, 1},
			wantPolicyMetric: &metric{[]string{"Ignore"}, 1},
		},
		"pod status matching the configured Count rule on exit codes; pod failure counted": {
			job: job, podStatus: exitedStatus("main-container", 10), wantActive: 1, wantFailed: 1, wantCondition: v1alpha1.JobComplete,
			wantFinished:     metric{[]string{"NonIndexed", "succeeded", "CompletionsReached"}, 1},
			wantPolicyMetric: &metric{[]string{"Count"}, 1},
		},
		"pod status non-matching any configured rule; pod failure counted": {
			job: job, podStatus: notMatching, wantActive: 1, wantFailed: 1, wantCondition: v1alpha1.JobComplete,
			wantFinished:     metric{[]string{"NonIndexed", "succeeded", "CompletionsReached"}, 1},
			wantPolicyMetric: &metric{[]string{"Count"}, 0},
		},
		"pod status matching the configured FailJob rule on a negative exit code - needed for Windows support": {
			job: negative, podStatus: exitedStatus("main-container", -1073741510), wantFailed: 1, wantCondition: v1alpha1.JobFailed,
			wantFinished:     metric{[]string{"NonIndexed", "failed", "PodFailurePolicy"}, 1},
			wantPolicyMetric: &metric{[]string{"FailJob"}, 1},
		},
	}
	ns := env.NewNamespace(t, "pod-failure-policy")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			finished := framework.NewCounterDelta(t, metrics.JobsFinishedTotal, tc.wantFinished.labels)
			var handled *framework.CounterDelta
			if tc.wantPolicyMetric != nil {
				handled = framework.NewCounterDelta(t, metrics.PodFailuresHandledByFailurePolicy, tc.wantPolicyMetric.labels)
			}
			jobObj := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("", "").FullSpec(&tc.job).Obj())
			env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

			if _, err := env.UpdateJobPodsStatus(jobObj, func(p *corev1.Pod) bool { p.Status = tc.podStatus; return true }, 1); err != nil {
				t.Fatalf("Failed updating the status of a Job Pod: %v", err)
			}
			if tc.restartController {
				env.RestartShared(t)
			}
			env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{
				Active: tc.wantActive, Failed: tc.wantFailed, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0),
			})
			if tc.wantCondition == v1alpha1.JobComplete {
				if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, 1); err != nil {
					t.Fatalf("Failed setting phase %s on Job Pods: %v", corev1.PodSucceeded, err)
				}
			}
			env.ValidateJobCondition(t, jobObj, tc.wantCondition)
			finished.Validate(t, tc.wantFinished.value, tc.wantFinished.labels...)
			if handled != nil {
				handled.Validate(t, tc.wantPolicyMetric.value, tc.wantPolicyMetric.labels...)
			}
			env.ValidateFinishedPodsNoFinalizer(t, jobObj)
		})
	}
}

// Port of upstream TestJobPodFailurePolicyWithFailedPodDeletedDuringControllerRestart
// (INT:132-266): the controller is stopped right after it released the failed pod's
// finalizer (FailureTarget written), the pod is deleted, and a new controller must still
// finish the job as Failed without leaving finalizers behind.
func TestJobPodFailurePolicyWithFailedPodDeletedDuringControllerRestart(t *testing.T) {
	ns := env.NewNamespace(t, "simple")
	count := int32(3)
	spec := v1alpha1.BatchJobSpec{
		Template:    framework.MainContainerTemplate(),
		Parallelism: ptr.To(count), Completions: ptr.To(count),
		PodFailurePolicy: &v1alpha1.PodFailurePolicy{Rules: []v1alpha1.PodFailurePolicyRule{
			onExitCodes(v1alpha1.PodFailurePolicyActionFailJob, 5),
		}},
	}
	jobObj := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("", "").FullSpec(&spec).Obj())
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: int(count), Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	pods := framework.FilterPods(env.JobPods(t, jobObj), framework.IsActivePhase)
	failed := pods[1]
	env.WritePodStatus(t, &failed, exitedStatus("main-container", 5))

	ctx := context.Background()
	err := wait.PollUntilContextTimeout(ctx, framework.WaitInterval, framework.WaitTimeout, true, func(ctx context.Context) (bool, error) {
		p := &corev1.Pod{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&failed), p); err != nil {
			return false, err
		}
		return !jobpod.HasFinalizer(p), nil
	})
	if err != nil {
		t.Fatalf("waiting for the failed pod's finalizer removal: %v", err)
	}
	env.StopShared()
	if err := env.Client.Delete(ctx, &failed, client.GracePeriodSeconds(0)); err != nil {
		t.Fatalf("deleting the failed pod: %v", err)
	}
	env.ResumeShared(t)
	got := env.ValidateJobCondition(t, jobObj, v1alpha1.JobFailed)
	if c := framework.ConditionStatus(got, v1alpha1.JobFailureTarget); c != corev1.ConditionTrue {
		t.Errorf("FailureTarget condition status %q, want True", c)
	}
	env.ValidateNoFinalizers(t, jobObj)
}
