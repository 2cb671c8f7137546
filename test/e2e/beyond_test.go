package e2e

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	applyYAML(t, ns, failingJob("flaky", 1, "Error", "", "backoffLimit: 2",
		"retryPolicy:\n    initialDelaySeconds: 0\n    maxDelaySeconds: 1"))
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

// failingJob is a BatchJob manifest whose pods the simulated kubelet runs for a second and
// then fails with exitCode and terminated reason (pod-fail.yaml); specFields are extra
// lines of its spec, resources the container's resources block (indented for it) or "".
func failingJob(name string, exitCode int, reason, resources string, specFields ...string) string {
	const duration = `batchjob.dev/simulate-duration: "1s"` + "\n"
	return strings.Replace(simulatedJob(name, "1s", specFields...), duration, duration+fmt.Sprintf(
		"        batchjob.dev/simulate-exit-code: \"%d\"\n        batchjob.dev/simulate-termination-reason: %q\n",
		exitCode, reason), 1) + resources
}

// conditionTime is the lastTransitionTime of the True condition of type t, if any.
func (j *batchJob) conditionTime(t string) (time.Time, bool) {
	for _, c := range j.Status.Conditions {
		if c.Type == t && c.Status == "True" {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

// spec.ttlSecondsAfterFailure: with ttlSecondsAfterFinished 3600 and
// ttlSecondsAfterFailure 5, a failed BatchJob is deleted 5 s after it failed, while a
// successful one with the same TTLs outlives that window.
func TestBeyondTTLAfterFailure(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "beyond-ttl")
	ttls := []string{"ttlSecondsAfterFinished: 3600", "ttlSecondsAfterFailure: 5"}
	applyYAML(t, ns, failingJob("fails", 1, "Error", "", append([]string{"backoffLimit: 0"}, ttls...)...))
	applyYAML(t, ns, simulatedJob("succeeds", "1s", ttls...))

	var failedAt time.Time
	eventually(t, 90*time.Second, "fails to fail", func() (bool, string) {
		j := getBatchJob(t, ns, "fails")
		at, ok := j.conditionTime("Failed")
		failedAt = at
		return ok, fmt.Sprintf("conditions %+v", j.Status.Conditions)
	})
	var completedAt time.Time
	eventually(t, 90*time.Second, "succeeds to complete", func() (bool, string) {
		j := getBatchJob(t, ns, "succeeds")
		at, ok := j.conditionTime("Complete")
		completedAt = at
		return ok, fmt.Sprintf("conditions %+v", j.Status.Conditions)
	})
	eventually(t, 90*time.Second, "the failed BatchJob to be deleted by ttlSecondsAfterFailure", func() (bool, string) {
		out, err := kubectl("get", "-n", ns, "batchjob", "fails", "--ignore-not-found")
		return err == nil && strings.TrimSpace(out) == "", out
	})
	// Condition times have second precision, hence the second of slack.
	if d := time.Since(failedAt); d < 4*time.Second {
		t.Errorf("the failed BatchJob was deleted %v after it failed, before its ttlSecondsAfterFailure of 5s", d)
	}
	// The successful one is judged by ttlSecondsAfterFinished (an hour): it must still be
	// there well after ttlSecondsAfterFailure would have run out for it.
	if wait := time.Until(completedAt.Add(10 * time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	out := mustKubectl(t, "get", "-n", ns, "batchjob", "succeeds", "--ignore-not-found", "-o", "jsonpath={.metadata.name} {.metadata.deletionTimestamp}")
	if strings.TrimSpace(out) != "succeeds" {
		t.Errorf("the successful BatchJob %v after it completed (ttlSecondsAfterFinished 3600): name and deletionTimestamp %q, want it there and not being deleted",
			time.Since(completedAt).Round(time.Second), out)
	}
}

// spec.completionIndexes: an Indexed job of 10 that selects "3,7-8" creates pods for
// those indexes only, each with its index in labels, annotations, hostname and env, and
// completes with succeeded 3 and completedIndexes "3,7,8" (upstream's format writes a run
// of two as a list, as a Job's status does).
func TestBeyondCompletionIndexes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "beyond-indexes")
	applyYAML(t, ns, simulatedJob("some", "1s", "completionMode: Indexed", "completions: 10",
		"parallelism: 2", `completionIndexes: "3,7-8"`))
	mustKubectl(t, "wait", "-n", ns, "--for=condition=Complete", "batchjob/some", "--timeout=120s")
	j := getBatchJob(t, ns, "some")
	if j.Status.Succeeded != 3 || j.Status.Failed != 0 || j.Status.CompletedIndexes != "3,7,8" {
		t.Errorf("succeeded %d, failed %d, completedIndexes %q; want 3, 0, \"3,7,8\"", j.Status.Succeeded, j.Status.Failed, j.Status.CompletedIndexes)
	}
	out := mustKubectl(t, "get", "batchjob", "some", "-n", ns, "-o", "jsonpath={.status.completionsText} {.status.state}")
	if want := "3/3 Complete"; out != want {
		t.Errorf("completionsText, state = %q, want %q", out, want)
	}
	// Succeeded pods stay (only their finalizer goes), so these are all the pods ever created.
	pods := podsOf(t, ns, "some")
	var indexes []string
	for _, p := range pods {
		ix := p.Labels["batchjob.dev/job-completion-index"]
		indexes = append(indexes, ix)
		if p.Annotations["batchjob.dev/job-completion-index"] != ix {
			t.Errorf("pod %s: index annotation %q, label %q", p.Name, p.Annotations["batchjob.dev/job-completion-index"], ix)
		}
		if p.Spec.Hostname != "some-"+ix {
			t.Errorf("pod %s: hostname %q, want %q", p.Name, p.Spec.Hostname, "some-"+ix)
		}
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s (index %s): phase %s, want Succeeded", p.Name, ix, p.Status.Phase)
		}
		var env *corev1.EnvVar
		for i, e := range p.Spec.Containers[0].Env {
			if e.Name == "JOB_COMPLETION_INDEX" {
				env = &p.Spec.Containers[0].Env[i]
			}
		}
		if env == nil || env.ValueFrom == nil || env.ValueFrom.FieldRef == nil ||
			env.ValueFrom.FieldRef.FieldPath != "metadata.labels['batchjob.dev/job-completion-index']" {
			t.Errorf("pod %s: JOB_COMPLETION_INDEX env %+v, want the index label through the downward API", p.Name, env)
		}
	}
	slices.Sort(indexes)
	if want := []string{"3", "7", "8"}; !slices.Equal(indexes, want) {
		t.Errorf("pods were created for indexes %v, want exactly %v: %s", indexes, want, describePods(pods))
	}
}

// spec.retryPolicy.avoidFailedNodes: every pod fails; each replacement carries a required
// kubernetes.io/hostname NotIn anti-affinity to exactly the nodes where the earlier pods
// failed and runs elsewhere, so the three pods (backoffLimit 2) use the three fake nodes.
func TestBeyondAvoidFailedNodes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "beyond-avoid")
	applyYAML(t, ns, failingJob("avoider", 1, "Error", "", "backoffLimit: 2",
		"retryPolicy:\n    initialDelaySeconds: 0\n    avoidFailedNodes: true"))
	eventually(t, 90*time.Second, "avoider to exceed its backoffLimit", func() (bool, string) {
		j := getBatchJob(t, ns, "avoider")
		st, reason := j.condition("Failed")
		return st == "True" && reason == "BackoffLimitExceeded", fmt.Sprintf("Failed=%s (%s), failed=%d", st, reason, j.Status.Failed)
	})
	pods := podsOf(t, ns, "avoider")
	if len(pods) != 3 {
		t.Fatalf("got %d pods, want 3 (backoffLimit 2): %s", len(pods), describePods(pods))
	}
	// Oldest first; creation times have second precision, so a tie goes to the pod that
	// avoids fewer nodes (the earlier one).
	slices.SortStableFunc(pods, func(a, b corev1.Pod) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(len(avoidedNodes(&a)), len(avoidedNodes(&b))))
	})
	var failedNodes []string
	for i, p := range pods {
		if p.Status.Phase != corev1.PodFailed || p.Spec.NodeName == "" {
			t.Fatalf("pod %d %s: phase %s on node %q, want Failed on a node", i, p.Name, p.Status.Phase, p.Spec.NodeName)
		}
		got := avoidedNodes(&p)
		want := slices.Sorted(slices.Values(failedNodes))
		if !slices.Equal(got, want) {
			t.Errorf("pod %d %s: required anti-affinity to nodes %v, want %v (where the earlier pods failed); affinity %+v",
				i, p.Name, got, want, p.Spec.Affinity)
		}
		if slices.Contains(failedNodes, p.Spec.NodeName) {
			t.Errorf("pod %d %s ran on %s, where an earlier pod had failed (%v)", i, p.Name, p.Spec.NodeName, failedNodes)
		}
		failedNodes = append(failedNodes, p.Spec.NodeName)
	}
	out := mustKubectl(t, "get", "batchjob", "avoider", "-n", ns, "-o", "jsonpath={.status.recentFailures[*].node}")
	if got := strings.Fields(out); !slices.Equal(got, failedNodes) {
		t.Errorf("recentFailures[*].node = %v, want %v", got, failedNodes)
	}
}

// avoidedNodes is the kubernetes.io/hostname NotIn values of the pod's required node
// affinity, sorted; it fails (returns nil) unless there is exactly one term holding just
// that requirement, as for a template without affinity of its own.
func avoidedNodes(p *corev1.Pod) []string {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 1 || len(terms[0].MatchFields) != 0 {
		return []string{fmt.Sprintf("unexpected terms %+v", terms)}
	}
	req := terms[0].MatchExpressions[0]
	if req.Key != "kubernetes.io/hostname" || req.Operator != corev1.NodeSelectorOpNotIn {
		return []string{fmt.Sprintf("unexpected requirement %+v", req)}
	}
	return slices.Sorted(slices.Values(req.Values))
}

// spec.retryPolicy.memoryIncreaseOnOOM: every pod is OOMKilled (exit 137, played by
// pod-fail.yaml's simulate-termination-reason); each replacement gets the memory request
// and limit of the pod it replaces times 1.5 — 64Mi, 96Mi, 144Mi — capped at 200Mi, says so
// in its batchjob.dev/memory-increase annotation, and a MemoryIncreased event says so too.
func TestBeyondMemoryIncreaseOnOOM(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "beyond-oom")
	resources := `        resources:
          requests:
            memory: 64Mi
          limits:
            memory: 64Mi
`
	applyYAML(t, ns, failingJob("oom", 137, "OOMKilled", resources, "backoffLimit: 4",
		"retryPolicy:\n    initialDelaySeconds: 0\n    memoryIncreaseOnOOM:\n      factor: \"1.5\"\n      max: 200Mi"))
	eventually(t, 90*time.Second, "oom to exceed its backoffLimit", func() (bool, string) {
		j := getBatchJob(t, ns, "oom")
		st, reason := j.condition("Failed")
		return st == "True" && reason == "BackoffLimitExceeded", fmt.Sprintf("Failed=%s (%s), failed=%d", st, reason, j.Status.Failed)
	})
	pods := podsOf(t, ns, "oom")
	if len(pods) != 5 {
		t.Fatalf("got %d pods, want 5 (backoffLimit 4): %s", len(pods), describePods(pods))
	}
	// Follow the chain of replacements: the first pod has no annotation, each later one
	// names the pod it replaced.
	byReplaced := map[string]corev1.Pod{}
	var chain []corev1.Pod
	for _, p := range pods {
		ann, ok := p.Annotations["batchjob.dev/memory-increase"]
		if !ok {
			chain = append(chain, p)
			continue
		}
		_, replaced, found := strings.Cut(ann, " in pod ")
		if !found {
			t.Fatalf("pod %s: memory-increase annotation %q names no pod", p.Name, ann)
		}
		byReplaced[replaced] = p
	}
	if len(chain) != 1 {
		t.Fatalf("%d pods without the memory-increase annotation, want 1 (the first): %s", len(chain), describePods(pods))
	}
	for len(chain) < len(pods) {
		next, ok := byReplaced[chain[len(chain)-1].Name]
		if !ok {
			t.Fatalf("no pod replaced %s; annotations: %v", chain[len(chain)-1].Name, memoryAnnotations(pods))
		}
		chain = append(chain, next)
	}
	// At the cap the next replacement keeps it, rather than falling back to the template.
	wantMemory := []string{"64Mi", "96Mi", "144Mi", "200Mi", "200Mi"}
	wantAnnotations := []string{"",
		"main: 64Mi -> 96Mi after OOMKilled in pod " + chain[0].Name,
		"main: 96Mi -> 144Mi after OOMKilled in pod " + chain[1].Name,
		"main: 144Mi -> 200Mi (capped at 200Mi) after OOMKilled in pod " + chain[2].Name,
		"main: 200Mi kept (capped at 200Mi) after OOMKilled in pod " + chain[3].Name,
	}
	var wantEvents []string
	for i, p := range chain {
		res := p.Spec.Containers[0].Resources
		req, lim := res.Requests[corev1.ResourceMemory], res.Limits[corev1.ResourceMemory]
		if req.String() != wantMemory[i] || lim.String() != wantMemory[i] {
			t.Errorf("pod %d %s: memory request %s, limit %s; want both %s", i, p.Name, req.String(), lim.String(), wantMemory[i])
		}
		if got := p.Annotations["batchjob.dev/memory-increase"]; got != wantAnnotations[i] {
			t.Errorf("pod %d %s: memory-increase annotation %q, want %q", i, p.Name, got, wantAnnotations[i])
		}
		term := p.Status.ContainerStatuses[0].State.Terminated
		if p.Status.Phase != corev1.PodFailed || term == nil || term.ExitCode != 137 || term.Reason != "OOMKilled" {
			t.Errorf("pod %d %s: phase %s, terminated %+v; want Failed, exit code 137, OOMKilled", i, p.Name, p.Status.Phase, term)
		}
		switch {
		case i == len(chain)-1:
			wantEvents = append(wantEvents, "A new pod keeps the memory cap: "+wantAnnotations[i])
		case i > 0:
			wantEvents = append(wantEvents, "A new pod gets more memory: "+wantAnnotations[i])
		}
	}
	out := mustKubectl(t, "get", "batchjob", "oom", "-n", ns, "-o",
		"jsonpath={.status.recentFailures[*].reason} {.status.recentFailures[*].exitCode}")
	if want := "OOMKilled OOMKilled OOMKilled OOMKilled OOMKilled 137 137 137 137 137"; strings.Join(strings.Fields(out), " ") != want {
		t.Errorf("recentFailures reasons and exit codes %q, want %q", out, want)
	}
	eventually(t, 30*time.Second, "the MemoryIncreased events", func() (bool, string) {
		out := mustKubectl(t, "get", "events", "-n", ns, "--field-selector", "reason=MemoryIncreased,involvedObject.name=oom",
			"-o", `jsonpath={range .items[*]}{.message}{"\n"}{end}`)
		got := slices.Compact(slices.Sorted(slices.Values(strings.Split(strings.TrimSpace(out), "\n"))))
		return slices.Equal(got, slices.Sorted(slices.Values(wantEvents))), strings.Join(got, " | ")
	})
}

func memoryAnnotations(pods []corev1.Pod) map[string]string {
	m := map[string]string{}
	for _, p := range pods {
		m[p.Name] = p.Annotations["batchjob.dev/memory-increase"]
	}
	return m
}
