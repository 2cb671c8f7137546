package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/test/util"
)

// trackingFinalizer is the pod finalizer of API.md ("Pods that a BatchJob creates").
const trackingFinalizer = "batchjob.dev/job-tracking"

// batchJob holds the fields of a BatchJob that these tests read. It is decoded from
// `kubectl get -o json` on purpose: the tests see what a user of kubectl sees.
type batchJob struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Parallelism *int32 `json:"parallelism"`
		Completions *int32 `json:"completions"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type               string      `json:"type"`
			Status             string      `json:"status"`
			Reason             string      `json:"reason"`
			LastTransitionTime metav1.Time `json:"lastTransitionTime"`
		} `json:"conditions"`
		StartTime        *metav1.Time `json:"startTime"`
		CompletionTime   *metav1.Time `json:"completionTime"`
		Active           int32        `json:"active"`
		Succeeded        int32        `json:"succeeded"`
		Failed           int32        `json:"failed"`
		CompletedIndexes string       `json:"completedIndexes"`
	} `json:"status"`
}

// condition returns the status and reason of the condition of type t ("" if absent).
func (j *batchJob) condition(t string) (string, string) {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Status, c.Reason
		}
	}
	return "", ""
}

// kubectl runs bin/kubectl against the e2e cluster and returns stdout; a failure carries
// stderr. Every call is bounded.
func kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// applyYAML server-side applies a manifest given inline, or a file when manifest starts
// with "@". For its first seconds a new CRD's kind can be refused with ServiceUnavailable
// while the apiserver rebuilds its schema; those refusals are retried for a minute.
func applyYAML(t *testing.T, ns, manifest string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, kubectlBin, "--kubeconfig", kubeconfig, "apply", "--server-side", "-n", ns, "-f", "-")
		if file, ok := strings.CutPrefix(manifest, "@"); ok {
			cmd.Args[len(cmd.Args)-1] = file
		} else {
			cmd.Stdin = strings.NewReader(manifest)
		}
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return
		}
		if !strings.Contains(string(out), "ServiceUnavailable") || time.Now().After(deadline) {
			t.Fatalf("kubectl apply: %v: %s\n%s", err, out, manifest)
		}
		time.Sleep(time.Second)
	}
}

// newNamespace creates a namespace for one test (deleted at the end) and waits for its
// default ServiceAccount, without which pod creation is rejected.
func newNamespace(t *testing.T, name string) string {
	t.Helper()
	mustKubectl(t, "create", "namespace", name)
	t.Cleanup(func() { _, _ = kubectl("delete", "namespace", name, "--wait=false") })
	eventually(t, time.Minute, "default ServiceAccount in "+name, func() (bool, string) {
		_, err := kubectl("get", "serviceaccount", "default", "-n", name)
		return err == nil, fmt.Sprint(err)
	})
	return name
}

// eventually polls cond every second until it holds or timeout passes; last describes
// the state seen last, for the failure message.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, last string)) {
	t.Helper()
	util.Eventually(t, timeout, time.Second, what, cond)
}

func getBatchJob(t *testing.T, ns, name string) *batchJob {
	t.Helper()
	var j batchJob
	if err := json.Unmarshal([]byte(mustKubectl(t, "get", "batchjob", name, "-n", ns, "-o", "json")), &j); err != nil {
		t.Fatalf("decoding batchjob %s: %v", name, err)
	}
	return &j
}

// podsOf lists the pods of a BatchJob by the job-name label, oldest first.
func podsOf(t *testing.T, ns, name string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	out := mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name="+name, "-o", "json", "--sort-by=.metadata.creationTimestamp")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("decoding pods of %s: %v", name, err)
	}
	return list.Items
}

// waitForPods waits until n pods of the BatchJob are Running.
func waitForRunningPods(t *testing.T, ns, name string, n int) {
	t.Helper()
	eventually(t, 90*time.Second, fmt.Sprintf("%d running pods of %s", n, name), func() (bool, string) {
		running := 0
		for _, p := range podsOf(t, ns, name) {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				running++
			}
		}
		return running == n, fmt.Sprintf("%d running", running)
	})
}

// longRunning is a BatchJob manifest whose pods run for an hour on the KWOK cluster.
func longRunning(name string, parallelism, completions int) string {
	return simulatedJob(name, "1h", fmt.Sprintf("parallelism: %d", parallelism), fmt.Sprintf("completions: %d", completions))
}

// simulatedJob is a BatchJob manifest whose pods the simulated kubelet runs for duration
// and then succeeds; specFields are extra lines of its spec, e.g. "completions: 3".
func simulatedJob(name, duration string, specFields ...string) string {
	var spec strings.Builder
	for _, f := range specFields {
		spec.WriteString("  " + f + "\n")
	}
	return fmt.Sprintf(`apiVersion: batchjob.dev/v1alpha1
kind: BatchJob
metadata:
  name: %s
spec:
%s  template:
    metadata:
      annotations:
        batchjob.dev/simulate-duration: %q
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:1.36
`, name, spec.String(), duration)
}
