package beyond

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

const pullMessage = `Back-off pulling image "registry.example/nope:1"`

// pullBackOff writes the status a kubelet reports for a pod whose image cannot be pulled.
func pullBackOff(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	env.WritePodStatus(t, pod, corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "main", Image: "registry.example/nope:1",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: pullMessage}},
	}}})
}

// startupFailedPod waits for the job's pod that carries BatchJobPodStartupFailed and is
// being deleted (the template's blocking finalizer keeps it to look at).
func startupFailedPod(t *testing.T, job *v1alpha1.BatchJob) (corev1.Pod, corev1.PodCondition) {
	t.Helper()
	var pod corev1.Pod
	var cond corev1.PodCondition
	framework.Eventually(t, "a pod marked BatchJobPodStartupFailed and deleted", func() (bool, string) {
		for _, p := range env.JobPods(t, job) {
			for _, c := range p.Status.Conditions {
				if c.Type == v1alpha1.PodStartupFailedCondition && c.Status == corev1.ConditionTrue && p.DeletionTimestamp != nil {
					pod, cond = p, c
					return true, ""
				}
			}
		}
		return false, "none yet"
	})
	return pod, cond
}

// TestPodStartupPolicy: a pod whose container waits with ImagePullBackOff past the 10 s
// grace gets the condition BatchJobPodStartupFailed, is deleted and counts as a failure;
// with backoffLimit 0 the BatchJob fails, and the Failed condition, recentFailures and the
// PodStartupFailed event name the pod, container, waiting reason and message. The CRD
// rejects an empty policy, a reason not in the list and a timeout below 1.
func TestPodStartupPolicy(t *testing.T) {
	ns := env.NewNamespace(t, "startup")
	withPolicy := func(sp *v1alpha1.PodStartupPolicy) func(*v1alpha1.BatchJobSpec) {
		return func(s *v1alpha1.BatchJobSpec) { s.PodStartupPolicy = sp }
	}
	wantRejected(t, newJob(ns, "empty", withPolicy(&v1alpha1.PodStartupPolicy{})),
		"spec.podStartupPolicy: set timeoutSeconds, failOnWaitingReasons or both")
	wantRejected(t, newJob(ns, "crashloop", withPolicy(&v1alpha1.PodStartupPolicy{FailOnWaitingReasons: []v1alpha1.WaitingReason{"CrashLoopBackOff"}})),
		"spec.podStartupPolicy.failOnWaitingReasons[0]", "Unsupported value")
	wantRejected(t, newJob(ns, "zero", withPolicy(&v1alpha1.PodStartupPolicy{TimeoutSeconds: ptr.To[int32](0)})),
		"spec.podStartupPolicy.timeoutSeconds")

	job := env.CreateJob(t, newJob(ns, "pull", func(s *v1alpha1.BatchJobSpec) {
		s.BackoffLimit = ptr.To[int32](0)
		s.PodStartupPolicy = &v1alpha1.PodStartupPolicy{FailOnWaitingReasons: []v1alpha1.WaitingReason{"ImagePullBackOff", "ErrImagePull"}}
		s.Template.Finalizers = []string{framework.BlockDeletionFinalizer}
	}))
	first := env.WaitForActivePods(t, job, 1)[0]
	pullBackOff(t, &first)

	pod, cond := startupFailedPod(t, job)
	wantMsg := "container main waiting with ImagePullBackOff: " + pullMessage
	if pod.Name != first.Name || cond.Reason != "ImagePullBackOff" || cond.Message != wantMsg {
		t.Errorf("pod %s condition %s=%s reason %q message %q; want pod %s, reason ImagePullBackOff, message %q",
			pod.Name, cond.Type, cond.Status, cond.Reason, cond.Message, first.Name, wantMsg)
	}
	if age := cond.LastTransitionTime.Sub(pod.CreationTimestamp.Time).Seconds(); age < 9 {
		t.Errorf("marked %.0fs after creation, want after the 10s grace", age)
	}
	// The Failed condition waits for the pod to be gone; FailureTarget says it already.
	env.WaitForCondition(t, job, v1alpha1.JobFailureTarget, v1alpha1.ReasonBackoffLimitExceeded)
	framework.Eventually(t, "status.failed 1", func() (bool, string) {
		n := env.GetJob(t, job).Status.Failed
		return n == 1, fmt.Sprintf("failed %d", n)
	})
	if err := env.RemovePodsFinalizers(ns, framework.BlockDeletionFinalizer); err != nil {
		t.Fatal(err)
	}
	failed := env.WaitForCondition(t, job, v1alpha1.JobFailed, v1alpha1.ReasonBackoffLimitExceeded)
	for _, c := range failed.Status.Conditions {
		if c.Type == v1alpha1.JobFailed {
			want := ": last failed pod " + first.Name + " did not start: ImagePullBackOff: " + wantMsg
			if !strings.HasSuffix(c.Message, want) {
				t.Errorf("Failed condition message %q, want it to end with %q", c.Message, want)
			}
		}
	}
	if rf := failed.Status.RecentFailures; len(rf) != 1 || rf[0].Pod != first.Name || rf[0].Container != "main" ||
		rf[0].Reason != "ImagePullBackOff" || rf[0].Message != wantMsg {
		t.Errorf("recentFailures %+v, want one for pod %s, container main, ImagePullBackOff, %q", rf, first.Name, wantMsg)
	}
	env.WaitForEvents(t, job, "PodStartupFailed")
}

// TestPodStartupPolicyTimeoutMatchedByPodFailurePolicy: a pod that has not started within
// timeoutSeconds gets BatchJobPodStartupFailed (reason StartupTimeout) before it is
// deleted, so that a podFailurePolicy onPodConditions rule (FailJob) matches it once the
// kubelet has marked it Failed.
func TestPodStartupPolicyTimeoutMatchedByPodFailurePolicy(t *testing.T) {
	ns := env.NewNamespace(t, "startup-pfp")
	job := env.CreateJob(t, newJob(ns, "timeout", func(s *v1alpha1.BatchJobSpec) {
		s.BackoffLimit = ptr.To[int32](5)
		s.PodStartupPolicy = &v1alpha1.PodStartupPolicy{TimeoutSeconds: ptr.To[int32](2)}
		s.PodFailurePolicy = &v1alpha1.PodFailurePolicy{Rules: []v1alpha1.PodFailurePolicyRule{{
			Action: v1alpha1.PodFailurePolicyActionFailJob,
			OnPodConditions: []v1alpha1.PodFailurePolicyOnPodConditionsPattern{{
				Type: v1alpha1.PodStartupFailedCondition, Status: corev1.ConditionTrue}},
		}}}
	}))
	env.WaitForActivePods(t, job, 1)
	framework.Eventually(t, "the pod deleted after the timeout", func() (bool, string) {
		pods := env.JobPods(t, job)
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				for _, c := range p.Status.Conditions {
					if c.Type == v1alpha1.PodStartupFailedCondition && c.Reason == v1alpha1.ReasonStartupTimeout {
						return true, ""
					}
				}
			}
		}
		return false, fmt.Sprintf("%d pods", len(pods))
	})
	env.FailTerminatingPods(t, ns)
	failed := env.WaitForCondition(t, job, v1alpha1.JobFailed, v1alpha1.ReasonPodFailurePolicy)
	if failed.Status.Failed != 1 {
		t.Errorf("status.failed %d, want 1", failed.Status.Failed)
	}
}
