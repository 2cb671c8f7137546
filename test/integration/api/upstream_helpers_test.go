package api

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// The upstream* tests port the tables of upstream's pkg/apis/batch/validation,
// pkg/apis/batch/v1 (defaults) and pkg/registry/batch/job (strategy) tests. Upstream calls
// its validation functions directly on objects whose selector the registry has already
// generated; here every case goes through the real API server, so an upstream "valid
// generated selector" object is created without a selector and then gets the one the
// controller writes on its first pass (setGeneratedSelector).

// upstreamJob is upstream's validPodTemplateSpecForGenerated: container "ctr", init
// container "def", restartPolicy OnFailure, and no selector (generated later).
func upstreamJob() *testutil.JobWrapper {
	w := testutil.MakeBareBatchJob(uniqueName("myjob"), ns).RestartPolicy(corev1.RestartPolicyOnFailure)
	w.Spec.Template.Spec.Containers[0].Name = "ctr"
	return w.InitContainer("def")
}

// upstreamJobNever is validPodTemplateSpecForGeneratedRestartPolicyNever.
func upstreamJobNever() *testutil.JobWrapper {
	return upstreamJob().RestartPolicy(corev1.RestartPolicyNever)
}

// manualJob is upstream's validManualSelector {a: b} with matching template labels.
func manualJob() *testutil.JobWrapper {
	w := testutil.MakeBareBatchJob(uniqueName("myjob"), ns).RestartPolicy(corev1.RestartPolicyOnFailure)
	w.Spec.Template.Spec.Containers[0].Name = "ctr"
	return w.ManualSelector(map[string]string{"a": "b"}).TemplateLabel("a", "b")
}

func exitRule(action bj.PodFailurePolicyAction, op bj.PodFailurePolicyOnExitCodesOperator, container string, values ...int32) bj.PodFailurePolicyRule {
	r := testutil.ExitCodes(action, op, values...)
	if container != "" {
		r.OnExitCodes.ContainerName = ptr.To(container)
	}
	return r
}

func condRule(action bj.PodFailurePolicyAction, conds ...bj.PodFailurePolicyOnPodConditionsPattern) bj.PodFailurePolicyRule {
	return bj.PodFailurePolicyRule{Action: action, OnPodConditions: conds}
}

func pattern(t corev1.PodConditionType, s corev1.ConditionStatus) bj.PodFailurePolicyOnPodConditionsPattern {
	return bj.PodFailurePolicyOnPodConditionsPattern{Type: t, Status: s}
}

// createAccepted creates the BatchJob and, unless it has a manual selector, performs the
// controller's first write (generated selector and labels); both must be accepted.
func createAccepted(t *testing.T, job *bj.BatchJob) {
	t.Helper()
	create(t, job)
	if ptr.Deref(job.Spec.ManualSelector, false) {
		return
	}
	if err := update(t, job, setGeneratedSelector); err != nil {
		t.Fatalf("controller's selector update: %v", err)
	}
}

// generatedWithout is the controller's first write with one generated label left out of
// the template: what upstream's validateGeneratedSelector sees when a label is missing.
func generatedWithout(label string) func(*bj.BatchJob) {
	return func(j *bj.BatchJob) {
		setGeneratedSelector(j)
		delete(j.Spec.Template.Labels, label)
	}
}

// running creates the BatchJob, gives it the generated selector, and applies status (may be
// nil), leaving an object like upstream's "old" job in an update test.
func running(t *testing.T, w *testutil.JobWrapper, status func(*bj.BatchJobStatus)) *bj.BatchJob {
	t.Helper()
	job := w.Obj()
	createAccepted(t, job)
	if status != nil {
		if err := updateStatus(t, job, status); err != nil {
			t.Fatalf("seeding status: %v", err)
		}
	}
	return job
}

var testTime = metav1.Now()
