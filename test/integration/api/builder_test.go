package api

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	batchjobv1alpha1 "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// BatchJobWrapper builds BatchJobs for tests: MakeBatchJob("pi", ns).Completions(5).Indexed().Obj().
type BatchJobWrapper struct{ batchjobv1alpha1.BatchJob }

// MakeBatchJob returns a minimal valid BatchJob: one container, restartPolicy Never, and
// no defaults filled in, so that tests see what the API server adds.
func MakeBatchJob(name, ns string) *BatchJobWrapper {
	return &BatchJobWrapper{batchjobv1alpha1.BatchJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchjobv1alpha1.BatchJobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
			}},
		},
	}}
}

// Obj returns a copy of the built BatchJob.
func (w *BatchJobWrapper) Obj() *batchjobv1alpha1.BatchJob { return w.DeepCopy() }

func (w *BatchJobWrapper) Completions(n int32) *BatchJobWrapper {
	w.Spec.Completions = ptr.To(n)
	return w
}

func (w *BatchJobWrapper) Parallelism(n int32) *BatchJobWrapper {
	w.Spec.Parallelism = ptr.To(n)
	return w
}

func (w *BatchJobWrapper) Indexed() *BatchJobWrapper {
	w.Spec.CompletionMode = ptr.To(batchjobv1alpha1.IndexedCompletion)
	return w
}

func (w *BatchJobWrapper) BackoffLimit(n int32) *BatchJobWrapper {
	w.Spec.BackoffLimit = ptr.To(n)
	return w
}

func (w *BatchJobWrapper) BackoffLimitPerIndex(n int32) *BatchJobWrapper {
	w.Spec.BackoffLimitPerIndex = ptr.To(n)
	return w
}

func (w *BatchJobWrapper) MaxFailedIndexes(n int32) *BatchJobWrapper {
	w.Spec.MaxFailedIndexes = ptr.To(n)
	return w
}

func (w *BatchJobWrapper) ActiveDeadlineSeconds(n int64) *BatchJobWrapper {
	w.Spec.ActiveDeadlineSeconds = ptr.To(n)
	return w
}

func (w *BatchJobWrapper) TTLSecondsAfterFinished(n int32) *BatchJobWrapper {
	w.Spec.TTLSecondsAfterFinished = ptr.To(n)
	return w
}

func (w *BatchJobWrapper) Suspend(s bool) *BatchJobWrapper {
	w.Spec.Suspend = ptr.To(s)
	return w
}

func (w *BatchJobWrapper) ManagedBy(s string) *BatchJobWrapper {
	w.Spec.ManagedBy = ptr.To(s)
	return w
}

func (w *BatchJobWrapper) RestartPolicy(p corev1.RestartPolicy) *BatchJobWrapper {
	w.Spec.Template.Spec.RestartPolicy = p
	return w
}

func (w *BatchJobWrapper) PodReplacementPolicy(p batchjobv1alpha1.PodReplacementPolicy) *BatchJobWrapper {
	w.Spec.PodReplacementPolicy = ptr.To(p)
	return w
}

func (w *BatchJobWrapper) PodFailurePolicy(rules ...batchjobv1alpha1.PodFailurePolicyRule) *BatchJobWrapper {
	w.Spec.PodFailurePolicy = &batchjobv1alpha1.PodFailurePolicy{Rules: rules}
	return w
}

func (w *BatchJobWrapper) SuccessPolicy(rules ...batchjobv1alpha1.SuccessPolicyRule) *BatchJobWrapper {
	w.Spec.SuccessPolicy = &batchjobv1alpha1.SuccessPolicy{Rules: rules}
	return w
}

func (w *BatchJobWrapper) TemplateLabel(k, v string) *BatchJobWrapper {
	if w.Spec.Template.Labels == nil {
		w.Spec.Template.Labels = map[string]string{}
	}
	w.Spec.Template.Labels[k] = v
	return w
}

func (w *BatchJobWrapper) Label(k, v string) *BatchJobWrapper {
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Labels[k] = v
	return w
}

func (w *BatchJobWrapper) ManualSelector(matchLabels map[string]string) *BatchJobWrapper {
	w.Spec.ManualSelector = ptr.To(true)
	w.Spec.Selector = &metav1.LabelSelector{MatchLabels: matchLabels}
	return w
}

func (w *BatchJobWrapper) InitContainer(name string) *BatchJobWrapper {
	w.Spec.Template.Spec.InitContainers = append(w.Spec.Template.Spec.InitContainers, corev1.Container{Name: name, Image: "busybox"})
	return w
}

// ExitCodes is a podFailurePolicy rule on exit codes.
func ExitCodes(action batchjobv1alpha1.PodFailurePolicyAction, op batchjobv1alpha1.PodFailurePolicyOnExitCodesOperator, values ...int32) batchjobv1alpha1.PodFailurePolicyRule {
	return batchjobv1alpha1.PodFailurePolicyRule{Action: action, OnExitCodes: &batchjobv1alpha1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}}
}

// PodCondition is a podFailurePolicy rule on a pod condition.
func PodCondition(action batchjobv1alpha1.PodFailurePolicyAction, t corev1.PodConditionType, s corev1.ConditionStatus) batchjobv1alpha1.PodFailurePolicyRule {
	return batchjobv1alpha1.PodFailurePolicyRule{Action: action, OnPodConditions: []batchjobv1alpha1.PodFailurePolicyOnPodConditionsPattern{{Type: t, Status: s}}}
}

// SuccessRule is a successPolicy rule; indexes "" and count < 0 mean unset.
func SuccessRule(indexes string, count int32) batchjobv1alpha1.SuccessPolicyRule {
	var r batchjobv1alpha1.SuccessPolicyRule
	if indexes != "" {
		r.SucceededIndexes = ptr.To(indexes)
	}
	if count >= 0 {
		r.SucceededCount = ptr.To(count)
	}
	return r
}
