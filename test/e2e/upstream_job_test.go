package e2e

// Ports of the basic cases of upstream's test/e2e/apps/job.go (k8s.io/kubernetes
// v1.37.2) to BatchJob. Each test names the upstream case it ports.

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// "should run a job to completion when tasks succeed"
func TestUpstreamRunToCompletion(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-complete")
	job := createJob(t, ns, newTestJob(bhSucceed, "all-succeed", corev1.RestartPolicyNever, 2, 4, nil, 6))
	waitForJobComplete(t, ns, job.Name, v1alpha1.ReasonCompletionsReached, 4)
	if got := succeededPods(jobPods(t, ns, job.Name)); got != 4 {
		t.Errorf("got %d succeeded pods, want 4", got)
	}
}

// "should run a job to completion when tasks sometimes fail and are locally restarted"
// (the KWOK pod-restart stage fails each container once, then lets it exit 0).
func TestUpstreamLocallyRestarted(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-local-restart")
	job := newTestJob(bhFail, "fail-once-local", corev1.RestartPolicyOnFailure, 2, 4, nil, 6)
	job.Spec.Template.Annotations["batchjob.dev/simulate-restarts"] = "1"
	createJob(t, ns, job)
	waitForJobComplete(t, ns, job.Name, v1alpha1.ReasonCompletionsReached, 4)
}

// "should run a job to completion when tasks sometimes fail and are not locally restarted"
// (fixture failOnce: the first pod fails, every later one succeeds).
func TestUpstreamNotLocallyRestarted(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-nonlocal-restart")
	job := createJob(t, ns, newTestJob(bhKubelet, "fail-once-non-local", corev1.RestartPolicyNever, 2, 4, nil, 6))
	startKubelet(t, &testKubelet{ns: ns, job: job.Name, decide: func(_ *corev1.Pod, attempt int) (bool, int32) {
		if attempt == 0 {
			return false, 1
		}
		return false, 0
	}})
	waitForJobCondition(t, ns, job.Name, v1alpha1.JobSuccessCriteriaMet, v1alpha1.ReasonCompletionsReached)
	j := waitForJobComplete(t, ns, job.Name, v1alpha1.ReasonCompletionsReached, 4)
	expectFinalCounts(t, j)
	if j.Status.Failed != 1 {
		t.Errorf("status.failed = %d, want 1", j.Status.Failed)
	}
}

// "should create pods for an Indexed job with completion indexes and specified hostname"
// and "should create pods with completion indexes for an Indexed Job" (index label).
func TestUpstreamIndexedHostname(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-indexed")
	job := newTestJob(bhSucceed, "indexed-job", corev1.RestartPolicyNever, 2, 4, nil, 6)
	job.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	createJob(t, ns, job)
	waitForJobComplete(t, ns, job.Name, v1alpha1.ReasonCompletionsReached, 4)
	var succeeded, labelled []int
	for _, pod := range jobPods(t, ns, job.Name) {
		if ix, err := strconv.Atoi(pod.Labels[v1alpha1.JobCompletionIndexAnnotation]); err == nil && !slices.Contains(labelled, ix) {
			labelled = append(labelled, ix)
		}
		if pod.Status.Phase != corev1.PodSucceeded {
			continue
		}
		ix := completionIndex(&pod)
		succeeded = append(succeeded, ix)
		if want := fmt.Sprintf("%s-%d", job.Name, ix); pod.Spec.Hostname != want {
			t.Errorf("pod %s: hostname %q, want %q", pod.Name, pod.Spec.Hostname, want)
		}
		env := pod.Spec.Containers[0].Env
		if !slices.ContainsFunc(env, func(e corev1.EnvVar) bool {
			return e.Name == v1alpha1.JobCompletionIndexEnv && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil
		}) {
			t.Errorf("pod %s: no %s env from a fieldRef: %+v", pod.Name, v1alpha1.JobCompletionIndexEnv, env)
		}
	}
	slices.Sort(succeeded)
	slices.Sort(labelled)
	if want := []int{0, 1, 2, 3}; !slices.Equal(succeeded, want) || !slices.Equal(labelled, want) {
		t.Errorf("succeeded indexes %v, index labels %v; want %v", succeeded, labelled, want)
	}
}

// "should not create pods when created in suspend state"
func TestUpstreamCreatedSuspended(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-suspend-create")
	job := newTestJob(bhSucceed, "suspend-true-to-false", corev1.RestartPolicyNever, 2, 4, nil, 6)
	job.Spec.Suspend = ptr.To(true)
	createJob(t, ns, job)
	waitForJobCondition(t, ns, job.Name, v1alpha1.JobSuspended, "")
	if pods := jobPods(t, ns, job.Name); len(pods) != 0 {
		t.Fatalf("suspended BatchJob has pods: %s", describePods(pods))
	}
	updateJob(t, ns, job.Name, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(false) })
	waitForJobComplete(t, ns, job.Name, v1alpha1.ReasonCompletionsReached, 4)
}

// "should delete pods when suspended"
func TestUpstreamDeletePodsWhenSuspended(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-suspend-delete")
	job := newTestJob(bhNotTerminate, "suspend-false-to-true", corev1.RestartPolicyNever, 2, 4, nil, 6)
	job.Spec.Suspend = ptr.To(false)
	createJob(t, ns, job)
	waitForJobPodsRunning(t, ns, job.Name, 2)
	updateJob(t, ns, job.Name, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) })
	waitForAllJobPodsGone(t, ns, job.Name)
	if j := getJob(t, ns, job.Name); findCondition(j, v1alpha1.JobSuspended) == nil {
		t.Errorf("no Suspended condition after suspending: %s", statusSummary(j))
	}
}

// "should update the status ready field"
func TestUpstreamReadyField(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-ready")
	job := newTestJob(bhNotTerminate, "all-ready", corev1.RestartPolicyNever, 2, 4, nil, 6)
	job.Spec.Suspend = ptr.To(true)
	createJob(t, ns, job)
	for _, step := range []struct {
		suspend bool
		ready   int32
	}{{true, 0}, {false, 2}, {true, 0}} {
		updateJob(t, ns, job.Name, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(step.suspend) })
		waitForJobState(t, ns, job.Name, jobWait, fmt.Sprintf("ready = %d", step.ready), func(j *v1alpha1.BatchJob) string {
			if ptr.Equal(j.Status.Ready, &step.ready) {
				return ""
			}
			return "ready differs"
		})
	}
}

// "should remove pods when job is deleted" and "should delete a job" (Conformance):
// background deletion, then the BatchJob is gone and the garbage collector removes its pods.
func TestUpstreamRemovePodsWhenDeleted(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-delete")
	job := createJob(t, ns, newTestJob(bhNotTerminate, "all-pods-removed", corev1.RestartPolicyNever, 2, 4, nil, 6))
	waitForJobPodsRunning(t, ns, job.Name, 2)
	if err := upClient(t).Delete(ctxFor(t), job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	waitForJobGone(t, ns, job.Name)
	waitForAllJobPodsGone(t, ns, job.Name)
}

// "should adopt matching orphans and release non-matching pods" (Conformance). The pod
// cache only holds pods that carry the batchjob.dev/controller-uid label, so a pod whose
// labels are removed drops out of it (a watch DELETED event); the controller then reads it
// from the API server and releases it, as upstream's ControllerRefManager does.
func TestUpstreamAdoptRelease(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-adopt")
	job := createJob(t, ns, newTestJob(bhNotTerminate, "adopt-release", corev1.RestartPolicyNever, 2, 4, nil, 6))
	pods := waitForJobPodsRunning(t, ns, job.Name, 2)
	pod := pods[0]
	c := upClient(t)
	patchPod := func(body string) {
		if err := c.Patch(ctxFor(t), &pod, client.RawPatch("application/merge-patch+json", []byte(body))); err != nil {
			t.Fatal(err)
		}
	}
	patchPod(`{"metadata":{"ownerReferences":null}}`)
	waitForPod(t, ns, pod.Name, "re-adopted", func(p *corev1.Pod) (bool, string) {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			return false, "no controllerRef"
		}
		if ref.Kind != "BatchJob" || ref.Name != job.Name || ref.UID != job.UID {
			t.Fatalf("pod has wrong controllerRef %+v, want BatchJob %s %s", ref, job.Name, job.UID)
		}
		return true, ""
	})
	patchPod(`{"metadata":{"labels":null}}`)
	waitForPod(t, ns, pod.Name, "released", func(p *corev1.Pod) (bool, string) {
		return metav1.GetControllerOf(p) == nil, fmt.Sprint(p.OwnerReferences)
	})
}

func waitForPod(t *testing.T, ns, name, what string, cond func(*corev1.Pod) (bool, string)) {
	t.Helper()
	eventually(t, time.Minute, "pod "+name+" "+what, func() (bool, string) {
		var p corev1.Pod
		if err := upClient(t).Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
			return false, err.Error()
		}
		return cond(&p)
	})
}

// "should fail when exceeds active deadline"
func TestUpstreamActiveDeadline(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-deadline")
	job := createJob(t, ns, newTestJob(bhNotTerminate, "exceed-active-deadline", corev1.RestartPolicyNever, 2, 4, ptr.To[int64](1), 6))
	waitForJobCondition(t, ns, job.Name, v1alpha1.JobFailureTarget, v1alpha1.ReasonDeadlineExceeded)
	j := waitForJobCondition(t, ns, job.Name, v1alpha1.JobFailed, v1alpha1.ReasonDeadlineExceeded)
	expectFinalCounts(t, j)
}

// "should fail to exceed backoffLimit"
func TestUpstreamExceedBackoffLimit(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-backofflimit")
	job := createJob(t, ns, newTestJob(bhFail, "backofflimit", corev1.RestartPolicyNever, 1, 1, nil, 1))
	waitForJobCondition(t, ns, job.Name, v1alpha1.JobFailureTarget, v1alpha1.ReasonBackoffLimitExceeded)
	j := waitForJobCondition(t, ns, job.Name, v1alpha1.JobFailed, v1alpha1.ReasonBackoffLimitExceeded)
	pods := jobPods(t, ns, job.Name)
	if len(pods) != 2 {
		t.Errorf("got %d pods, want 2: %s", len(pods), describePods(pods))
	}
	for _, p := range pods {
		if p.Status.Phase != corev1.PodFailed {
			t.Errorf("pod %s phase %s, want Failed", p.Name, p.Status.Phase)
		}
	}
	expectFinalCounts(t, j)
}

// "should run a job to completion with CPU requests": 90 pods each asking 20% of one
// node's CPU, pinned to that node, so the scheduler runs at most 5 at a time.
func TestUpstreamCPURequests(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-cpu")
	var node corev1.Node
	if err := upClient(t).Get(ctxFor(t), client.ObjectKey{Name: "kwok-node-0"}, &node); err != nil {
		t.Fatal(err)
	}
	cpu := node.Status.Allocatable[corev1.ResourceCPU]
	request := resource.MustParse(fmt.Sprint(int64(0.2 * float64(cpu.Value()))))
	job := newTestJob(bhSucceed, "all-succeed", corev1.RestartPolicyNever, 90, 90, nil, 0)
	job.Spec.Template.Annotations["batchjob.dev/simulate-duration"] = "100ms"
	job.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: request}
	job.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node.Name}
	createJob(t, ns, job)
	waitForJobComplete(t, ns, job.Name, v1alpha1.ReasonCompletionsReached, 90)
	if got := succeededPods(jobPods(t, ns, job.Name)); got != 90 {
		t.Errorf("got %d succeeded pods, want 90", got)
	}
}

// Work queue (completions unset, as in upstream's integration tests): the BatchJob is
// complete once a pod succeeded and no pod is left running.
func TestUpstreamWorkQueue(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-workqueue")
	job := newTestJob(bhSucceed, "work-queue", corev1.RestartPolicyNever, 3, 0, nil, 6)
	job.Spec.Completions = nil
	createJob(t, ns, job)
	j := waitForJobCondition(t, ns, job.Name, v1alpha1.JobComplete, v1alpha1.ReasonCompletionsReached)
	if j.Status.Succeeded < 1 || j.Status.Active != 0 || j.Status.Failed != 0 {
		t.Errorf("want succeeded >= 1, active 0, failed 0; got %s", statusSummary(j))
	}
}

// Parallelism scale up and down through spec.parallelism (upstream's former "should scale
// a job up/down" cases).
func TestUpstreamScaleParallelism(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "up-scale")
	job := createJob(t, ns, newTestJob(bhNotTerminate, "scale-up-down", corev1.RestartPolicyNever, 1, 5, nil, 6))
	waitForJobPodsRunning(t, ns, job.Name, 1)
	for _, n := range []int32{4, 2} {
		updateJob(t, ns, job.Name, func(j *v1alpha1.BatchJob) { j.Spec.Parallelism = ptr.To(n) })
		waitForJobState(t, ns, job.Name, jobWait, fmt.Sprintf("active = %d", n), func(j *v1alpha1.BatchJob) string {
			if j.Status.Active == n {
				return ""
			}
			return "active differs"
		})
		waitForJobPodsRunning(t, ns, job.Name, int(n))
	}
}
