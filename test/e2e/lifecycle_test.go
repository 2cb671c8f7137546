package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDeleteRemovesPods: `kubectl delete batchjob` (background propagation, the CRD
// default) removes the pods through the garbage collector; the controller strips its
// tracking finalizer so the simulated kubelet can let them go.
func TestDeleteRemovesPods(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "e2e-delete")
	applyYAML(t, ns, longRunning("doomed", 2, 4))
	waitForRunningPods(t, ns, "doomed", 2)

	mustKubectl(t, "delete", "-n", ns, "batchjob", "doomed", "--timeout=60s")
	eventually(t, 90*time.Second, "the pods of the deleted BatchJob to disappear", func() (bool, string) {
		pods := podsOf(t, ns, "doomed")
		return len(pods) == 0, describePods(pods)
	})
}

// TestDeleteOrphan: with --cascade=orphan the pods stay, running, without an owner and
// without the tracking finalizer.
func TestDeleteOrphan(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "e2e-orphan")
	applyYAML(t, ns, longRunning("orphaner", 2, 4))
	waitForRunningPods(t, ns, "orphaner", 2)

	mustKubectl(t, "delete", "-n", ns, "batchjob", "orphaner", "--cascade=orphan", "--timeout=60s")
	eventually(t, 90*time.Second, "orphaned pods without owner and tracking finalizer", func() (bool, string) {
		pods := podsOf(t, ns, "orphaner")
		ok := len(pods) == 2
		for _, p := range pods {
			ok = ok && len(p.OwnerReferences) == 0 && !slices.Contains(p.Finalizers, trackingFinalizer)
		}
		return ok, describePods(pods)
	})
	// They were orphaned, not deleted: still there and running a moment later.
	time.Sleep(3 * time.Second)
	for _, p := range podsOf(t, ns, "orphaner") {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			t.Errorf("orphaned pod %s: deletionTimestamp %v, phase %s; want not deleted, Running", p.Name, p.DeletionTimestamp, p.Status.Phase)
		}
	}
	if out, err := kubectl("get", "-n", ns, "batchjob", "orphaner"); err == nil {
		t.Errorf("the BatchJob still exists after kubectl delete --cascade=orphan:\n%s", out)
	}
}

// TestScale: `kubectl scale batchjob --replicas` sets spec.parallelism through the scale
// subresource, and the controller follows it up and down.
func TestScale(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "e2e-scale")
	applyYAML(t, ns, longRunning("scaled", 1, 6))
	waitForRunningPods(t, ns, "scaled", 1)

	for _, n := range []int{3, 1} {
		mustKubectl(t, "scale", "-n", ns, "batchjob", "scaled", fmt.Sprintf("--replicas=%d", n))
		if got := getBatchJob(t, ns, "scaled").Spec.Parallelism; got == nil || int(*got) != n {
			t.Fatalf("after kubectl scale --replicas=%d, spec.parallelism = %v", n, got)
		}
		waitForRunningPods(t, ns, "scaled", n)
		eventually(t, time.Minute, fmt.Sprintf("status.active = %d", n), func() (bool, string) {
			active := getBatchJob(t, ns, "scaled").Status.Active
			return int(active) == n, fmt.Sprint(active)
		})
	}
}

// TestTTLAfterFinished: a finished BatchJob with ttlSecondsAfterFinished is deleted with
// its pods once the TTL has passed.
func TestTTLAfterFinished(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "e2e-ttl")
	applyYAML(t, ns, simulatedJob("short-lived", "1s", "ttlSecondsAfterFinished: 3"))
	// The completion time comes with the wait itself: a separate get can come after the TTL
	// on a busy machine, and find the job gone.
	out := mustKubectl(t, "wait", "-n", ns, "--for=condition=Complete", "batchjob/short-lived", "--timeout=120s",
		"-o", "jsonpath={.status.completionTime}")
	done, err := time.Parse(time.RFC3339, strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("completionTime %q: %v", out, err)
	}
	finished := &metav1.Time{Time: done}
	eventually(t, 90*time.Second, "the BatchJob to be deleted by its TTL", func() (bool, string) {
		out, err := kubectl("get", "-n", ns, "batchjob", "short-lived", "--ignore-not-found")
		return err == nil && strings.TrimSpace(out) == "", out
	})
	if finished != nil && time.Since(finished.Time) < 3*time.Second {
		t.Errorf("deleted %v after completion, before its TTL of 3s", time.Since(finished.Time))
	}
	eventually(t, 90*time.Second, "the pods of the expired BatchJob to disappear", func() (bool, string) {
		pods := podsOf(t, ns, "short-lived")
		return len(pods) == 0, describePods(pods)
	})
}

// TestBackoffLimitExceeded: failing pods are re-created after 10 s, then 20 s (upstream's
// exponential pod failure backoff), and the BatchJob fails with BackoffLimitExceeded once
// the failures exceed backoffLimit.
func TestBackoffLimitExceeded(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "e2e-backoff")
	applyYAML(t, ns, `apiVersion: batchjob.dev/v1alpha1
kind: BatchJob
metadata:
  name: always-fails
spec:
  backoffLimit: 2
  template:
    metadata:
      annotations:
        batchjob.dev/simulate-duration: "1s"
        batchjob.dev/simulate-exit-code: "3"
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:1.36
`)
	mustKubectl(t, "wait", "-n", ns, "--for=condition=Failed", "batchjob/always-fails", "--timeout=180s")
	j := getBatchJob(t, ns, "always-fails")
	if status, reason := j.condition("Failed"); status != "True" || reason != "BackoffLimitExceeded" {
		t.Errorf("Failed condition %q reason %q, want True BackoffLimitExceeded", status, reason)
	}
	if j.Status.Failed != 3 {
		t.Errorf("status.failed = %d, want 3 (backoffLimit 2 tolerates 2 failures)", j.Status.Failed)
	}
	pods := podsOf(t, ns, "always-fails")
	if len(pods) != 3 {
		t.Fatalf("got %d pods, want 3: %s", len(pods), describePods(pods))
	}
	// Pod i+1 is created no earlier than 10s·2^i after pod i failed. Timestamps have
	// second precision, hence the 1 s slack.
	for i := 0; i+1 < len(pods); i++ {
		term := pods[i].Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 3 {
			t.Fatalf("pod %s: terminated state %+v, want exit code 3", pods[i].Name, term)
		}
		gap := pods[i+1].CreationTimestamp.Sub(term.FinishedAt.Time)
		if least := 10*time.Second<<i - time.Second; gap < least {
			t.Errorf("pod %s created %v after pod %s failed, want at least %v", pods[i+1].Name, gap, pods[i].Name, least)
		}
		t.Logf("pod %d re-created %v after the previous failure", i+2, gap)
	}
	if describe := mustKubectl(t, "describe", "-n", ns, "batchjob", "always-fails"); !strings.Contains(describe, "BackoffLimitExceeded") {
		t.Errorf("kubectl describe shows no BackoffLimitExceeded event:\n%s", describe)
	}
}

func describePods(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		fmt.Fprintf(&b, "%s(phase=%s deleting=%t owners=%d finalizers=%v) ", p.Name, p.Status.Phase,
			p.DeletionTimestamp != nil, len(p.OwnerReferences), p.Finalizers)
	}
	if len(pods) == 0 {
		return "no pods"
	}
	return b.String()
}
