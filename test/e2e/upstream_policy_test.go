package e2e

// Ports of upstream's job.go cases about podFailurePolicy, successPolicy,
// backoffLimitPerIndex and podReplacementPolicy. Upstream's "fail once (per index)"
// fixtures keep marker files on a hostPath; here a testKubelet counts the attempts.

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// failFirst fails the first attempt with code, the later ones succeed.
func failFirst(code int32) func(*corev1.Pod, int) (bool, int32) {
	return func(_ *corev1.Pod, attempt int) (bool, int32) {
		if attempt == 0 {
			return false, code
		}
		return false, 0
	}
}

// failOddSucceedEven is upstream's fixture of that name.
func failOddSucceedEven(pod *corev1.Pod, _ int) (bool, int32) {
	return false, int32(completionIndex(pod) % 2)
}

// "should allow to use the pod failure policy on exit code to fail the job early" (Conformance)
func TestUpstreamPodFailurePolicyFailJob(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-pfp-failjob")
	job := newTestJob(bhKubelet, "pod-failure-failjob", corev1.RestartPolicyNever, 2, 4, nil, 6)
	job.Spec.PodFailurePolicy = &v1alpha1.PodFailurePolicy{Rules: []v1alpha1.PodFailurePolicyRule{{
		Action:      v1alpha1.PodFailurePolicyActionFailJob,
		OnExitCodes: &v1alpha1.PodFailurePolicyOnExitCodesRequirement{Operator: v1alpha1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
	}}}
	createJob(t, ns, job)
	startKubelet(t, &testKubelet{ns: ns, job: job.Name, decide: failFirst(1)})
	j := waitForJobFailed(t, ns, job.Name)
	if c := findCondition(j, v1alpha1.JobFailed); c.Reason != v1alpha1.ReasonPodFailurePolicy {
		t.Errorf("Failed condition reason %q, want %q", c.Reason, v1alpha1.ReasonPodFailurePolicy)
	}
}

// "should allow to use a pod failure policy to ignore failure matching on exit code"
func TestUpstreamPodFailurePolicyIgnoreExitCode(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-pfp-ignore-code")
	job := newTestJob(bhKubelet, "fail-pod-ignore-on-exit-code", corev1.RestartPolicyNever, 3, 3, nil, 2)
	job.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	job.Spec.PodFailurePolicy = &v1alpha1.PodFailurePolicy{Rules: []v1alpha1.PodFailurePolicyRule{{
		Action:      v1alpha1.PodFailurePolicyActionIgnore,
		OnExitCodes: &v1alpha1.PodFailurePolicyOnExitCodesRequirement{Operator: v1alpha1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
	}}}
	createJob(t, ns, job)
	startKubelet(t, &testKubelet{ns: ns, job: job.Name, perIndex: true, decide: failFirst(42)})
	waitForJobComplete(t, ns, job.Name, v1alpha1.ReasonCompletionsReached, 3)
}

// "should allow to use a pod failure policy to ignore failure matching on DisruptionTarget
// condition" (Conformance): the first pod of each index runs until evicted through the
// Eviction API (the apiserver adds DisruptionTarget), the next one succeeds.
func TestUpstreamPodFailurePolicyIgnoreDisruption(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-pfp-ignore-evict")
	job := newTestJob(bhKubelet, "evicted-pod-ignore-on-disruption-condition", corev1.RestartPolicyNever, 3, 3, nil, 2)
	job.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	job.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
	job.Spec.PodFailurePolicy = &v1alpha1.PodFailurePolicy{Rules: []v1alpha1.PodFailurePolicyRule{{
		Action:          v1alpha1.PodFailurePolicyActionIgnore,
		OnPodConditions: []v1alpha1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
	}}}
	createJob(t, ns, job)
	startKubelet(t, &testKubelet{ns: ns, job: job.Name, perIndex: true, decide: func(_ *corev1.Pod, attempt int) (bool, int32) {
		return attempt == 0, 0
	}})
	waitForJobState(t, ns, job.Name, jobWait, "ready = 3", func(j *v1alpha1.BatchJob) string {
		if ptr.Equal(j.Status.Ready, ptr.To[int32](3)) {
			return ""
		}
		return "not all ready"
	})
	pods := waitForJobPodsRunning(t, ns, job.Name, 3)
	var wg sync.WaitGroup
	for i := range pods {
		wg.Go(func() {
			pod := &pods[i]
			eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns}}
			if err := upClient(t).SubResource("eviction").Create(ctxFor(t), pod, eviction); err != nil {
				t.Errorf("evicting pod %s: %v", pod.Name, err)
				return
			}
			eventually(t, jobWait, "evicted pod "+pod.Name+" to be gone", func() (bool, string) {
				err := upClient(t).Get(ctxFor(t), client.ObjectKeyFromObject(pod), &corev1.Pod{})
				return err != nil, fmt.Sprint(err)
			})
		})
	}
	wg.Wait()
	waitForJobComplete(t, ns, job.Name, v1alpha1.ReasonCompletionsReached, 3)
}

// "should mark indexes as failed when the FailIndex action is matched in podFailurePolicy" (Conformance)
func TestUpstreamPodFailurePolicyFailIndex(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-pfp-failindex")
	job := newTestJob(bhKubelet, "matching-fail-index-action", corev1.RestartPolicyNever, 2, 2, nil, 6)
	job.Spec.BackoffLimit = nil
	job.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
	job.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	job.Spec.PodFailurePolicy = &v1alpha1.PodFailurePolicy{Rules: []v1alpha1.PodFailurePolicyRule{{
		Action:      v1alpha1.PodFailurePolicyActionFailIndex,
		OnExitCodes: &v1alpha1.PodFailurePolicyOnExitCodesRequirement{Operator: v1alpha1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
	}}}
	createJob(t, ns, job)
	startKubelet(t, &testKubelet{ns: ns, job: job.Name, decide: failOddSucceedEven})
	waitForJobFailed(t, ns, job.Name)
	expectIndexes(t, getJob(t, ns, job.Name), "1", "0", 1, 1)
}

// expectIndexes checks failedIndexes, completedIndexes, failed and succeeded.
func expectIndexes(t *testing.T, j *v1alpha1.BatchJob, failedIndexes, completed string, failed, succeeded int32) {
	t.Helper()
	if !ptr.Equal(j.Status.FailedIndexes, &failedIndexes) || j.Status.CompletedIndexes != completed ||
		j.Status.Failed != failed || j.Status.Succeeded != succeeded {
		t.Errorf("want failedIndexes %q completedIndexes %q failed %d succeeded %d; got %s",
			failedIndexes, completed, failed, succeeded, statusSummary(j))
	}
}

// "should execute all indexes despite some failing when using backoffLimitPerIndex" (Conformance)
func TestUpstreamBackoffLimitPerIndex(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-perindex")
	job := newTestJob(bhKubelet, "with-backoff-limit-per-index", corev1.RestartPolicyNever, 2, 4, nil, 6)
	job.Spec.BackoffLimit = nil
	job.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
	job.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	createJob(t, ns, job)
	startKubelet(t, &testKubelet{ns: ns, job: job.Name, decide: failOddSucceedEven})
	waitForJobFailed(t, ns, job.Name)
	expectIndexes(t, getJob(t, ns, job.Name), "1,3", "0,2", 4, 2)
}

// "should terminate job execution when the number of failed indexes exceeds maxFailedIndexes" (Conformance)
func TestUpstreamMaxFailedIndexes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-maxfailed")
	job := newTestJob(bhFail, "with-max-failed-indexes", corev1.RestartPolicyNever, 1, 4, nil, 6)
	job.Spec.BackoffLimit = nil
	job.Spec.BackoffLimitPerIndex = ptr.To[int32](0)
	job.Spec.MaxFailedIndexes = ptr.To[int32](0)
	job.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	createJob(t, ns, job)
	j := waitForJobFailed(t, ns, job.Name)
	if !ptr.Equal(j.Status.FailedIndexes, ptr.To("0")) || j.Status.Failed != 1 {
		t.Errorf("want failedIndexes \"0\" and failed 1; got %s", statusSummary(j))
	}
	if c := findCondition(j, v1alpha1.JobFailed); c.Reason != v1alpha1.ReasonMaxFailedIndexesExceeded {
		t.Errorf("Failed reason %q, want %q", c.Reason, v1alpha1.ReasonMaxFailedIndexesExceeded)
	}
}

// "should record the failure-count in the Pod annotation when using backoffLimitPerIndex".
// Pods are never garbage collected on this cluster, so listing them at the end sees every
// annotation upstream's tracker would have seen.
func TestUpstreamFailureCountAnnotation(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-failcount")
	job := newTestJob(bhFail, "e2e-backofflimitperindex", corev1.RestartPolicyNever, 2, 2, nil, 6)
	job.Spec.BackoffLimit = nil
	job.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
	job.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	createJob(t, ns, job)
	j := waitForJobFailed(t, ns, job.Name)
	got := map[int][]string{}
	for _, p := range jobPods(t, ns, job.Name) {
		ix := completionIndex(&p)
		got[ix] = append(got[ix], p.Annotations[v1alpha1.JobIndexFailureCountAnnotation])
	}
	for ix := range got {
		slices.Sort(got[ix])
	}
	if want := map[int][]string{0: {"0", "1"}, 1: {"0", "1"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failure-count annotations per index: got %v, want %v", got, want)
	}
	expectIndexes(t, j, "0,1", "", 4, 0)
}

// The three successPolicy cases (Conformance): "with successPolicy should succeeded when all
// indexes succeeded", "... succeededIndexes rule should succeeded even when some indexes
// remain pending", "... succeededCount rule ...".
func TestUpstreamSuccessPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                   string
		completions, succeeded int32
		backoffLimit           int32
		rule                   v1alpha1.SuccessPolicyRule
		failOdd                bool
		wantCompleted          string
	}{
		{"all-index-succeeded", 2, 2, 6, v1alpha1.SuccessPolicyRule{SucceededCount: ptr.To[int32](2)}, false, "0,1"},
		{"succeeded-indexed", 5, 1, 6, v1alpha1.SuccessPolicyRule{SucceededIndexes: ptr.To("0")}, true, "0"},
		{"succeeded-count", 5, 1, math.MaxInt32, v1alpha1.SuccessPolicyRule{SucceededCount: ptr.To[int32](1)}, true, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t, "up-success-"+tc.name)
			job := newTestJob(bhKubelet, "with-success-policy", corev1.RestartPolicyNever, 2, tc.completions, nil, tc.backoffLimit)
			job.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
			job.Spec.SuccessPolicy = &v1alpha1.SuccessPolicy{Rules: []v1alpha1.SuccessPolicyRule{tc.rule}}
			createJob(t, ns, job)
			decide := func(*corev1.Pod, int) (bool, int32) { return false, 0 }
			if tc.failOdd {
				decide = failOddSucceedEven
			}
			startKubelet(t, &testKubelet{ns: ns, job: job.Name, decide: decide})
			waitForJobCondition(t, ns, job.Name, v1alpha1.JobSuccessCriteriaMet, v1alpha1.ReasonSuccessPolicy)
			j := waitForJobComplete(t, ns, job.Name, v1alpha1.ReasonSuccessPolicy, tc.succeeded)
			expectFinalCounts(t, j)
			if j.Status.CompletedIndexes != tc.wantCompleted {
				t.Errorf("completedIndexes %q, want %q", j.Status.CompletedIndexes, tc.wantCompleted)
			}
			if !tc.failOdd && j.Status.Failed != 0 {
				t.Errorf("status.failed = %d, want 0", j.Status.Failed)
			}
		})
	}
}

// "should recreate pods only after they have failed if pod replacement policy is set to
// Failed": the pod traps SIGTERM and exits 143 five seconds later; until then it counts as
// terminating and no replacement is created.
func TestUpstreamPodReplacementPolicyFailed(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-replace-failed")
	job := newTestJob(bhKubelet, "pod-recreate-failed", corev1.RestartPolicyNever, 1, 1, nil, 1)
	job.Spec.PodReplacementPolicy = ptr.To(v1alpha1.Failed)
	createJob(t, ns, job)
	startKubelet(t, &testKubelet{ns: ns, job: job.Name, termDelay: 5 * time.Second, termExitCode: 143,
		decide: func(*corev1.Pod, int) (bool, int32) { return true, 0 }})
	pods := waitForJobPodsRunning(t, ns, job.Name, 1)
	if err := upClient(t).Delete(ctxFor(t), &pods[0], client.GracePeriodSeconds(30)); err != nil {
		t.Fatal(err)
	}
	counts := func(active, failed, terminating int32) func(*v1alpha1.BatchJob) string {
		return func(j *v1alpha1.BatchJob) string {
			if j.Status.Active == active && j.Status.Failed == failed && ptr.Equal(j.Status.Terminating, &terminating) {
				return ""
			}
			return "counts differ"
		}
	}
	waitForJobState(t, ns, job.Name, 4*time.Second, "active 0, failed 0, terminating 1", counts(0, 0, 1))
	if n := len(jobPods(t, ns, job.Name)); n != 1 {
		t.Errorf("a replacement was created while the pod was terminating: %d pods", n)
	}
	waitForJobState(t, ns, job.Name, jobWait, "active 1, failed 1, terminating 0", counts(1, 1, 0))
}

// podReplacementPolicy TerminatingOrFailed (the default without a podFailurePolicy): a
// terminating pod counts as failed at once (upstream's isPodFailed) and is replaced (after
// the pod failure backoff) while it still terminates.
func TestUpstreamPodReplacementPolicyTerminatingOrFailed(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-replace-terminating")
	job := createJob(t, ns, newTestJob(bhKubelet, "pod-recreate-terminating", corev1.RestartPolicyNever, 1, 1, nil, 1))
	startKubelet(t, &testKubelet{ns: ns, job: job.Name, termDelay: 20 * time.Second, termExitCode: 143,
		decide: func(*corev1.Pod, int) (bool, int32) { return true, 0 }})
	pods := waitForJobPodsRunning(t, ns, job.Name, 1)
	if err := upClient(t).Delete(ctxFor(t), &pods[0], client.GracePeriodSeconds(30)); err != nil {
		t.Fatal(err)
	}
	waitForJobState(t, ns, job.Name, 18*time.Second, "active 1, failed 1, terminating 1 while the old pod terminates", func(j *v1alpha1.BatchJob) string {
		if j.Status.Active == 1 && ptr.Equal(j.Status.Terminating, ptr.To[int32](1)) && j.Status.Failed == 1 {
			return ""
		}
		return "counts differ"
	})
}
