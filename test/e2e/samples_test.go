package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// sampleWant is how each sample of config/samples ends on the KWOK cluster.
type sampleWant struct {
	condition        string // Complete or Failed
	reason           string // of the Failed condition
	succeeded        int32  // -1: not checked (work queue: as many workers as finished)
	failed           int32
	completedIndexes string
	restarts         int32 // container restarts of each pod (OnFailure samples)
}

var sampleWants = map[string]sampleWant{
	"pi":              {condition: "Complete", succeeded: 1},
	"single-task":     {condition: "Complete", succeeded: 1},
	"parallel-fixed":  {condition: "Complete", succeeded: 5},
	"parallel-queue":  {condition: "Complete", succeeded: -1},
	"indexed":         {condition: "Complete", succeeded: 5, completedIndexes: "0-4"},
	"retry-backoff":   {condition: "Failed", reason: "BackoffLimitExceeded", failed: 5},
	"deadline":        {condition: "Complete", succeeded: 1},
	"cleanup":         {condition: "Complete", succeeded: 1},
	"db-migration":    {condition: "Complete", succeeded: 1},
	"data-processing": {condition: "Complete", succeeded: 10},
	"backup":          {condition: "Complete", succeeded: 1, restarts: 1},
}

// TestSamples applies every file of config/samples and checks that each BatchJob ends as
// the Kubernetes Jobs guide says its batch/v1 twin does.
func TestSamples(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "e2e-samples")
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found: %v", err)
	}
	for _, f := range files {
		applyYAML(t, ns, "@"+f)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		want, ok := sampleWants[name]
		if !ok {
			t.Errorf("config/samples/%s has no expected outcome in sampleWants", filepath.Base(f))
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkSample(t, ns, name, want)
		})
	}
}

func checkSample(t *testing.T, ns, name string, want sampleWant) {
	// retry-backoff needs ~2.5 minutes of pod re-creation backoff (10+20+40+80 s).
	mustKubectl(t, "wait", "-n", ns, "--for=condition="+want.condition, "batchjob/"+name, "--timeout=300s")
	j := getBatchJob(t, ns, name)
	if status, reason := j.condition(want.condition); status != "True" || (want.reason != "" && reason != want.reason) {
		t.Errorf("%s condition: got status %q reason %q, want True %q", want.condition, status, reason, want.reason)
	}
	if want.succeeded >= 0 && j.Status.Succeeded != want.succeeded {
		t.Errorf("status.succeeded = %d, want %d", j.Status.Succeeded, want.succeeded)
	}
	if want.succeeded < 0 && j.Status.Succeeded < 1 {
		t.Errorf("status.succeeded = %d, want at least 1", j.Status.Succeeded)
	}
	if j.Status.Failed != want.failed {
		t.Errorf("status.failed = %d, want %d", j.Status.Failed, want.failed)
	}
	if j.Status.CompletedIndexes != want.completedIndexes {
		t.Errorf("status.completedIndexes = %q, want %q", j.Status.CompletedIndexes, want.completedIndexes)
	}
	if want.condition == "Complete" && j.Status.CompletionTime == nil {
		t.Errorf("status.completionTime is not set on a complete BatchJob")
	}
	if want.restarts > 0 {
		for _, p := range podsOf(t, ns, name) {
			if got := p.Status.ContainerStatuses[0].RestartCount; got != want.restarts {
				t.Errorf("pod %s restartCount = %d, want %d", p.Name, got, want.restarts)
			}
		}
	}
}

// TestKubectl checks what a user sees with the everyday kubectl commands of API.md.
func TestKubectl(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "e2e-kubectl")
	applyYAML(t, ns, shortJob("hello"))
	mustKubectl(t, "wait", "-n", ns, "--for=condition=Complete", "batchjob/hello", "--timeout=120s")

	got := mustKubectl(t, "get", "-n", ns, "batchjobs")
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get batchjobs printed %d lines, want 2:\n%s", len(lines), got)
	}
	if header := strings.Fields(lines[0]); strings.Join(header, " ") != "NAME STATUS COMPLETIONS DURATION AGE" {
		t.Errorf("kubectl get batchjobs header = %q, want NAME STATUS COMPLETIONS DURATION AGE", lines[0])
	}
	if row := strings.Fields(lines[1]); len(row) != 5 || row[0] != "hello" || row[1] != "Complete" || row[2] != "3/3" {
		t.Errorf("kubectl get batchjobs row = %q, want hello Complete 3/3 DURATION AGE", lines[1])
	}

	cond := mustKubectl(t, "get", "-n", ns, "batchjob/hello", "-o", `jsonpath={.status.conditions[?(@.type=="Complete")].status}`)
	if cond != "True" {
		t.Errorf(`jsonpath .status.conditions[?(@.type=="Complete")].status = %q, want True`, cond)
	}
	completion := mustKubectl(t, "get", "-n", ns, "batchjob/hello", "-o", "jsonpath={.status.completionTime}")
	if _, err := time.Parse(time.RFC3339, completion); err != nil {
		t.Errorf("jsonpath .status.completionTime = %q: %v", completion, err)
	}

	describe := mustKubectl(t, "describe", "-n", ns, "batchjob", "hello")
	for _, s := range []string{"SuccessfulCreate", "Created pod: hello-", "Completed"} {
		if !strings.Contains(describe, s) {
			t.Errorf("kubectl describe batchjob lacks %q:\n%s", s, describe)
		}
	}

	pods := mustKubectl(t, "get", "pods", "-n", ns, "-l", "job-name=hello", "--no-headers")
	completed := 0
	for _, line := range strings.Split(strings.TrimSpace(pods), "\n") {
		if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[0], "hello-") && f[2] == "Completed" {
			completed++
		}
	}
	if completed != 3 {
		t.Errorf("kubectl get pods -l job-name=hello: %d Completed pods, want 3:\n%s", completed, pods)
	}
	for _, p := range podsOf(t, ns, "hello") {
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s phase %s, want Succeeded", p.Name, p.Status.Phase)
		}
	}

	if all := mustKubectl(t, "get", "all", "-n", ns); !strings.Contains(all, "batchjob.batchjob.dev/hello") {
		t.Errorf("kubectl get all does not list the BatchJob (category all):\n%s", all)
	}
}
