package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

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

// BatchJobStatus mirrors batch/v1 JobStatus. The rules are batch/v1's validateJobStatus
// (pkg/apis/batch/validation) for the invariants that need only the status; the ones that
// also read the spec or the old object are on BatchJob. The status subresource keeps main
// resource writes from touching status, and CRD validation ratcheting skips rules whose
// value did not change, which stands in for upstream's "only if the field changed" options.
//
// Each invariant is enforced only when a field it is about changes (upstream's
// getStatusValidationOptions with JobManagedBy on), so an old status that breaks one still
// accepts unrelated updates; oldSelf is absent on the first status write. The check that
// uncountedTerminatedPods is empty for finished jobs is in config/admission (comparing the
// UID lists is beyond the CRD cost budget).
// +kubebuilder:validation:XValidation:rule="!((has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) && (has(self.conditions) && self.conditions.exists(c, c.type == 'Failed' && c.status == 'True'))) || ((has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type == 'Complete' && c.status == 'True')) && (has(self.conditions) && self.conditions.exists(c, c.type == 'Failed' && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type == 'Failed' && c.status == 'True')))",message="status.conditions: cannot set Complete=True and Failed=True conditions",fieldPath=.conditions,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="!((has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) && (has(self.conditions) && self.conditions.exists(c, c.type == 'FailureTarget' && c.status == 'True'))) || ((has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type == 'Complete' && c.status == 'True')) && (has(self.conditions) && self.conditions.exists(c, c.type == 'FailureTarget' && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type == 'FailureTarget' && c.status == 'True')))",message="status.conditions: cannot set Complete=True and FailureTarget=True conditions",fieldPath=.conditions,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="!(has(self.conditions) && self.conditions.exists(c, c.type == 'Failed' && c.status == 'True')) || (has(self.conditions) && self.conditions.exists(c, c.type == 'FailureTarget' && c.status == 'True')) || (has(self.conditions) && self.conditions.exists(c, c.type == 'Failed' && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type == 'Failed' && c.status == 'True'))",message="status.conditions: cannot set Failed=True condition without the FailureTarget=True condition",fieldPath=.conditions,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="!(has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) || (has(self.conditions) && self.conditions.exists(c, c.type == 'SuccessCriteriaMet' && c.status == 'True')) || ((has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type == 'Complete' && c.status == 'True')) && (has(self.conditions) && self.conditions.exists(c, c.type == 'SuccessCriteriaMet' && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type == 'SuccessCriteriaMet' && c.status == 'True')))",message="status.conditions: cannot set Complete=True condition without the SuccessCriteriaMet=True condition",fieldPath=.conditions,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="!((has(self.conditions) && self.conditions.exists(c, c.type == 'SuccessCriteriaMet' && c.status == 'True')) && (has(self.conditions) && self.conditions.exists(c, c.type == 'Failed' && c.status == 'True')))",message="status.conditions: cannot set SuccessCriteriaMet=True and Failed=True conditions",fieldPath=.conditions
// +kubebuilder:validation:XValidation:rule="!((has(self.conditions) && self.conditions.exists(c, c.type == 'SuccessCriteriaMet' && c.status == 'True')) && (has(self.conditions) && self.conditions.exists(c, c.type == 'FailureTarget' && c.status == 'True')))",message="status.conditions: cannot set SuccessCriteriaMet=True and FailureTarget=True conditions",fieldPath=.conditions
// +kubebuilder:validation:XValidation:rule="!has(self.completionTime) || (has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) || ((has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type == 'Complete' && c.status == 'True')) && self.?completionTime == oldSelf.?completionTime)",message="status.completionTime: cannot set completionTime when there is no Complete=True condition",fieldPath=.completionTime,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="has(self.completionTime) || !(has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) || ((has(self.conditions) && self.conditions.exists(c, c.type == 'Complete' && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type == 'Complete' && c.status == 'True')) && self.?completionTime == oldSelf.?completionTime)",message="status.completionTime: Required value: completionTime is required for Complete jobs",fieldPath=.completionTime,reason=FieldValueRequired,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="!has(self.completionTime) || !has(self.startTime) || self.completionTime >= self.startTime || (self.?completionTime == oldSelf.?completionTime && self.?startTime == oldSelf.?startTime)",message="status.completionTime: must be equal to or after `startTime`",fieldPath=.completionTime,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="!(has(self.conditions) && self.conditions.exists(c, c.type in ['Complete', 'Failed'] && c.status == 'True')) || self.?active.orValue(0) == 0 || ((has(self.conditions) && self.conditions.exists(c, c.type in ['Complete', 'Failed'] && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type in ['Complete', 'Failed'] && c.status == 'True')) && self.?active.orValue(0) == oldSelf.?active.orValue(0))",message="status.active: active>0 is invalid for finished job",fieldPath=.active,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="!(has(self.conditions) && self.conditions.exists(c, c.type in ['Complete', 'Failed'] && c.status == 'True')) || self.?terminating.orValue(0) == 0 || ((has(self.conditions) && self.conditions.exists(c, c.type in ['Complete', 'Failed'] && c.status == 'True')) == (oldSelf.hasValue() && has(oldSelf.value().conditions) && oldSelf.value().conditions.exists(c, c.type in ['Complete', 'Failed'] && c.status == 'True')) && self.?terminating == oldSelf.?terminating)",message="status.terminating: terminating>0 is invalid for finished job",fieldPath=.terminating,optionalOldSelf=true
// +kubebuilder:validation:XValidation:rule="!has(self.ready) || self.ready <= self.?active.orValue(0) || (self.?ready == oldSelf.?ready && self.?active.orValue(0) == oldSelf.?active.orValue(0))",message="status.ready: cannot set more ready pods than active",fieldPath=.ready,optionalOldSelf=true
// Transitions (upstream's ValidateJobStatusUpdate); those that also read the spec are in
// config/admission/validation.yaml.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.conditions) || ['Complete', 'Failed', 'FailureTarget', 'SuccessCriteriaMet'].all(x, !oldSelf.conditions.exists(c, c.type == x && c.status == 'True') || (has(self.conditions) && self.conditions.exists(c, c.type == x && c.status == 'True')))",message="status.conditions: cannot disable a terminal Complete, Failed, FailureTarget or SuccessCriteriaMet=True condition",fieldPath=.conditions
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.failed) || (has(self.failed) && self.failed >= oldSelf.failed)",message="status.failed: cannot decrease the failed counter",fieldPath=.failed
// +kubebuilder:validation:XValidation:rule="!has(self.completionTime) || !has(oldSelf.completionTime) || self.completionTime == oldSelf.completionTime",message="status.completionTime: field is immutable",fieldPath=.completionTime
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.conditions) || !oldSelf.conditions.exists(c, c.type == 'Complete' && c.status == 'True') || oldSelf.conditions.exists(c, c.type == 'SuccessCriteriaMet' && c.status == 'True') || !has(self.conditions) || !self.conditions.exists(c, c.type == 'SuccessCriteriaMet' && c.status == 'True')",message="status.conditions: cannot set SuccessCriteriaMet=True for Job already has Complete=True condition",fieldPath=.conditions
type BatchJobStatus struct {
	// conditions are the observations of the BatchJob's state.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Conditions []JobCondition `json:"conditions,omitempty"`
	// startTime is when the controller started processing the BatchJob.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// completionTime is when the BatchJob completed; only set with Complete.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// active is the number of pending and running pods that are not terminating.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Active int32 `json:"active,omitempty"`
	// succeeded is the number of pods that reached phase Succeeded.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`
	// failed is the number of pods counted as failed.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// terminating is the number of pods that are terminating.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Terminating *int32 `json:"terminating,omitempty"`
	// completedIndexes holds the succeeded indexes of an Indexed BatchJob, e.g. "1,3-5,7".
	// +kubebuilder:validation:Pattern=`^([0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*)?$`
	// +optional
	CompletedIndexes string `json:"completedIndexes,omitempty"`
	// failedIndexes holds the failed indexes when backoffLimitPerIndex is set.
	// +kubebuilder:validation:Pattern=`^([0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*)?$`
	// +optional
	FailedIndexes *string `json:"failedIndexes,omitempty"`
	// uncountedTerminatedPods lists finished pods not yet counted.
	// +optional
	UncountedTerminatedPods *UncountedTerminatedPods `json:"uncountedTerminatedPods,omitempty"`
	// ready is the number of active pods with the Ready condition.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Ready *int32 `json:"ready,omitempty"`

	// Beyond batch/v1.

	// recentFailures are the last pod failures (at most 5, newest last), kept after the
	// pods are gone (k8s#74848, #78644, #107891); each is recorded in the status write that
	// counts it.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=5
	// +optional
	RecentFailures []PodFailure `json:"recentFailures,omitempty"`
	// nextPodCreationTime is when the re-creation backoff lets the next pod be created;
	// unset when no creation waits for it.
	// +optional
	NextPodCreationTime *metav1.Time `json:"nextPodCreationTime,omitempty"`

	// Printing fields: kubectl prints CRD columns from JSONPaths only, so the controller
	// stores what `kubectl get jobs` computes. They come on top of the batch/v1 fields.

	// state is what the STATUS column shows: Complete, Failed, Terminating, Suspended,
	// FailureTarget or SuccessCriteriaMet, chosen as kubectl does for Jobs; otherwise what
	// kubectl calls Running is told apart by the pods: Running once an active pod runs,
	// BackingOff while pod creation waits for nextPodCreationTime, Pending before that.
	// +kubebuilder:validation:Enum=Pending;Running;BackingOff;Suspended;Complete;Failed;Terminating;FailureTarget;SuccessCriteriaMet
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

// PodFailure is one failed pod of a BatchJob, as status.recentFailures keeps it.
type PodFailure struct {
	// pod is the pod's name.
	// +kubebuilder:validation:MaxLength=253
	Pod string `json:"pod"`
	// index is the pod's completion index (Indexed only).
	// +kubebuilder:validation:Minimum=0
	// +optional
	Index *int32 `json:"index,omitempty"`
	// node is the node the pod ran on, if it was scheduled.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Node string `json:"node,omitempty"`
	// container is the container that failed (or could not start).
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Container string `json:"container,omitempty"`
	// exitCode of the container; 0 when it never ran.
	ExitCode int32 `json:"exitCode"`
	// reason is the container's termination reason (OOMKilled, Error, ...), the waiting
	// reason of a container that never started (ImagePullBackOff, ...), or the pod's reason.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Reason string `json:"reason,omitempty"`
	// message is the termination (or waiting) message, cut to 1 KiB.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
	// time is when the pod finished.
	Time metav1.Time `json:"time"`
}
