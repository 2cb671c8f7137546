package beyond

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestState: status.state is Pending while no pod has started, Running once one runs,
// Suspended, Pending again after a resume, and Complete; the CRD accepts only its values.
func TestState(t *testing.T) {
	ns := env.NewNamespace(t, "state")
	job := env.CreateJob(t, newJob(ns, "state", func(s *v1alpha1.BatchJobSpec) {
		s.Completions, s.Parallelism = ptr.To[int32](2), ptr.To[int32](2)
	}))
	env.WaitForPodsToBeActive(t, job, 2)
	waitForState(t, job, v1alpha1.StatePending)

	pods := framework.ActivePods(env.JobPods(t, job))
	env.SetPodPhase(t, &pods[0], corev1.PodRunning, 0)
	waitForState(t, job, v1alpha1.StateRunning)

	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) })
	waitForState(t, job, v1alpha1.StateSuspended)
	env.FailTerminatingPods(t, ns)
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(false) })
	env.WaitForPodsToBeActive(t, job, 2)
	waitForState(t, job, v1alpha1.StatePending)

	if _, err := env.SetJobPodsPhase(job, corev1.PodSucceeded, 2); err != nil {
		t.Fatal(err)
	}
	waitForState(t, job, v1alpha1.StateComplete)

	got := env.GetJob(t, job)
	got.Status.State = "Sleeping"
	err := env.Client.Status().Update(context.Background(), got)
	if err == nil || !strings.Contains(err.Error(), "status.state") {
		t.Errorf("status.state Sleeping: error %v, want one naming status.state", err)
	}
}
