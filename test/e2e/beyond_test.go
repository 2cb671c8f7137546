package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The opt-in features beyond batch/v1 on the local cluster, with the KWOK stages playing
// what a kubelet would do: a pod whose image cannot be pulled (podStartupPolicy), pods that
// fail (retryPolicy), and the STATUS a user waits on (status.state).
func TestBeyondPodStartupPolicy(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "beyond-startup")
	sample, err := os.ReadFile(filepath.Join(root, "config", "samples", "beyond", "startup-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	applyYAML(t, ns, string(sample))
	eventually(t, 2*time.Minute, "startup-policy to fail by its podFailurePolicy", func() (bool, string) {
		st, reason := getBatchJob(t, ns, "startup-policy").condition("Failed")
		return st == "True" && reason == "PodFailurePolicy", fmt.Sprintf("Failed=%s (%s)", st, reason)
	})
	out := mustKubectl(t, "get", "batchjob", "startup-policy", "-n", ns, "-o",
		"jsonpath={.status.failed} {.status.state} {.status.recentFailures[0].reason}")
	if out != "1 Failed ImagePullBackOff" {
		t.Errorf("failed, state, recentFailures[0].reason = %q, want \"1 Failed ImagePullBackOff\"", out)
	}
	events := mustKubectl(t, "get", "events", "-n", ns, "-o", "jsonpath={.items[*].reason}")
	if !strings.Contains(events, "PodStartupFailed") {
		t.Errorf("events %q lack PodStartupFailed", events)
	}
}

// retryPolicy.initialDelaySeconds 0: failed pods are replaced without the 10 s backoff and
// the job reaches its backoffLimit; and `kubectl wait --for=jsonpath` works on the STATUS
// column's state.
func TestBeyondRetryPolicyAndState(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "beyond-retry")
	applyYAML(t, ns, strings.Replace(simulatedJob("flaky", "1s", "backoffLimit: 2",
		"retryPolicy:\n    initialDelaySeconds: 0\n    maxDelaySeconds: 1"),
		"batchjob.dev/simulate-duration: \"1s\"", "batchjob.dev/simulate-duration: \"1s\"\n        batchjob.dev/simulate-exit-code: \"1\"", 1))
	eventually(t, 90*time.Second, "flaky to exceed its backoffLimit", func() (bool, string) {
		j := getBatchJob(t, ns, "flaky")
		st, reason := j.condition("Failed")
		return st == "True" && reason == "BackoffLimitExceeded", fmt.Sprintf("Failed=%s (%s), failed=%d", st, reason, j.Status.Failed)
	})
	if j := getBatchJob(t, ns, "flaky"); j.Status.Failed != 3 {
		t.Errorf("failed = %d, want 3 (backoffLimit 2)", j.Status.Failed)
	}
	applyYAML(t, ns, longRunning("steady", 1, 1))
	mustKubectl(t, "wait", "--for=jsonpath={.status.state}=Running", "batchjob/steady", "-n", ns, "--timeout=60s")
}
