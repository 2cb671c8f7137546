package plan

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// startupGrace is how old a pod must be before a listed waiting reason fails it: an
// image pull that fails once and then succeeds is not a failure. It is measured from the
// pod's creation, which every pod has, so the plan needs no memory of when the waiting
// began.
const startupGrace = 10 * time.Second

// StartupFailure is a pod spec.podStartupPolicy fails: the controller sets the pod
// condition BatchJobPodStartupFailed (Reason, Message, at Time) with a status patch, and
// only then deletes the pod (it is also in Result.Delete, keeping its finalizer) so that
// it is counted as failed and podFailurePolicy can match the condition.
type StartupFailure struct {
	Pod             *corev1.Pod
	Reason, Message string
	Time            metav1.Time
}

// failUnstartedPods marks and deletes the active pods spec.podStartupPolicy fails, and
// schedules a pass for the next pod that may fail. It reports whether it deleted any:
// the pass then creates no replacement, which waits for the failure to be counted (and
// for the backoff), as after any other failure.
func (p *pass) failUnstartedPods() bool {
	sp := p.job.Spec.PodStartupPolicy
	if sp == nil {
		return false
	}
	var failed []*corev1.Pod
	keep := make([]*corev1.Pod, 0, len(p.active))
	for _, pod := range p.active {
		f, wait := p.startupFailure(sp, pod)
		if f == nil || len(failed) == maxPodCreateDeletePerPass {
			keep = append(keep, pod)
			if wait > 0 {
				p.requeueAfter(max(wait, minRequeue))
			}
			if f != nil {
				p.res.MoreWork = true
			}
			continue
		}
		failed = append(failed, pod)
		if startupCondition(pod) == nil {
			p.event(corev1.EventTypeWarning, "PodStartupFailed", fmt.Sprintf(
				"Pod %s did not start: %s: %s; deleting it, counted as a failure", pod.Name, f.Reason, f.Message))
		}
		p.res.StartupFailures = append(p.res.StartupFailures, *f)
	}
	p.active = keep
	for _, pod := range failed {
		p.deletePod(pod, false)
	}
	return len(failed) > 0
}

// startupFailure says whether sp fails pod now, or else how long until it may.
func (p *pass) startupFailure(sp *v1alpha1.PodStartupPolicy, pod *corev1.Pod) (*StartupFailure, time.Duration) {
	if c := startupCondition(pod); c != nil {
		// Marked by an earlier pass whose deletion did not happen: delete it now.
		return &StartupFailure{Pod: pod, Reason: c.Reason, Message: c.Message, Time: c.LastTransitionTime}, 0
	}
	if started(pod) {
		return nil, 0
	}
	age := p.in.Now.Sub(pod.CreationTimestamp.Time)
	var wait time.Duration
	name, w := waitingContainer(pod)
	if w != nil && slices.Contains(sp.FailOnWaitingReasons, v1alpha1.WaitingReason(w.Reason)) {
		if age >= startupGrace {
			return &StartupFailure{Pod: pod, Reason: w.Reason, Time: p.now,
				Message: fmt.Sprintf("container %s waiting with %s: %s", name, w.Reason, w.Message)}, 0
		}
		wait = startupGrace - age
	}
	if sp.TimeoutSeconds != nil {
		timeout := seconds(int64(*sp.TimeoutSeconds))
		if age >= timeout {
			msg := fmt.Sprintf("no container started within %ds", *sp.TimeoutSeconds)
			if w != nil {
				msg += fmt.Sprintf("; container %s waiting with %s: %s", name, w.Reason, w.Message)
			}
			return &StartupFailure{Pod: pod, Reason: v1alpha1.ReasonStartupTimeout, Message: msg, Time: p.now}, 0
		}
		if left := timeout - age; wait == 0 || left < wait {
			wait = left
		}
	}
	return nil, wait
}

// started reports whether pod is Running, or a container (or init container) of it runs
// or ran.
func started(pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodRunning {
		return true
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil {
				return true
			}
		}
	}
	return false
}

// startupCondition is pod's BatchJobPodStartupFailed=True condition, or nil.
func startupCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type == v1alpha1.PodStartupFailedCondition && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}
