// Package jobpod answers questions about one pod of a BatchJob: its phase class (active,
// terminating, failed), readiness, completion index, per-index failure counts and
// tracking finalizer. Every other decision package reads pods through it so the
// definitions stay in one place.
package jobpod

import (
	"math"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// NoIndex is returned by Index for pods without a valid completion index.
const NoIndex = -1

// IsTerminal reports whether the pod reached phase Succeeded or Failed.
func IsTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// IsActive reports whether the pod counts in status.active: not terminal, not deleted.
func IsActive(p *corev1.Pod) bool {
	return !IsTerminal(p) && p.DeletionTimestamp == nil
}

// IsTerminating reports whether the pod counts in status.terminating.
func IsTerminating(p *corev1.Pod) bool {
	return !IsTerminal(p) && p.DeletionTimestamp != nil
}

// IsFailed reports whether the pod counts as a failure (upstream isPodFailed). With
// podReplacementPolicy Failed only phase Failed counts; otherwise a pod being deleted
// that has not succeeded counts too, since it may never reach a terminal phase.
func IsFailed(p *corev1.Pod, onlyReplaceFailed bool) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailed {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

// IsReady reports whether the pod has condition Ready=True.
func IsReady(p *corev1.Pod) bool {
	c := ReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// ReadyCondition returns the pod's Ready condition, or nil.
func ReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// HasFinalizer reports whether the pod carries the job tracking finalizer.
func HasFinalizer(p *corev1.Pod) bool {
	return slices.Contains(p.Finalizers, v1alpha1.JobTrackingFinalizer)
}

// Index returns the completion index from the pod's annotation, or NoIndex when it is
// missing, not a decimal number, or negative.
func Index(p *corev1.Pod) int {
	v, ok := p.Annotations[v1alpha1.JobCompletionIndexAnnotation]
	if !ok {
		return NoIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return NoIndex
	}
	return i
}

// FailureCount is the job-index-failure-count annotation; 0 when absent or invalid.
func FailureCount(p *corev1.Pod) int32 {
	return annotationInt32(p, v1alpha1.JobIndexFailureCountAnnotation)
}

// IgnoredFailureCount is the job-index-ignored-failure-count annotation; 0 when absent
// or invalid.
func IgnoredFailureCount(p *corev1.Pod) int32 {
	return annotationInt32(p, v1alpha1.JobIndexIgnoredFailureCountAnnotation)
}

// annotationInt32 reads a non-negative int32 annotation, falling back to 0 for values a
// user may have tampered with, as upstream does.
func annotationInt32(p *corev1.Pod, key string) int32 {
	v, ok := p.Annotations[key]
	if !ok {
		return 0
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 || i > math.MaxInt32 {
		return 0
	}
	return int32(i)
}
