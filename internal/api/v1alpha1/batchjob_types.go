package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// CompletionMode specifies how pod completions are tracked.
// +enum
type CompletionMode string

const (
	// NonIndexedCompletion: the BatchJob completes after .spec.completions pods succeed.
	NonIndexedCompletion CompletionMode = "NonIndexed"
	// IndexedCompletion: each index 0..completions-1 needs one succeeded pod.
	IndexedCompletion CompletionMode = "Indexed"
)

// PodFailurePolicyAction is what happens when a failed pod matches a rule.
// +enum
type PodFailurePolicyAction string

const (
	PodFailurePolicyActionFailJob   PodFailurePolicyAction = "FailJob"
	PodFailurePolicyActionFailIndex PodFailurePolicyAction = "FailIndex"
	PodFailurePolicyActionIgnore    PodFailurePolicyAction = "Ignore"
	PodFailurePolicyActionCount     PodFailurePolicyAction = "Count"
)

// PodFailurePolicyOnExitCodesOperator relates a container's exit code to the rule's values.
// +enum
type PodFailurePolicyOnExitCodesOperator string

const (
	PodFailurePolicyOnExitCodesOpIn    PodFailurePolicyOnExitCodesOperator = "In"
	PodFailurePolicyOnExitCodesOpNotIn PodFailurePolicyOnExitCodesOperator = "NotIn"
)

// PodReplacementPolicy says when a replacement pod may be created.
// +enum
type PodReplacementPolicy string

const (
	// TerminatingOrFailed: replace as soon as a pod is terminating or failed.
	TerminatingOrFailed PodReplacementPolicy = "TerminatingOrFailed"
	// Failed: wait until a terminating pod is fully terminal (phase Failed).
	Failed PodReplacementPolicy = "Failed"
)

// PodFailurePolicyOnExitCodesRequirement matches failed pods by container exit codes.
type PodFailurePolicyOnExitCodesRequirement struct {
	// containerName restricts the check to one container or init container.
	// +optional
	ContainerName *string `json:"containerName,omitempty"`
	// operator is In or NotIn.
	Operator PodFailurePolicyOnExitCodesOperator `json:"operator"`
	// values is the set of exit codes, sorted ascending, without duplicates.
	// +listType=set
	Values []int32 `json:"values"`
}

// PodFailurePolicyOnPodConditionsPattern matches failed pods by a pod condition.
type PodFailurePolicyOnPodConditionsPattern struct {
	// type is the pod condition type to match.
	Type corev1.PodConditionType `json:"type"`
	// status of the condition to match; defaults to True.
	// +optional
	Status corev1.ConditionStatus `json:"status"`
}

// PodFailurePolicyRule is one rule of a podFailurePolicy; the first matching rule wins.
type PodFailurePolicyRule struct {
	// action is FailJob, FailIndex, Ignore or Count.
	Action PodFailurePolicyAction `json:"action"`
	// onExitCodes matches by container exit codes.
	// +optional
	OnExitCodes *PodFailurePolicyOnExitCodesRequirement `json:"onExitCodes,omitempty"`
	// onPodConditions matches by pod conditions.
	// +listType=atomic
	// +optional
	OnPodConditions []PodFailurePolicyOnPodConditionsPattern `json:"onPodConditions,omitempty"`
}

// PodFailurePolicy decides how failed pods affect the BatchJob.
type PodFailurePolicy struct {
	// rules are evaluated in order.
	// +listType=atomic
	Rules []PodFailurePolicyRule `json:"rules"`
}

// SuccessPolicy lets an Indexed BatchJob succeed before all indexes succeed.
type SuccessPolicy struct {
	// rules are evaluated in order; the first satisfied rule wins.
	// +listType=atomic
	Rules []SuccessPolicyRule `json:"rules"`
}

// SuccessPolicyRule is one rule of a successPolicy.
type SuccessPolicyRule struct {
	// succeededIndexes is an interval list such as "1,3-5,7".
	// +optional
	SucceededIndexes *string `json:"succeededIndexes,omitempty"`
	// succeededCount is the minimum number of succeeded indexes (of succeededIndexes, if set).
	// +optional
	SucceededCount *int32 `json:"succeededCount,omitempty"`
}

// BatchJobSpec mirrors batch/v1 JobSpec.
type BatchJobSpec struct {
	// parallelism is the maximum number of pods running at once.
	// +optional
	Parallelism *int32 `json:"parallelism,omitempty"`
	// completions is the number of successful pods the BatchJob needs; unset means work queue.
	// +optional
	Completions *int32 `json:"completions,omitempty"`
	// activeDeadlineSeconds bounds the time the BatchJob may be active, from startTime.
	// +optional
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// podFailurePolicy decides how failed pods are handled.
	// +optional
	PodFailurePolicy *PodFailurePolicy `json:"podFailurePolicy,omitempty"`
	// successPolicy lets an Indexed BatchJob succeed early.
	// +optional
	SuccessPolicy *SuccessPolicy `json:"successPolicy,omitempty"`
	// backoffLimit is the number of counted failures before the BatchJob fails.
	// +optional
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// backoffLimitPerIndex is the number of failures tolerated per index (Indexed only).
	// +optional
	BackoffLimitPerIndex *int32 `json:"backoffLimitPerIndex,omitempty"`
	// maxFailedIndexes fails the BatchJob once more indexes than this have failed.
	// +optional
	MaxFailedIndexes *int32 `json:"maxFailedIndexes,omitempty"`
	// selector over the pods; generated from the UID unless manualSelector is true.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// manualSelector lets the user supply the selector.
	// +optional
	ManualSelector *bool `json:"manualSelector,omitempty"`
	// template describes the pods that are created.
	Template corev1.PodTemplateSpec `json:"template"`
	// ttlSecondsAfterFinished deletes the finished BatchJob after this many seconds.
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// completionMode is NonIndexed or Indexed.
	// +optional
	CompletionMode *CompletionMode `json:"completionMode,omitempty"`
	// suspend stops pod creation and deletes active pods.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`
	// podReplacementPolicy is TerminatingOrFailed or Failed.
	// +optional
	PodReplacementPolicy *PodReplacementPolicy `json:"podReplacementPolicy,omitempty"`
	// managedBy names the controller that reconciles this BatchJob.
	// +optional
	ManagedBy *string `json:"managedBy,omitempty"`
}

// JobConditionType is a condition type of a BatchJob.
type JobConditionType string

const (
	JobSuspended          JobConditionType = "Suspended"
	JobComplete           JobConditionType = "Complete"
	JobFailed             JobConditionType = "Failed"
	JobFailureTarget      JobConditionType = "FailureTarget"
	JobSuccessCriteriaMet JobConditionType = "SuccessCriteriaMet"
)

// JobCondition has the shape of batch/v1 JobCondition.
type JobCondition struct {
	// type of the condition.
	Type JobConditionType `json:"type"`
	// status of the condition: True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`
	// lastProbeTime is the last time the condition was checked.
	// +optional
	LastProbeTime metav1.Time `json:"lastProbeTime,omitempty"`
	// lastTransitionTime is the last time the condition changed status.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// reason is a CamelCase reason for the last transition.
	// +optional
	Reason string `json:"reason,omitempty"`
	// message is a human-readable explanation.
	// +optional
	Message string `json:"message,omitempty"`
}

// UncountedTerminatedPods lists finished pods whose tracking finalizer is being removed
// and that are not yet counted in succeeded/failed.
type UncountedTerminatedPods struct {
	// succeeded holds UIDs of succeeded pods.
	// +listType=set
	// +optional
	Succeeded []types.UID `json:"succeeded,omitempty"`
	// failed holds UIDs of failed pods.
	// +listType=set
	// +optional
	Failed []types.UID `json:"failed,omitempty"`
}

// BatchJobStatus mirrors batch/v1 JobStatus.
type BatchJobStatus struct {
	// conditions are the observations of the BatchJob's state.
	// +listType=atomic
	// +optional
	Conditions []JobCondition `json:"conditions,omitempty"`
	// startTime is when the controller started processing the BatchJob.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// completionTime is when the BatchJob completed; only set with Complete.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// active is the number of pending and running pods that are not terminating.
	// +optional
	Active int32 `json:"active,omitempty"`
	// succeeded is the number of pods that reached phase Succeeded.
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`
	// failed is the number of pods counted as failed.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// terminating is the number of pods that are terminating.
	// +optional
	Terminating *int32 `json:"terminating,omitempty"`
	// completedIndexes holds the succeeded indexes of an Indexed BatchJob, e.g. "1,3-5,7".
	// +optional
	CompletedIndexes string `json:"completedIndexes,omitempty"`
	// failedIndexes holds the failed indexes when backoffLimitPerIndex is set.
	// +optional
	FailedIndexes *string `json:"failedIndexes,omitempty"`
	// uncountedTerminatedPods lists finished pods not yet counted.
	// +optional
	UncountedTerminatedPods *UncountedTerminatedPods `json:"uncountedTerminatedPods,omitempty"`
	// ready is the number of active pods with the Ready condition.
	// +optional
	Ready *int32 `json:"ready,omitempty"`

	// Printing fields: kubectl prints CRD columns from JSONPaths only, so the controller
	// stores what `kubectl get jobs` computes. They come on top of the batch/v1 fields.

	// state is what the STATUS column shows: Complete, Failed, Terminating, Suspended,
	// FailureTarget, SuccessCriteriaMet or Running, chosen as kubectl does for Jobs.
	// +optional
	State string `json:"state,omitempty"`
	// completionsText is what the COMPLETIONS column shows, e.g. "3/5" or "0/1 of 3".
	// +optional
	CompletionsText string `json:"completionsText,omitempty"`
	// duration is what the DURATION column shows: completionTime - startTime once
	// complete, otherwise the time since startTime when status was last written.
	// +optional
	Duration string `json:"duration,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.parallelism,statuspath=.status.active
// +kubebuilder:resource:scope=Namespaced,shortName=bj,categories=all
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Completions",type=string,JSONPath=`.status.completionsText`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// BatchJob runs pods to completion, exactly like a batch/v1 Job.
type BatchJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired behaviour of the BatchJob.
	// +optional
	Spec BatchJobSpec `json:"spec,omitempty"`
	// status is the observed state of the BatchJob.
	// +optional
	Status BatchJobStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// BatchJobList is a list of BatchJobs.
type BatchJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BatchJob `json:"items"`
}
