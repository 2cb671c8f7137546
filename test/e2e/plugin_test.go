package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batchjob-dev/batchjob/internal/indexset"
)

// The kubectl plugin (cmd/kubectl-batchjob) driven the way a user runs it: the real
// kubectl binary finds kubectl-batchjob on PATH and runs it as `kubectl batchjob ...`.

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// pluginPath builds the plugin from this checkout into a directory that goes first on
// PATH (then bin/), so the test never runs a stale bin/kubectl-batchjob.
func pluginPath(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		pluginDir, pluginErr = os.MkdirTemp("", "kubectl-batchjob-e2e-")
		if pluginErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "kubectl-batchjob"), "./cmd/kubectl-batchjob")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			pluginErr = fmt.Errorf("building kubectl-batchjob: %w: %s", err, out)
		}
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginDir + string(os.PathListSeparator) + filepath.Join(root, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")
}

// pluginResult is one `kubectl batchjob` run.
type pluginResult struct {
	stdout, stderr string
	code           int
}

// plugin runs `kubectl batchjob ARGS` against the e2e cluster (KUBECONFIG in the
// environment, as a user has it) with stdin, and returns what it printed and its exit
// status. A run that cannot start or is killed fails the test.
func plugin(t *testing.T, stdin string, args ...string) pluginResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlBin, append([]string{"batchjob"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+pluginPath(t))
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := pluginResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		res.code = exit.ExitCode()
	default:
		t.Fatalf("kubectl batchjob %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	if strings.Contains(res.stderr, "panic:") || strings.Contains(res.stderr, "goroutine ") {
		t.Fatalf("kubectl batchjob %s crashed:\n%s", strings.Join(args, " "), res.stderr)
	}
	return res
}

// mustPlugin runs the plugin and fails the test unless it exits 0.
func mustPlugin(t *testing.T, args ...string) string {
	t.Helper()
	res := plugin(t, "", args...)
	if res.code != 0 {
		t.Fatalf("kubectl batchjob %s: exit %d: %s%s", strings.Join(args, " "), res.code, res.stderr, res.stdout)
	}
	return res.stdout
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: want %q in:\n%s", what, w, got)
		}
	}
}

// TestPluginCreateWaitStatusLogs: create as kubectl create job does, the dry runs, wait's
// exit status for both conditions, status and logs of a finished job.
func TestPluginCreateWaitStatusLogs(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "plugin-create")
	out := mustPlugin(t, "create", "hello", "-n", ns, "--image=busybox:1.36", "--dry-run=client", "-o", "yaml", "--", "echo", "Hello")
	wantContains(t, "client dry run", out, "kind: BatchJob", "name: hello", "restartPolicy: Never", "- echo")
	out = mustPlugin(t, "create", "hello", "-n", ns, "--image=busybox:1.36", "--dry-run=server", "--", "echo", "Hello")
	wantContains(t, "server dry run", out, "batchjob.batchjob.dev/hello created (server dry run)")
	if _, err := kubectl("get", "batchjob", "hello", "-n", ns); err == nil {
		t.Fatal("a dry run created the BatchJob")
	}
	out = mustPlugin(t, "create", "hello", "-n", ns, "--image=busybox:1.36", "--completions=2", "--", "echo", "Hello")
	wantContains(t, "create", out, "batchjob.batchjob.dev/hello created")
	job := getBatchJob(t, ns, "hello")
	if job.Spec.Completions == nil || *job.Spec.Completions != 2 {
		t.Errorf("completions = %v, want 2", job.Spec.Completions)
	}
	out = mustPlugin(t, "wait", "hello", "-n", ns, "--timeout=2m")
	wantContains(t, "wait", out, "condition met: Complete")
	if res := plugin(t, "", "wait", "hello", "-n", ns, "--for=failed", "--timeout=30s"); res.code != 1 {
		t.Errorf("wait --for=failed on a Complete job: exit %d, want 1: %s", res.code, res.stderr)
	}
	out = mustPlugin(t, "status", "hello", "-n", ns)
	wantContains(t, "status", out, "BatchJob "+ns+"/hello: Complete", "2/2 succeeded", "it is Complete")
	out = mustPlugin(t, "why", "hello", "-n", ns)
	wantContains(t, "why", out, "it is Complete")
	// KWOK serves the simulated containers' logs (config/kwok/logs): each line carries its pod.
	logs := mustPlugin(t, "logs", "hello", "-n", ns)
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !strings.HasPrefix(line, "hello-") {
			t.Errorf("logs line without its pod prefix: %q", line)
		}
	}
	if logs == "" {
		t.Error("logs printed nothing")
	}
}

// TestPluginWaitFailed: wait exits 1 when the job fails, and status names the exit code.
func TestPluginWaitFailed(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "plugin-failed")
	applyYAML(t, ns, strings.Replace(simulatedJob("crash", "1s", "backoffLimit: 0"),
		"batchjob.dev/simulate-duration", "batchjob.dev/simulate-exit-code: \"3\"\n        batchjob.dev/simulate-duration", 1))
	res := plugin(t, "", "wait", "crash", "-n", ns, "--timeout=2m")
	if res.code != 1 {
		t.Fatalf("wait on a failing job: exit %d, want 1; stderr: %s", res.code, res.stderr)
	}
	wantContains(t, "wait stderr", res.stderr, "is Failed, not Complete", "BackoffLimitExceeded")
	mustPlugin(t, "wait", "crash", "-n", ns, "--for=failed", "--timeout=30s")
	out := mustPlugin(t, "status", "crash", "-n", ns)
	wantContains(t, "status", out, "Failed", "exit code 3")
	// --failed selects the failed pod; what matters here is a clean run, not the text.
	plugin(t, "", "logs", "crash", "-n", ns, "--failed")
}

// TestPluginSuspendResume: suspend deletes the running pods, resume brings them back,
// status says who suspended it, and wait times out with exit status 2.
func TestPluginSuspendResume(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "plugin-suspend")
	applyYAML(t, ns, longRunning("long", 2, 4))
	waitForRunningPods(t, ns, "long", 2)
	wantContains(t, "suspend", mustPlugin(t, "suspend", "long", "-n", ns), "batchjob.batchjob.dev/long suspended")
	eventually(t, 90*time.Second, "long to be Suspended without pods", func() (bool, string) {
		st, _ := getBatchJob(t, ns, "long").condition("Suspended")
		return st == "True" && len(podsOf(t, ns, "long")) == 0, "Suspended=" + st
	})
	out := mustPlugin(t, "status", "long", "-n", ns)
	wantContains(t, "status", out, "Suspended", "spec.suspend set by kubectl-batchjob", "kubectl batchjob resume long")
	if res := plugin(t, "", "wait", "long", "-n", ns, "--timeout=2s"); res.code != 2 {
		t.Errorf("wait on a suspended job: exit %d, want 2 (timeout): %s", res.code, res.stderr)
	}
	wantContains(t, "resume", mustPlugin(t, "resume", "long", "-n", ns), "batchjob.batchjob.dev/long resumed")
	waitForRunningPods(t, ns, "long", 2)
	out = mustPlugin(t, "status", "long", "-n", ns)
	wantContains(t, "status", out, "Running", "2 pods running")
}

// TestPluginConvertAndFrom: batch/v1 Jobs and CronJobs become BatchJobs. The cluster runs
// no Job controller, so the Job stays as the API server stored it: generated selector and
// labels included, which is what convert must strip.
func TestPluginConvertAndFrom(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "plugin-convert")
	mustKubectl(t, "create", "job", "src", "-n", ns, "--image=busybox:1.36", "--", "echo", "hi")
	mustKubectl(t, "create", "cronjob", "nightly", "-n", ns, "--image=busybox:1.36", "--schedule=0 3 * * *")
	jobYAML := mustKubectl(t, "get", "job", "src", "-n", ns, "-o", "yaml")
	res := plugin(t, jobYAML, "convert", "-f", "-")
	if res.code != 0 {
		t.Fatalf("convert: exit %d: %s", res.code, res.stderr)
	}
	wantContains(t, "convert", res.stdout, "apiVersion: batchjob.dev/v1alpha1", "kind: BatchJob", "name: src", "image: busybox:1.36")
	for _, gone := range []string{"controller-uid", "uid:", "resourceVersion", "managedFields", "status:", "selector:", "creationTimestamp"} {
		if strings.Contains(res.stdout, gone) {
			t.Errorf("convert kept %q:\n%s", gone, res.stdout)
		}
	}
	applyYAML(t, ns, res.stdout)
	mustPlugin(t, "wait", "src", "-n", ns, "--timeout=2m")

	wantContains(t, "create --from=job", mustPlugin(t, "create", "copy", "-n", ns, "--from=job/src"), "batchjob.batchjob.dev/copy created")
	mustPlugin(t, "wait", "copy", "-n", ns, "--timeout=2m")
	wantContains(t, "create --from=cronjob", mustPlugin(t, "create", "nightly-now", "-n", ns, "--from=cronjob/nightly"),
		"batchjob.batchjob.dev/nightly-now created")
	out := mustKubectl(t, "get", "batchjob", "nightly-now", "-n", ns, "-o", "jsonpath={.metadata.annotations}")
	wantContains(t, "nightly-now annotations", out, "cronjob.kubernetes.io/instantiate")
	// --from=batchcronjob works (test/e2e/cronjob_test.go); one that does not exist is named.
	res = plugin(t, "", "create", "x", "-n", ns, "--from=batchcronjob/nightly")
	if res.code == 0 || !strings.Contains(res.stderr, `batchcronjobs.batchjob.dev "nightly" not found`) {
		t.Errorf("--from=batchcronjob/nightly (none exists): exit %d, stderr %q; want NotFound naming it", res.code, res.stderr)
	}
}

// TestPluginRerun: a rerun gets the next free name, the rerun-of label and the original's
// spec; --failed-indexes asks for the indexes that did not succeed (spec.completionIndexes),
// or says clearly that the cluster's API lacks the field.
func TestPluginRerun(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "plugin-rerun")
	// Ten 8 s indexes one at a time: it is still running when the first has succeeded, with
	// over a minute to spare for a loaded machine to suspend it.
	applyYAML(t, ns, simulatedJob("idx", "8s", "completionMode: Indexed", "completions: 10", "parallelism: 1"))
	eventually(t, 90*time.Second, "a first index of idx to succeed", func() (bool, string) {
		j := getBatchJob(t, ns, "idx")
		return j.Status.Succeeded >= 1, fmt.Sprintf("succeeded=%d", j.Status.Succeeded)
	})
	mustPlugin(t, "suspend", "idx", "-n", ns)
	eventually(t, 90*time.Second, "idx to be Suspended", func() (bool, string) {
		st, _ := getBatchJob(t, ns, "idx").condition("Suspended")
		return st == "True", "Suspended=" + st
	})
	completed := getBatchJob(t, ns, "idx").Status.CompletedIndexes

	wantContains(t, "rerun", mustPlugin(t, "rerun", "idx", "-n", ns), "batchjob.batchjob.dev/idx-rerun-1 created")
	wantContains(t, "rerun", mustPlugin(t, "rerun", "idx", "-n", ns), "batchjob.batchjob.dev/idx-rerun-2 created")
	out := mustKubectl(t, "get", "batchjob", "idx-rerun-1", "-n", ns, "-o", "jsonpath={.metadata.labels.batchjob\\.dev/rerun-of} {.spec.completions} {.spec.suspend}")
	if out != "idx 10 false" {
		t.Errorf("idx-rerun-1: rerun-of, completions, suspend = %q, want \"idx 10 false\"", out)
	}
	eventually(t, 90*time.Second, "idx-rerun-1 to run (not suspended)", func() (bool, string) {
		n := getBatchJob(t, ns, "idx-rerun-1").Status.Succeeded
		return n >= 1, fmt.Sprintf("succeeded=%d", n)
	})

	res := plugin(t, "", "rerun", "idx", "-n", ns, "--failed-indexes")
	switch {
	case res.code == 0:
		wantContains(t, "rerun --failed-indexes", res.stdout, "idx-rerun-3 created")
		want := indexset.FromIndexes(indexset.Parse(completed, 10).Missing(10, 10)).String()
		got := mustKubectl(t, "get", "batchjob", "idx-rerun-3", "-n", ns, "-o", "jsonpath={.spec.completionIndexes}")
		if got != want {
			t.Errorf("idx-rerun-3 spec.completionIndexes = %q, want %q (idx completed %q)", got, want, completed)
		}
	default:
		wantContains(t, "rerun --failed-indexes on a cluster without spec.completionIndexes", res.stderr,
			"does not know spec.completionIndexes")
	}
}
