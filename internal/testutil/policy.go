package testutil

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// ExitCodes is a podFailurePolicy rule on exit codes.
func ExitCodes(action v1alpha1.PodFailurePolicyAction, op v1alpha1.PodFailurePolicyOnExitCodesOperator, values ...int32) v1alpha1.PodFailurePolicyRule {
	return v1alpha1.PodFailurePolicyRule{Action: action, OnExitCodes: &v1alpha1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}}
}

// PodCondition is a podFailurePolicy rule on a pod condition.
func PodCondition(action v1alpha1.PodFailurePolicyAction, t corev1.PodConditionType, s corev1.ConditionStatus) v1alpha1.PodFailurePolicyRule {
	return v1alpha1.PodFailurePolicyRule{Action: action, OnPodConditions: []v1alpha1.PodFailurePolicyOnPodConditionsPattern{{Type: t, Status: s}}}
}

// SuccessRule is a successPolicy rule; indexes "" and count < 0 mean unset.
func SuccessRule(indexes string, count int32) v1alpha1.SuccessPolicyRule {
	var r v1alpha1.SuccessPolicyRule
	if indexes != "" {
		r.SucceededIndexes = ptr.To(indexes)
	}
	if count >= 0 {
		r.SucceededCount = ptr.To(count)
	}
	return r
}
