package plan

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

func trueCondition(st *v1alpha1.BatchJobStatus, t v1alpha1.JobConditionType) *v1alpha1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t && st.Conditions[i].Status == corev1.ConditionTrue {
			return &st.Conditions[i]
		}
	}
	return nil
}

func newCondition(t v1alpha1.JobConditionType, s corev1.ConditionStatus, reason, msg string, now metav1.Time) v1alpha1.JobCondition {
	return v1alpha1.JobCondition{Type: t, Status: s, Reason: reason, Message: msg, LastProbeTime: now, LastTransitionTime: now}
}

// ensureCondition replaces the condition of that type in place when status, reason or
// message differ, or appends it unless it would be a new False condition. It reports
// whether the list changed.
func ensureCondition(st *v1alpha1.BatchJobStatus, c v1alpha1.JobCondition) bool {
	for i := range st.Conditions {
		old := &st.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
			return false
		}
		*old = c
		return true
	}
	if c.Status == corev1.ConditionFalse {
		return false
	}
	st.Conditions = append(st.Conditions, c)
	return true
}
