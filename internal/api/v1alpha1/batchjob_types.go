package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CompletionMode specifies how pod completions are tracked.
// +enum
// +kubebuilder:validation:Enum=NonIndexed;Indexed
type CompletionMode string

const (
	// NonIndexedCompletion: the BatchJob completes after .spec.completions pods succeed.
	NonIndexedCompletion CompletionMode = "NonIndexed"
	// IndexedCompletion: each index 0..completions-1 needs one succeeded pod.
	IndexedCompletion CompletionMode = "Indexed"
)

// PodFailurePolicyAction is what happens when a failed pod matches a rule.
// +enum
// +kubebuilder:validation:Enum=Count;FailIndex;FailJob;Ignore
type PodFailurePolicyAction string

const (
	PodFailurePolicyActionFailJob   PodFailurePolicyAction = "FailJob"
	PodFailurePolicyActionFailIndex PodFailurePolicyAction = "FailIndex"
	PodFailurePolicyActionIgnore    PodFailurePolicyAction = "Ignore"
	PodFailurePolicyActionCount     PodFailurePolicyAction = "Count"
)

// PodFailurePolicyOnExitCodesOperator relates a container's exit code to the rule's values.
// +enum
// +kubebuilder:validation:Enum=In;NotIn
type PodFailurePolicyOnExitCodesOperator string

const (
	PodFailurePolicyOnExitCodesOpIn    PodFailurePolicyOnExitCodesOperator = "In"
	PodFailurePolicyOnExitCodesOpNotIn PodFailurePolicyOnExitCodesOperator = "NotIn"
)

// PodReplacementPolicy says when a replacement pod may be created.
// +enum
// +kubebuilder:validation:Enum=TerminatingOrFailed;Failed
type PodReplacementPolicy string

const (
	// TerminatingOrFailed: replace as soon as a pod is terminating or failed.
	TerminatingOrFailed PodReplacementPolicy = "TerminatingOrFailed"
	// Failed: wait until a terminating pod is fully terminal (phase Failed).
	Failed PodReplacementPolicy = "Failed"
)

// PodFailurePolicyOnExitCodesRequirement matches failed pods by container exit codes.
// +kubebuilder:validation:XValidation:rule="self.values.isSorted()",message="spec.podFailurePolicy.rules[*].onExitCodes.values: must be ordered",fieldPath=.values
type PodFailurePolicyOnExitCodesRequirement struct {
	// containerName restricts the check to one container or init container.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ContainerName *string `json:"containerName,omitempty"`
	// operator is In or NotIn.
	Operator PodFailurePolicyOnExitCodesOperator `json:"operator"`
	// values is the set of exit codes, sorted ascending, without duplicates.
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=255
	Values []int32 `json:"values"`
}

// PodFailurePolicyOnPodConditionsPattern matches failed pods by a pod condition.
type PodFailurePolicyOnPodConditionsPattern struct {
	// type is the pod condition type to match (a qualified name).
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=316
	// +kubebuilder:validation:XValidation:rule=`size(self) <= 316 && self.matches('^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$')`,message="spec.podFailurePolicy.rules[*].onPodConditions[*].type: must be a qualified name"
	Type corev1.PodConditionType `json:"type"`
	// status of the condition to match; defaults to True.
	// +kubebuilder:validation:Enum=True;False;Unknown
	// +kubebuilder:default=True
	// +optional
	Status corev1.ConditionStatus `json:"status,omitempty"`
}

// PodFailurePolicyRule is one rule of a podFailurePolicy; the first matching rule wins.
// +kubebuilder:validation:XValidation:rule="!(has(self.onExitCodes) && has(self.onPodConditions) && size(self.onPodConditions) > 0)",message="spec.podFailurePolicy.rules[*]: specifying both OnExitCodes and OnPodConditions is not supported"
// +kubebuilder:validation:XValidation:rule="has(self.onExitCodes) || (has(self.onPodConditions) && size(self.onPodConditions) > 0)",message="spec.podFailurePolicy.rules[*]: specifying one of OnExitCodes and OnPodConditions is required"
type PodFailurePolicyRule struct {
	// action is FailJob, FailIndex, Ignore or Count.
	Action PodFailurePolicyAction `json:"action"`
	// onExitCodes matches by container exit codes.
	// +optional
	OnExitCodes *PodFailurePolicyOnExitCodesRequirement `json:"onExitCodes,omitempty"`
	// onPodConditions matches by pod conditions.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +optional
	OnPodConditions []PodFailurePolicyOnPodConditionsPattern `json:"onPodConditions,omitempty"`
}

// PodFailurePolicy decides how failed pods affect the BatchJob. The In-operator rule lives
// here rather than on the requirement so that its message can name the offending rule and
// value index, as upstream's field path does (a CEL fieldPath cannot hold a list index).
// +kubebuilder:validation:XValidation:rule="self.rules.all(r, !has(r.onExitCodes) || r.onExitCodes.operator != 'In' || !(0 in r.onExitCodes.values))",messageExpression="'spec.podFailurePolicy.rules[' + ((self.rules.map(r, has(r.onExitCodes) && r.onExitCodes.operator == 'In' && 0 in r.onExitCodes.values).indexOf(true)) >= 10 ? ['0','1','2','3','4','5','6','7','8','9'][(self.rules.map(r, has(r.onExitCodes) && r.onExitCodes.operator == 'In' && 0 in r.onExitCodes.values).indexOf(true)) / 10 % 10] : \"\") + ['0','1','2','3','4','5','6','7','8','9'][(self.rules.map(r, has(r.onExitCodes) && r.onExitCodes.operator == 'In' && 0 in r.onExitCodes.values).indexOf(true)) % 10] + '].onExitCodes.values[' + ((self.rules.map(r, has(r.onExitCodes) && r.onExitCodes.operator == 'In' && 0 in r.onExitCodes.values ? r.onExitCodes.values.indexOf(0) : -1).filter(x, x >= 0)[0]) >= 100 ? ['0','1','2','3','4','5','6','7','8','9'][(self.rules.map(r, has(r.onExitCodes) && r.onExitCodes.operator == 'In' && 0 in r.onExitCodes.values ? r.onExitCodes.values.indexOf(0) : -1).filter(x, x >= 0)[0]) / 100 % 10] : \"\") + ((self.rules.map(r, has(r.onExitCodes) && r.onExitCodes.operator == 'In' && 0 in r.onExitCodes.values ? r.onExitCodes.values.indexOf(0) : -1).filter(x, x >= 0)[0]) >= 10 ? ['0','1','2','3','4','5','6','7','8','9'][(self.rules.map(r, has(r.onExitCodes) && r.onExitCodes.operator == 'In' && 0 in r.onExitCodes.values ? r.onExitCodes.values.indexOf(0) : -1).filter(x, x >= 0)[0]) / 10 % 10] : \"\") + ['0','1','2','3','4','5','6','7','8','9'][(self.rules.map(r, has(r.onExitCodes) && r.onExitCodes.operator == 'In' && 0 in r.onExitCodes.values ? r.onExitCodes.values.indexOf(0) : -1).filter(x, x >= 0)[0]) % 10] + ']: Invalid value: 0: must not be 0 for the In operator'",fieldPath=.rules
type PodFailurePolicy struct {
	// rules are evaluated in order.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	Rules []PodFailurePolicyRule `json:"rules"`
}

// SuccessPolicy lets an Indexed BatchJob succeed before all indexes succeed.
type SuccessPolicy struct {
	// rules are evaluated in order; the first satisfied rule wins.
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	Rules []SuccessPolicyRule `json:"rules"`
}

// SuccessPolicyRule is one rule of a successPolicy.
// +kubebuilder:validation:XValidation:rule="has(self.succeededIndexes) || has(self.succeededCount)",message="spec.successPolicy.rules[*]: at least one of succeededCount or succeededIndexes must be specified"
type SuccessPolicyRule struct {
	// succeededIndexes is an interval list such as "1,3-5,7". The pattern checks the
	// format; ordering, bounds and the count are checked by config/admission.
	// +kubebuilder:validation:MaxLength=65536
	// +kubebuilder:validation:Pattern=`^([0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*)?$`
	// +optional
	SucceededIndexes *string `json:"succeededIndexes,omitempty"`
	// succeededCount is the minimum number of succeeded indexes (of succeededIndexes, if set).
	// +kubebuilder:validation:Minimum=0
	// +optional
	SucceededCount *int32 `json:"succeededCount,omitempty"`
}

// BatchJobSpec mirrors batch/v1 JobSpec. The rules below are batch/v1's ValidateJobSpec and
// ValidateJobSpecUpdate (pkg/apis/batch/validation) as far as CEL can state them; see
// validation.md in this package for the ones that live in config/admission instead.
//
// Create and update:
// +kubebuilder:validation:XValidation:rule="has(self.template.spec.restartPolicy) && self.template.spec.restartPolicy in ['OnFailure', 'Never']",message="spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",fieldPath=.template.spec.restartPolicy,reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.podFailurePolicy) || self.template.spec.?restartPolicy.orValue('Never') != 'OnFailure'",message="spec.template.spec.restartPolicy: only \"Never\" is supported when podFailurePolicy is specified",fieldPath=.template.spec.restartPolicy
// +kubebuilder:validation:XValidation:rule="self.completionMode != 'Indexed' || has(self.completions)",message="spec.completions: Required value: when completion mode is Indexed",fieldPath=.completions,reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.completionMode != 'Indexed' || !has(self.parallelism) || self.parallelism <= 100000",message="spec.parallelism: must be less than or equal to 100000 when completion mode is Indexed",fieldPath=.parallelism
// +kubebuilder:validation:XValidation:rule="self.completionMode != 'Indexed' || !has(self.completions) || !has(self.maxFailedIndexes) || self.maxFailedIndexes <= self.completions",message="spec.maxFailedIndexes: must be less than or equal to completions",fieldPath=.maxFailedIndexes
// +kubebuilder:validation:XValidation:rule="self.completionMode != 'Indexed' || !has(self.maxFailedIndexes) || self.maxFailedIndexes <= 100000",message="spec.maxFailedIndexes: must be less than or equal to 100000",fieldPath=.maxFailedIndexes
// +kubebuilder:validation:XValidation:rule="self.completionMode != 'Indexed' || !has(self.completions) || self.completions <= 100000 || !has(self.backoffLimitPerIndex) || has(self.maxFailedIndexes)",message="spec.maxFailedIndexes: Required value: must be specified when completions is above 100000",fieldPath=.maxFailedIndexes,reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="self.completionMode != 'Indexed' || !has(self.completions) || self.completions <= 100000 || !has(self.backoffLimitPerIndex) || !has(self.parallelism) || self.parallelism <= 10000",message="spec.parallelism: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",fieldPath=.parallelism
// +kubebuilder:validation:XValidation:rule="self.completionMode != 'Indexed' || !has(self.completions) || self.completions <= 100000 || !has(self.backoffLimitPerIndex) || !has(self.maxFailedIndexes) || self.maxFailedIndexes <= 10000",message="spec.maxFailedIndexes: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",fieldPath=.maxFailedIndexes
// +kubebuilder:validation:XValidation:rule="self.completionMode == 'Indexed' || !has(self.backoffLimitPerIndex)",message="spec.backoffLimitPerIndex: requires indexed completion mode",fieldPath=.backoffLimitPerIndex
// +kubebuilder:validation:XValidation:rule="self.completionMode == 'Indexed' || !has(self.maxFailedIndexes)",message="spec.maxFailedIndexes: requires indexed completion mode",fieldPath=.maxFailedIndexes
// +kubebuilder:validation:XValidation:rule="!has(self.maxFailedIndexes) || has(self.backoffLimitPerIndex)",message="spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",fieldPath=.backoffLimitPerIndex,reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.podFailurePolicy) || has(self.backoffLimitPerIndex) || !self.podFailurePolicy.rules.exists(r, r.action == 'FailIndex')",messageExpression="'spec.podFailurePolicy.rules[' + ((self.podFailurePolicy.rules.map(r, r.action == 'FailIndex').indexOf(true)) >= 10 ? ['0','1','2','3','4','5','6','7','8','9'][(self.podFailurePolicy.rules.map(r, r.action == 'FailIndex').indexOf(true)) / 10 % 10] : \"\") + ['0','1','2','3','4','5','6','7','8','9'][(self.podFailurePolicy.rules.map(r, r.action == 'FailIndex').indexOf(true)) % 10] + '].action: Invalid value: FailIndex: requires the backoffLimitPerIndex to be set'",fieldPath=.podFailurePolicy
// +kubebuilder:validation:XValidation:rule="!has(self.podFailurePolicy) || !has(self.podReplacementPolicy) || self.podReplacementPolicy == 'Failed'",message="spec.podReplacementPolicy: Unsupported value: only \"Failed\" is supported when podFailurePolicy is specified",fieldPath=.podReplacementPolicy
// +kubebuilder:validation:XValidation:rule="self.completionMode == 'Indexed' || !has(self.successPolicy)",message="spec.successPolicy: requires indexed completion mode",fieldPath=.successPolicy
// +kubebuilder:validation:XValidation:rule="self.completionMode == 'Indexed' || !has(self.completionIndexes)",message="spec.completionIndexes: requires indexed completion mode",fieldPath=.completionIndexes
// +kubebuilder:validation:XValidation:rule="!has(self.successPolicy) || !has(self.completions) || self.successPolicy.rules.all(r, !has(r.succeededCount) || r.succeededCount <= self.completions)",messageExpression="'spec.successPolicy.rules[' + ((self.successPolicy.rules.map(r, has(r.succeededCount) && r.succeededCount > self.completions).indexOf(true)) >= 10 ? ['0','1','2','3','4','5','6','7','8','9'][(self.successPolicy.rules.map(r, has(r.succeededCount) && r.succeededCount > self.completions).indexOf(true)) / 10 % 10] : \"\") + ['0','1','2','3','4','5','6','7','8','9'][(self.successPolicy.rules.map(r, has(r.succeededCount) && r.succeededCount > self.completions).indexOf(true)) % 10] + '].succeededCount: Invalid value: must be less than or equal to spec.completions (the number of specified completions)'",fieldPath=.successPolicy
//
// Update only:
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.selector) || (has(self.selector) && self.selector == oldSelf.selector)",message="spec.selector: field is immutable",fieldPath=.selector
// +kubebuilder:validation:XValidation:rule="self.completionMode == oldSelf.completionMode",message="spec.completionMode: field is immutable",fieldPath=.completionMode
// +kubebuilder:validation:XValidation:rule="has(self.completionIndexes) == has(oldSelf.completionIndexes) && (!has(self.completionIndexes) || self.completionIndexes == oldSelf.completionIndexes)",message="spec.completionIndexes: field is immutable",fieldPath=.completionIndexes
// +kubebuilder:validation:XValidation:rule="has(self.podFailurePolicy) == has(oldSelf.podFailurePolicy) && (!has(self.podFailurePolicy) || self.podFailurePolicy == oldSelf.podFailurePolicy)",message="spec.podFailurePolicy: field is immutable",fieldPath=.podFailurePolicy
// +kubebuilder:validation:XValidation:rule="has(self.backoffLimitPerIndex) == has(oldSelf.backoffLimitPerIndex) && (!has(self.backoffLimitPerIndex) || self.backoffLimitPerIndex == oldSelf.backoffLimitPerIndex)",message="spec.backoffLimitPerIndex: field is immutable",fieldPath=.backoffLimitPerIndex
// +kubebuilder:validation:XValidation:rule="has(self.managedBy) == has(oldSelf.managedBy) && (!has(self.managedBy) || self.managedBy == oldSelf.managedBy)",message="spec.managedBy: field is immutable",fieldPath=.managedBy
// +kubebuilder:validation:XValidation:rule="has(self.successPolicy) == has(oldSelf.successPolicy) && (!has(self.successPolicy) || self.successPolicy == oldSelf.successPolicy)",message="spec.successPolicy: field is immutable",fieldPath=.successPolicy
// +kubebuilder:validation:XValidation:rule="self.completionMode == 'Indexed' || self.?completions == oldSelf.?completions",message="spec.completions: field is immutable",fieldPath=.completions
// +kubebuilder:validation:XValidation:rule="self.completionMode != 'Indexed' || self.?completions == oldSelf.?completions || !has(self.completions) || self.completions == self.?parallelism.orValue(-1)",message="spec.completions: can only be modified in tandem with spec.parallelism",fieldPath=.completions
type BatchJobSpec struct {
	// parallelism is the maximum number of pods running at once.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Parallelism *int32 `json:"parallelism,omitempty"`
	// completions is the number of successful pods the BatchJob needs; unset means work queue.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Completions *int32 `json:"completions,omitempty"`
	// activeDeadlineSeconds bounds the time the BatchJob may be active, from startTime.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// podFailurePolicy decides how failed pods are handled.
	// +optional
	PodFailurePolicy *PodFailurePolicy `json:"podFailurePolicy,omitempty"`
	// successPolicy lets an Indexed BatchJob succeed early.
	// +optional
	SuccessPolicy *SuccessPolicy `json:"successPolicy,omitempty"`
	// backoffLimit is the number of counted failures before the BatchJob fails.
	// +kubebuilder:validation:Minimum=0
	// +optional
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// backoffLimitPerIndex is the number of failures tolerated per index (Indexed only).
	// +kubebuilder:validation:Minimum=0
	// +optional
	BackoffLimitPerIndex *int32 `json:"backoffLimitPerIndex,omitempty"`
	// maxFailedIndexes fails the BatchJob once more indexes than this have failed.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxFailedIndexes *int32 `json:"maxFailedIndexes,omitempty"`
	// selector over the pods; generated from the UID unless manualSelector is true.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// manualSelector lets the user supply the selector.
	// +kubebuilder:default=false
	// +optional
	ManualSelector *bool `json:"manualSelector,omitempty"`
	// template describes the pods that are created.
	Template corev1.PodTemplateSpec `json:"template"`
	// ttlSecondsAfterFinished deletes the finished BatchJob after this many seconds.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// completionMode is NonIndexed or Indexed.
	// +kubebuilder:default=NonIndexed
	// +optional
	CompletionMode *CompletionMode `json:"completionMode,omitempty"`
	// suspend stops pod creation and deletes active pods.
	// +kubebuilder:default=false
	// +optional
	Suspend *bool `json:"suspend,omitempty"`
	// podReplacementPolicy is TerminatingOrFailed or Failed.
	// +optional
	PodReplacementPolicy *PodReplacementPolicy `json:"podReplacementPolicy,omitempty"`
	// managedBy names the controller that reconciles this BatchJob: a domain-prefixed path.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$`
	// +optional
	ManagedBy *string `json:"managedBy,omitempty"`

	// Beyond batch/v1: opt-in fields; unset, the BatchJob behaves as a batch/v1 Job.

	// retryPolicy tunes how failed pods are replaced. Mutable: a change applies to the
	// pods created after it.
	// +optional
	RetryPolicy *RetryPolicy `json:"retryPolicy,omitempty"`
	// ttlSecondsAfterFailure deletes a Failed BatchJob this many seconds after it failed,
	// instead of after ttlSecondsAfterFinished, so that the evidence of a failure can stay
	// longer than a success (k8s#74848, #78644, #107891). Unset, ttlSecondsAfterFinished
	// applies to failed jobs too. Mutable, as ttlSecondsAfterFinished is.
	// +kubebuilder:validation:Minimum=0
	// +optional
	TTLSecondsAfterFailure *int32 `json:"ttlSecondsAfterFailure,omitempty"`
	// completionIndexes (Indexed only) runs just these indexes, an interval list such as
	// "3,7,9-12" within [0, completions): each pod keeps its own index in env, hostname and
	// labels, and the BatchJob succeeds when all of them succeeded (k8s#77396, #109131,
	// kubectl#1441; `kubectl batchjob rerun --failed-indexes` sets it). Immutable, as
	// completionMode is. The pattern checks the format; ordering and bounds are checked by
	// config/admission.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65536
	// +kubebuilder:validation:Pattern=`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`
	// +optional
	CompletionIndexes *string `json:"completionIndexes,omitempty"`
	// podStartupPolicy fails a pod of this BatchJob that cannot start (k8s#122300,
	// #113211, #95431): the controller sets the pod condition BatchJobPodStartupFailed,
	// deletes the pod and counts it as a failure, against backoffLimit or
	// backoffLimitPerIndex like any other (podFailurePolicy onPodConditions rules can
	// match the condition). Unset: pods may wait to start forever, as batch/v1's do.
	// Mutable: a change applies from the next pass.
	// +optional
	PodStartupPolicy *PodStartupPolicy `json:"podStartupPolicy,omitempty"`
}

// WaitingReason is a container waiting reason that fails a pod under podStartupPolicy.
// +enum
// +kubebuilder:validation:Enum=ImagePullBackOff;ErrImagePull;InvalidImageName;CreateContainerConfigError;CreateContainerError
type WaitingReason string

// PodStartupPolicy says when a pod that has not started counts as failed.
// +kubebuilder:validation:XValidation:rule="has(self.timeoutSeconds) || (has(self.failOnWaitingReasons) && size(self.failOnWaitingReasons) > 0)",message="spec.podStartupPolicy: set timeoutSeconds, failOnWaitingReasons or both"
type PodStartupPolicy struct {
	// timeoutSeconds fails a pod none of whose containers (init containers included) is
	// running or has terminated this many seconds after the pod was created (reason
	// StartupTimeout).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	// +optional
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
	// failOnWaitingReasons fails a pod that has not started and one of whose containers
	// waits with one of these reasons, once the pod is 10 seconds old (a grace for a
	// transient pull error; reason: the waiting reason).
	// +listType=set
	// +kubebuilder:validation:MaxItems=5
	// +optional
	FailOnWaitingReasons []WaitingReason `json:"failOnWaitingReasons,omitempty"`
}

// RetryPolicy tunes how failed pods are replaced (k8s#94012, #114651, #88718).
// +kubebuilder:validation:XValidation:rule="!has(self.initialDelaySeconds) || !has(self.maxDelaySeconds) || self.maxDelaySeconds >= self.initialDelaySeconds",message="spec.retryPolicy.maxDelaySeconds: must be greater than or equal to initialDelaySeconds",fieldPath=.maxDelaySeconds
type RetryPolicy struct {
	// initialDelaySeconds is the delay before a pod is re-created after the first failure;
	// it doubles with each further failure since the last success, as upstream's backoff
	// does, for the whole job and (with backoffLimitPerIndex) per index. Unset means 10
	// (upstream's); 0 re-creates at once.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	InitialDelaySeconds *int32 `json:"initialDelaySeconds,omitempty"`
	// maxDelaySeconds caps every delay. Unset means 600 (upstream's).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	MaxDelaySeconds *int32 `json:"maxDelaySeconds,omitempty"`
	// avoidFailedNodes gives a replacement pod a required node anti-affinity (a
	// kubernetes.io/hostname NotIn requirement added to every nodeSelectorTerm of the
	// template's affinity) to the last 10 nodes where this BatchJob's pods (Indexed: this
	// index's pods) failed. Unset or false: no change to the template.
	// +optional
	AvoidFailedNodes *bool `json:"avoidFailedNodes,omitempty"`
	// memoryIncreaseOnOOM gives a pod replacing one whose container was OOMKilled more
	// memory: that container's memory request and limit, as the failed pod had them, times
	// factor, capped at max (compounding over successive replacements; the replacement of a
	// pod that had max keeps max, reported as "kept"). The replaced pod is
	// the index's last failed pod (Indexed) or the BatchJob's most recent OOMKilled failed
	// pod (NonIndexed). The pod records the change in the batchjob.dev/memory-increase
	// annotation and a MemoryIncreased event says so. Unset: pods get the template's memory.
	// +optional
	MemoryIncreaseOnOOM *MemoryIncrease `json:"memoryIncreaseOnOOM,omitempty"`
}

// MemoryIncrease is how much more memory a replacement for an OOMKilled pod gets.
// +kubebuilder:validation:XValidation:rule="double(self.factor) > 1.0",message="spec.retryPolicy.memoryIncreaseOnOOM.factor: must be a decimal number greater than 1, such as 1.5",fieldPath=.factor
// +kubebuilder:validation:XValidation:rule="type(self.max) == int ? self.max > 0 : quantity(self.max).isGreaterThan(quantity('0'))",message="spec.retryPolicy.memoryIncreaseOnOOM.max: must be greater than 0",fieldPath=.max
type MemoryIncrease struct {
	// factor multiplies the OOMKilled container's memory request and limit: a decimal
	// number greater than 1, such as "1.5" or "2".
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:Pattern=`^[0-9]{1,4}(\.[0-9]{1,6})?$`
	// +required
	Factor string `json:"factor"`
	// max caps the increased request and limit, such as "8Gi". A template value above it
	// is kept as it is.
	// +required
	Max resource.Quantity `json:"max"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.parallelism,statuspath=.status.active
// +kubebuilder:resource:scope=Namespaced,shortName=bj,categories=all
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Completions",type=string,JSONPath=`.status.completionsText`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
//
// Rules that need metadata, the old object or both spec and status. Rules whose CEL cost
// the CRD budget cannot carry (they read metadata.name as a string, or spec and status
// together) are in config/admission/validation.yaml instead.
// Create and update:
// +kubebuilder:validation:XValidation:rule="self.spec.?manualSelector.orValue(false) || !has(self.spec.selector) || self.spec.selector.?matchLabels[?'batchjob.dev/controller-uid'].hasValue()",message="spec.selector: `selector` not auto-generated: without spec.manualSelector it must be {matchLabels: {batchjob.dev/controller-uid: UID}}",fieldPath=.spec.selector
// +kubebuilder:validation:XValidation:rule="self.spec.?manualSelector.orValue(false) || !self.spec.?selector.?matchLabels[?'batchjob.dev/controller-uid'].hasValue() || self.spec.template.?metadata.?labels[?'batchjob.dev/controller-uid'].orValue(\"\") == self.spec.selector.matchLabels['batchjob.dev/controller-uid']",message="must be the BatchJob's UID, as in the generated selector",fieldPath=".spec.template.metadata.labels['batchjob.dev/controller-uid']"
// +kubebuilder:validation:XValidation:rule="self.spec.?manualSelector.orValue(false) || !self.spec.?selector.?matchLabels[?'batchjob.dev/controller-uid'].hasValue() || self.spec.template.?metadata.?labels[?'controller-uid'].orValue(\"\") == self.spec.selector.matchLabels['batchjob.dev/controller-uid']",message="must be the BatchJob's UID, as in the generated selector",fieldPath=".spec.template.metadata.labels['controller-uid']"
// +kubebuilder:validation:XValidation:rule="self.spec.?manualSelector.orValue(false) || !self.spec.?selector.?matchLabels[?'batchjob.dev/controller-uid'].hasValue() || self.spec.template.?metadata.?labels[?'batchjob.dev/job-name'].orValue(\"\") == self.metadata.name",message="must be the BatchJob's name",fieldPath=".spec.template.metadata.labels['batchjob.dev/job-name']"
// +kubebuilder:validation:XValidation:rule="self.spec.?manualSelector.orValue(false) || !self.spec.?selector.?matchLabels[?'batchjob.dev/controller-uid'].hasValue() || self.spec.template.?metadata.?labels[?'job-name'].orValue(\"\") == self.metadata.name",message="must be the BatchJob's name",fieldPath=".spec.template.metadata.labels['job-name']"
// Create only (the controller writes the generated selector and labels on its first pass):
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.spec.?manualSelector.orValue(false) || !has(self.spec.selector)",message="spec.selector: must not be set unless spec.manualSelector is true: it is generated from the UID",fieldPath=.spec.selector,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.spec.?manualSelector.orValue(false) || (['batchjob.dev/controller-uid', 'controller-uid'].all(k, !self.spec.template.?metadata.?labels[?k].hasValue()) && ['batchjob.dev/job-name', 'job-name'].all(k, self.spec.template.?metadata.?labels[?k].orValue(self.metadata.name) == self.metadata.name))",message="spec.template.metadata.labels: without spec.manualSelector the labels controller-uid and batchjob.dev/controller-uid are generated and must not be set, and job-name and batchjob.dev/job-name must equal metadata.name",fieldPath=.spec.template.metadata.labels,optionalOldSelf=true
// Update only. The template is immutable except (a) while suspended and not started, when
// config/admission's ValidatingAdmissionPolicy narrows the change to scheduling directives,
// container resources and metadata as upstream does, and (b) in the update that first sets
// spec.selector, which may only add the generated labels (the rule above checks their
// values; the admission policy checks that nothing else changed).
// +kubebuilder:validation:XValidation:rule="self.spec.template == oldSelf.spec.template || (has(oldSelf.spec.suspend) && oldSelf.spec.suspend && (!has(oldSelf.status) || ((!has(oldSelf.status.startTime) || (has(oldSelf.status.conditions) && oldSelf.status.conditions.exists(c, c.type == 'Suspended' && c.status == 'True'))) && (!has(oldSelf.status.active) || oldSelf.status.active == 0)))) || (!has(oldSelf.spec.selector) && has(self.spec.selector) && self.spec.template.spec == oldSelf.spec.template.spec)",message="spec.template: field is immutable",fieldPath=.spec.template
//
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
