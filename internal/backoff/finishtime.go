// Package backoff computes the exponential pod re-creation backoff (upstream backoffRecord): pod finish
// times, the record of failures since the last success, and the remaining delay, both
// job-wide and per index. Everything is a function of its inputs and now.
package backoff

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// FinishTime estimates when a finished pod finished, using the first rule that yields a
// time: the latest container finish (only when every container, and every sidecar,
// reports one), the Ready=False transition the kubelet writes, the deletion time minus
// the grace period (orphans removed by PodGC), and finally the creation time.
func FinishTime(p *corev1.Pod) time.Time {
	if t, ok := containersFinishTime(p); ok {
		return t
	}
	if c := jobpod.ReadyCondition(p); c != nil && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
		return c.LastTransitionTime.Time
	}
	if p.DeletionTimestamp != nil {
		grace := time.Duration(0)
		if p.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*p.DeletionGracePeriodSeconds) * time.Second
		}
		return p.DeletionTimestamp.Add(-grace)
	}
	return p.CreationTimestamp.Time
}

func containersFinishTime(p *corev1.Pod) (time.Time, bool) {
	latest, ok := latestFinish(time.Time{}, p.Status.ContainerStatuses, nil)
	if !ok {
		return time.Time{}, false
	}
	// Sidecars (restartable init containers) stop after the regular containers.
	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	latest, ok = latestFinish(latest, p.Status.InitContainerStatuses, sidecars)
	return latest, ok && !latest.IsZero()
}

// latestFinish folds the finish times of statuses (only the names in only, when
// non-nil) into prev; ok is false when one of them has not terminated.
func latestFinish(prev time.Time, statuses []corev1.ContainerStatus, only map[string]bool) (time.Time, bool) {
	for _, s := range statuses {
		if only != nil && !only[s.Name] {
			continue
		}
		if s.State.Terminated == nil || s.State.Terminated.FinishedAt.IsZero() {
			return time.Time{}, false
		}
		if t := s.State.Terminated.FinishedAt.Time; t.After(prev) {
			prev = t
		}
	}
	return prev, true
}
