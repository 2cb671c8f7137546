package plan

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// runState tells apart what kubectl prints as Running for a Job (k8s#138366: a Job whose
// pods are all Pending shows as running): Running once an active pod that this pass keeps
// runs or is ready, BackingOff while pod creation waits for the re-creation backoff, and
// Pending otherwise (no pod has started: pods just created, unschedulable, pulling images).
func (p *pass) runState() string {
	for _, pod := range p.active {
		if p.deleting(pod) {
			continue
		}
		if pod.Status.Phase == corev1.PodRunning || jobpod.IsReady(pod) {
			return v1alpha1.StateRunning
		}
	}
	if p.st.NextPodCreationTime != nil {
		return v1alpha1.StateBackingOff
	}
	return v1alpha1.StatePending
}

// deleting reports whether this pass deletes pod.
func (p *pass) deleting(pod *corev1.Pod) bool {
	return slices.ContainsFunc(p.res.Delete, func(d Deletion) bool { return d.Pod.UID == pod.UID })
}
