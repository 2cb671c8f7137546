package jobpod

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// phaseOrdinal ranks phases for deletion: pods that did less work go first.
var phaseOrdinal = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// SortForDeletion orders active pods so the ones to delete first come first, as
// upstream's controller.ActivePods does: unscheduled before scheduled, Pending < Unknown
// < Running, not ready before ready, more recently ready first, more restarts first,
// newer before older. The sort is stable so equal pods keep their input order.
func SortForDeletion(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool { return deleteBefore(pods[i], pods[j]) })
}

func deleteBefore(a, b *corev1.Pod) bool {
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := phaseOrdinal[a.Status.Phase], phaseOrdinal[b.Status.Phase]; pa != pb {
		return pa < pb
	}
	ra, rb := IsReady(a), IsReady(b)
	if ra != rb {
		return !ra
	}
	if ra && rb {
		ta, tb := readyTime(a), readyTime(b)
		if !ta.Equal(tb) {
			return afterOrZero(ta, tb)
		}
	}
	regA, sideA := maxRestarts(a)
	regB, sideB := maxRestarts(b)
	if regA != regB {
		return regA > regB
	}
	if sideA != sideB {
		return sideA > sideB
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return afterOrZero(&a.CreationTimestamp, &b.CreationTimestamp)
	}
	return false
}

func readyTime(p *corev1.Pod) *metav1.Time {
	if c := ReadyCondition(p); c != nil && c.Status == corev1.ConditionTrue {
		return &c.LastTransitionTime
	}
	return &metav1.Time{}
}

// afterOrZero is true when t1 is zero (and t2 is not) or t1 is after t2.
func afterOrZero(t1, t2 *metav1.Time) bool {
	if t1.IsZero() || t2.IsZero() {
		return t1.IsZero()
	}
	return t1.After(t2.Time)
}

// maxRestarts returns the highest restart count of regular containers and of sidecar
// (restartable init) containers.
func maxRestarts(p *corev1.Pod) (regular, sidecar int32) {
	// Indexing, not ranging by value: this runs inside the deletion-order comparator.
	for i := range p.Status.ContainerStatuses {
		regular = max(regular, p.Status.ContainerStatuses[i].RestartCount)
	}
	sidecars := map[string]bool{}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	for i := range p.Status.InitContainerStatuses {
		if c := &p.Status.InitContainerStatuses[i]; sidecars[c.Name] {
			sidecar = max(sidecar, c.RestartCount)
		}
	}
	return regular, sidecar
}
