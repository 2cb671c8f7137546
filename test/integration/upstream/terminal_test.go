package upstream

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestDelayTerminalPhaseCondition (job_test.go:1033): the terminal condition waits for
// the terminating pods; until then only the interim condition is set. Upstream runs each
// case with the JobManagedBy gate on and off; the behaviour is the same, so once here.
func TestDelayTerminalPhaseCondition(t *testing.T) {
	template := corev1.PodTemplateSpec{}
	template.Finalizers = []string{framework.BlockDeletionFinalizer}
	template.Spec.Containers = []corev1.Container{{
		Name: "main-container", Image: "foo", ImagePullPolicy: corev1.PullIfNotPresent,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}}
	failOnePod := func(t *testing.T, jobObj *v1alpha1.BatchJob) {
		if _, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 1); err != nil {
			t.Fatalf("Failed setting phase %q on Job Pod: %v", corev1.PodFailed, err)
		}
	}
	succeedOnePodAndScaleDown := func(t *testing.T, jobObj *v1alpha1.BatchJob) {
		env.SetJobPhaseForIndex(t, jobObj, corev1.PodSucceeded, 0)
		if _, err := env.UpdateJob(jobObj, func(j *v1alpha1.BatchJob) {
			j.Spec.Parallelism = ptr.To[int32](1)
			j.Spec.Completions = ptr.To[int32](1)
		}); err != nil {
			t.Fatalf("Unexpected error when scaling down the job: %v", err)
		}
	}
	cond := func(ct v1alpha1.JobConditionType, reason string) v1alpha1.JobCondition {
		return v1alpha1.JobCondition{Type: ct, Status: corev1.ConditionTrue, Reason: reason}
	}
	failureTarget := cond(v1alpha1.JobFailureTarget, v1alpha1.ReasonBackoffLimitExceeded)
	successCriteriaMet := cond(v1alpha1.JobSuccessCriteriaMet, v1alpha1.ReasonCompletionsReached)
	testCases := map[string]struct {
		spec               v1alpha1.BatchJobSpec
		action             func(*testing.T, *v1alpha1.BatchJob)
		wantInterimStatus  *v1alpha1.BatchJobStatus
		wantTerminalStatus v1alpha1.BatchJobStatus
	}{
		"job backoff limit exceeded": {
			spec: v1alpha1.BatchJobSpec{
				Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), Template: template, BackoffLimit: ptr.To[int32](0),
			},
			action: failOnePod,
			wantInterimStatus: &v1alpha1.BatchJobStatus{
				Failed: 2, Terminating: ptr.To[int32](1), Ready: ptr.To[int32](0),
				Conditions: []v1alpha1.JobCondition{failureTarget},
			},
			wantTerminalStatus: v1alpha1.BatchJobStatus{
				Failed: 2, Terminating: ptr.To[int32](0), Ready: ptr.To[int32](0),
				Conditions: []v1alpha1.JobCondition{failureTarget, cond(v1alpha1.JobFailed, v1alpha1.ReasonBackoffLimitExceeded)},
			},
		},
		"job scale down to meet completions": {
			spec: v1alpha1.BatchJobSpec{
				Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), CompletionMode: indexedCompletion, Template: template,
			},
			action: succeedOnePodAndScaleDown,
			wantInterimStatus: &v1alpha1.BatchJobStatus{
				Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](1), CompletedIndexes: "0",
				Conditions: []v1alpha1.JobCondition{successCriteriaMet},
			},
			wantTerminalStatus: v1alpha1.BatchJobStatus{
				Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0), CompletedIndexes: "0",
				Conditions: []v1alpha1.JobCondition{successCriteriaMet, cond(v1alpha1.JobComplete, v1alpha1.ReasonCompletionsReached)},
			},
		},
	}
	ns := env.NewNamespace(t, "delay-terminal-condition")
	for name, test := range testCases {
		t.Run(name, func(t *testing.T) {
			framework.ResetMetrics()
			startJobControllerAndWaitForCaches(t, ns)
			jobObj := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("", "").FullSpec(&test.spec).Obj())
			t.Cleanup(func() {
				if err := cleanUp(jobObj, []string{framework.BlockDeletionFinalizer, v1alpha1.JobTrackingFinalizer}); err != nil {
					t.Fatalf("Failed cleanup: %v", err)
				}
			})
			env.WaitForPodsToBeActive(t, jobObj, *jobObj.Spec.Parallelism)
			test.action(t, jobObj)
			if test.wantInterimStatus != nil {
				env.ValidateJobStatus(t, jobObj, *test.wantInterimStatus)
				if got := env.GetJob(t, jobObj); got.Status.CompletionTime != nil {
					t.Errorf("completionTime set before the terminal condition: %v", got.Status.CompletionTime)
				}
				// Set terminal phase to all the remaining pods to simulate the kubelet.
				jobPods := framework.FilterPods(env.JobPods(t, jobObj), framework.IsActivePhase)
				if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, len(jobPods)); err != nil {
					t.Fatalf("Failed setting phase %q on Job Pod: %v", corev1.PodSucceeded, err)
				}
			}
			env.ValidateJobStatus(t, jobObj, test.wantTerminalStatus)
		})
	}
}
