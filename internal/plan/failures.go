package plan

import (
	"cmp"
	"slices"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/backoff"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

const (
	// maxRecentFailures is how many failures status.recentFailures keeps.
	maxRecentFailures = 5
	// maxFailureMessage bounds a kept termination message, in bytes.
	maxFailureMessage = 1024
)

// noteFailure keeps the evidence of a failed pod that this pass records as a counted
// failure (it enters uncountedTerminatedPods.failed): once its finalizer is gone the pod
// may be deleted, and with it why it failed (k8s#74848).
func (p *pass) noteFailure(pod *corev1.Pod) {
	f := v1alpha1.PodFailure{Pod: pod.Name, Node: pod.Spec.NodeName, Time: metav1.NewTime(backoff.FinishTime(pod))}
	if p.indexed {
		f.Index = ptr.To(int32(jobpod.Index(pod)))
	}
	if c := startupCondition(pod); c != nil {
		// Failed by spec.podStartupPolicy: the condition says why; the kubelet may have
		// marked the never-started containers terminated since.
		f.Reason, f.Message = c.Reason, c.Message
		if name, _ := waitingContainer(pod); name != "" {
			f.Container = name
		}
	} else if name, term := failedContainer(pod); term != nil {
		f.Container, f.ExitCode, f.Reason, f.Message = name, term.ExitCode, term.Reason, term.Message
		if f.Reason == "" {
			f.Reason = "Error"
		}
	} else if name, w := waitingContainer(pod); w != nil {
		f.Container, f.Reason, f.Message = name, w.Reason, w.Message
	} else {
		f.Reason, f.Message = pod.Status.Reason, pod.Status.Message
	}
	f.Message = cutMessage(f.Message)
	p.newFailures = append(p.newFailures, f)
}

// addRecentFailures appends this pass's failures, oldest first, to status.recentFailures
// and keeps the last maxRecentFailures. A pod already listed is never listed again.
func (p *pass) addRecentFailures() {
	if len(p.newFailures) == 0 {
		return
	}
	slices.SortStableFunc(p.newFailures, func(a, b v1alpha1.PodFailure) int {
		return cmp.Or(a.Time.Compare(b.Time.Time), cmp.Compare(a.Pod, b.Pod))
	})
	list := slices.Clone(p.st.RecentFailures)
	for _, f := range p.newFailures {
		if !slices.ContainsFunc(list, func(old v1alpha1.PodFailure) bool { return old.Pod == f.Pod }) {
			list = append(list, f)
		}
	}
	p.st.RecentFailures = list[max(len(list)-maxRecentFailures, 0):]
}

// waitingContainer is the first container, then init container, waiting with a reason:
// why a pod that never started failed.
func waitingContainer(pod *corev1.Pod) (string, *corev1.ContainerStateWaiting) {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				return cs.Name, w
			}
		}
	}
	return "", nil
}

// cutMessage cuts s to maxFailureMessage bytes on a rune boundary.
func cutMessage(s string) string {
	if len(s) <= maxFailureMessage {
		return s
	}
	s = s[:maxFailureMessage]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
