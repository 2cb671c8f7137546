package beyond

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestRecentFailures: each counted pod failure lands in status.recentFailures (newest
// last, with container, exit code, reason and message) once, also across a controller
// restart, and stays there after the job failed and its pods are gone.
func TestRecentFailures(t *testing.T) {
	ns := env.NewNamespace(t, "recent-failures")
	job := env.CreateJob(t, newJob(ns, "evidence", func(s *v1alpha1.BatchJobSpec) {
		s.BackoffLimit = ptr.To[int32](1)
	}))
	oom := func(p *corev1.Pod) {
		now := metav1.Now()
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", Message: "ran out of memory", FinishedAt: now},
		}}}
	}
	first := env.WaitForActivePods(t, job, 1)[0]
	if err := env.UpdatePodStatus(&first, oom); err != nil {
		t.Fatal(err)
	}
	waitForFailures(t, job, first.Name)
	got := env.GetJob(t, job).Status.RecentFailures[0]
	if got.Container != "main" || got.ExitCode != 137 || got.Reason != "OOMKilled" || got.Message != "ran out of memory" || got.Index != nil {
		t.Errorf("recentFailures[0] = %+v, want main, 137, OOMKilled, its message, no index", got)
	}

	env.RestartShared(t)
	second := env.WaitForActivePods(t, job, 1)[0]
	env.SetPodPhase(t, &second, corev1.PodFailed, 3)
	env.WaitForCondition(t, job, v1alpha1.JobFailed, v1alpha1.ReasonBackoffLimitExceeded)
	env.DeletePods(t, ns)
	waitForFailures(t, job, first.Name, second.Name)
}

// waitForFailures waits until status.recentFailures lists exactly these pods, in order.
func waitForFailures(t *testing.T, job *v1alpha1.BatchJob, pods ...string) {
	t.Helper()
	framework.Eventually(t, fmt.Sprintf("recentFailures %v", pods), func() (bool, string) {
		var got []string
		for _, f := range env.GetJob(t, job).Status.RecentFailures {
			got = append(got, f.Pod)
		}
		return fmt.Sprint(got) == fmt.Sprint(pods), fmt.Sprint(got)
	})
}
