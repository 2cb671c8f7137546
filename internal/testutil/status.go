package testutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// StatusWrapper builds a BatchJobStatus as the controller writes it: ready, terminating
// and uncountedTerminatedPods always present.
type StatusWrapper struct{ v1alpha1.BatchJobStatus }

// MakeStatus returns a status with ready 0, terminating 0 and empty uncounted lists.
func MakeStatus() *StatusWrapper {
	return &StatusWrapper{v1alpha1.BatchJobStatus{
		Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0),
		UncountedTerminatedPods: &v1alpha1.UncountedTerminatedPods{},
	}}
}

// Obj returns a deep copy of the built status.
func (w *StatusWrapper) Obj() v1alpha1.BatchJobStatus { return *w.BatchJobStatus.DeepCopy() }

func (w *StatusWrapper) Active(n int32) *StatusWrapper { w.BatchJobStatus.Active = n; return w }
func (w *StatusWrapper) Ready(n int32) *StatusWrapper  { w.BatchJobStatus.Ready = ptr.To(n); return w }
func (w *StatusWrapper) Terminating(n int32) *StatusWrapper {
	w.BatchJobStatus.Terminating = ptr.To(n)
	return w
}
func (w *StatusWrapper) Succeeded(n int32) *StatusWrapper { w.BatchJobStatus.Succeeded = n; return w }
func (w *StatusWrapper) Failed(n int32) *StatusWrapper    { w.BatchJobStatus.Failed = n; return w }

func (w *StatusWrapper) StartTime(t time.Time) *StatusWrapper {
	w.BatchJobStatus.StartTime = &metav1.Time{Time: t}
	return w
}

func (w *StatusWrapper) CompletionTime(t time.Time) *StatusWrapper {
	w.BatchJobStatus.CompletionTime = &metav1.Time{Time: t}
	return w
}

func (w *StatusWrapper) CompletedIndexes(s string) *StatusWrapper {
	w.BatchJobStatus.CompletedIndexes = s
	return w
}

func (w *StatusWrapper) FailedIndexes(s string) *StatusWrapper {
	w.BatchJobStatus.FailedIndexes = ptr.To(s)
	return w
}

func (w *StatusWrapper) Uncounted(succeeded, failed []types.UID) *StatusWrapper {
	w.BatchJobStatus.UncountedTerminatedPods = &v1alpha1.UncountedTerminatedPods{Succeeded: succeeded, Failed: failed}
	return w
}

// UncountedFailed sets only the failed list.
func (w *StatusWrapper) UncountedFailed(failed ...types.UID) *StatusWrapper {
	w.BatchJobStatus.UncountedTerminatedPods = &v1alpha1.UncountedTerminatedPods{Failed: failed}
	return w
}

// NoUncounted leaves uncountedTerminatedPods nil, as in a status never written.
func (w *StatusWrapper) NoUncounted() *StatusWrapper {
	w.BatchJobStatus.UncountedTerminatedPods = nil
	return w
}

func (w *StatusWrapper) Condition(t v1alpha1.JobConditionType, s corev1.ConditionStatus, reason, msg string, at time.Time) *StatusWrapper {
	w.Conditions = append(w.Conditions, Cond(t, s, reason, msg, at))
	return w
}

// State sets status.state, as the previous write stored it.
func (w *StatusWrapper) State(s string) *StatusWrapper { w.BatchJobStatus.State = s; return w }

func (w *StatusWrapper) NextPodCreationTime(t time.Time) *StatusWrapper {
	w.BatchJobStatus.NextPodCreationTime = &metav1.Time{Time: t}
	return w
}

// RecentFailures sets status.recentFailures.
func (w *StatusWrapper) RecentFailures(fs ...v1alpha1.PodFailure) *StatusWrapper {
	w.BatchJobStatus.RecentFailures = fs
	return w
}
