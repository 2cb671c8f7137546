package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConcurrencyPolicy says what happens when a scheduled time comes while an earlier BatchJob
// of the same BatchCronJob is still running.
// +enum
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

const (
	// AllowConcurrent lets BatchJobs of one BatchCronJob run at the same time.
	AllowConcurrent ConcurrencyPolicy = "Allow"
	// ForbidConcurrent skips a scheduled time while an earlier BatchJob still runs.
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent deletes the running BatchJobs and starts the new one.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
)

// CronJobScheduledTimestampAnnotation is put on every BatchJob a BatchCronJob creates: its
// scheduled time in RFC3339, in the BatchCronJob's time zone (batch/v1's
// batch.kubernetes.io/cronjob-scheduled-timestamp under this project's domain).
const CronJobScheduledTimestampAnnotation = "batchjob.dev/cronjob-scheduled-timestamp"

// BatchCronJobScheduleInvalid is the status condition the controller sets (True) while
// spec.schedule or spec.timeZone cannot be used, and removes once they can. CEL in the CRD
// checks their shape only: it can neither parse cron syntax nor load a time zone.
const BatchCronJobScheduleInvalid = "ScheduleInvalid"

// BatchJobTemplateSpec is the BatchJob a BatchCronJob creates at each scheduled time
// (batch/v1 JobTemplateSpec). Upstream's ValidateJobTemplateSpec rules: the selector is
// always generated.
// +kubebuilder:validation:XValidation:rule="!has(self.spec.selector)",message="spec.jobTemplate.spec.selector: Invalid value: `selector` will be auto-generated",fieldPath=.spec.selector
// +kubebuilder:validation:XValidation:rule="!self.spec.?manualSelector.orValue(false)",message="spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: \"nil\", \"false\"",fieldPath=.spec.manualSelector
type BatchJobTemplateSpec struct {
	// metadata: labels and annotations copied to every BatchJob created from this template.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// spec of the BatchJobs created from this template.
	Spec BatchJobSpec `json:"spec"`
}

// BatchCronJobSpec mirrors batch/v1 CronJobSpec. The rules are upstream's
// validateCronJobSpec as far as CEL can state them: CEL checks the schedule's field count
// and characters and the time zone's spelling; the controller parses the schedule with
// robfig/cron and loads the time zone, and reports what fails in an event and in the
// ScheduleInvalid condition.
type BatchCronJobSpec struct {
	// schedule in cron format (five fields, or a descriptor such as @hourly or @every 1h).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule=`self.matches('^\\s*(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every\\s+\\S+|[0-9A-Za-z*?/,-]+(\\s+[0-9A-Za-z*?/,-]+){4})\\s*$')`,message="spec.schedule: Invalid value: expected exactly 5 fields (minute hour day-of-month month day-of-week) of digits, names, and * ? / , -, or a descriptor such as @hourly or @every 1h"
	// +kubebuilder:validation:XValidation:rule=`!self.contains('TZ')`,message="spec.schedule: Invalid value: cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
	Schedule string `json:"schedule"`

	// timeZone is an IANA time zone name (e.g. Europe/London) for the schedule; the
	// controller's local time zone (UTC in the container image) when unset.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="size(self) > 0",message="spec.timeZone: Invalid value: timeZone must be nil or non-empty string"
	// +kubebuilder:validation:XValidation:rule=`self.split('/').all(p, p.matches('^[A-Za-z._0-9+-]{1,14}$') && p != '.' && p != '..' && !p.startsWith('-'))`,messageExpression="'spec.timeZone: Invalid value: unknown time zone ' + self"
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii() != 'local'",message="spec.timeZone: Invalid value: timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
	// +optional
	TimeZone *string `json:"timeZone,omitempty"`

	// startingDeadlineSeconds: a scheduled time missed by more than this many seconds is
	// skipped (counted as missed).
	// +kubebuilder:validation:Minimum=0
	// +optional
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`

	// concurrencyPolicy is Allow (default), Forbid or Replace.
	// +kubebuilder:default=Allow
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`

	// suspend stops new BatchJobs from being created; running ones are left alone.
	// +kubebuilder:default=false
	// +optional
	Suspend *bool `json:"suspend,omitempty"`

	// jobTemplate is the BatchJob created at each scheduled time.
	JobTemplate BatchJobTemplateSpec `json:"jobTemplate"`

	// successfulJobsHistoryLimit is how many Complete BatchJobs are kept.
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=0
	// +optional
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`

	// failedJobsHistoryLimit is how many Failed BatchJobs are kept.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`
}

// BatchCronJobStatus mirrors batch/v1 CronJobStatus, plus a count for printing and a
// condition for a schedule the controller cannot use.
type BatchCronJobStatus struct {
	// active lists the BatchJobs of this BatchCronJob that are running.
	// +listType=atomic
	// +optional
	Active []corev1.ObjectReference `json:"active,omitempty"`

	// lastScheduleTime is the scheduled time of the last BatchJob created.
	// +optional
	LastScheduleTime *metav1.Time `json:"lastScheduleTime,omitempty"`

	// lastSuccessfulTime is when the last BatchJob completed successfully.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// activeCount is len(active), for the ACTIVE column (a printer column cannot count).
	// +optional
	ActiveCount int32 `json:"activeCount,omitempty"`

	// conditions: ScheduleInvalid while the schedule or time zone cannot be used.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BatchCronJob creates BatchJobs on a cron schedule, as batch/v1 CronJob creates Jobs.
// Names are limited to 52 characters on create, as upstream's ValidateCronJobCreate does:
// the created BatchJobs append an 11-character "-<minutes>" suffix.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=bcj,categories=all
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule`
// +kubebuilder:printcolumn:name="Timezone",type=string,JSONPath=`.spec.timeZone`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Active",type=integer,JSONPath=`.status.activeCount`
// +kubebuilder:printcolumn:name="Last Schedule",type=date,JSONPath=`.status.lastScheduleTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || size(self.metadata.name) <= 52",message="metadata.name: Invalid value: must be no more than 52 characters",optionalOldSelf=true
type BatchCronJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BatchCronJobSpec `json:"spec"`
	// +optional
	Status BatchCronJobStatus `json:"status,omitempty"`
}

// BatchCronJobList is a list of BatchCronJobs.
// +kubebuilder:object:root=true
type BatchCronJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BatchCronJob `json:"items"`
}

func init() {
	SchemeBuilder.Register(&BatchCronJob{}, &BatchCronJobList{})
}
