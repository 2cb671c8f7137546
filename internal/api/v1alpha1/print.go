package v1alpha1

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// SetPrintFields fills the printing fields of status from the rest of the object, the way
// kubectl's printer computes the columns of `kubectl get jobs`. now is used for the
// DURATION of a job that has not completed.
func SetPrintFields(job *BatchJob, status *BatchJobStatus, now time.Time) {
	status.State = printState(job, status)
	status.CompletionsText = printCompletions(&job.Spec, status)
	status.Duration = printDuration(status, now)
}

// Values of status.state. The first group is kubectl's for Jobs; Pending and BackingOff
// split its Running by what the pods show (k8s#138366), which only the controller knows:
// SetPrintFields, given no pods, says Running, and the controller refines it.
const (
	StateComplete           = "Complete"
	StateFailed             = "Failed"
	StateTerminating        = "Terminating"
	StateSuspended          = "Suspended"
	StateFailureTarget      = "FailureTarget"
	StateSuccessCriteriaMet = "SuccessCriteriaMet"
	StateRunning            = "Running"
	StatePending            = "Pending"
	StateBackingOff         = "BackingOff"
)

func printState(job *BatchJob, status *BatchJobStatus) string {
	switch {
	case hasTrueCondition(status, JobComplete):
		return StateComplete
	case hasTrueCondition(status, JobFailed):
		return StateFailed
	case job.DeletionTimestamp != nil:
		return StateTerminating
	case hasTrueCondition(status, JobSuspended):
		return StateSuspended
	case hasTrueCondition(status, JobFailureTarget):
		return StateFailureTarget
	case hasTrueCondition(status, JobSuccessCriteriaMet):
		return StateSuccessCriteriaMet
	default:
		return StateRunning
	}
}

func printCompletions(spec *BatchJobSpec, status *BatchJobStatus) string {
	if spec.Completions != nil {
		return fmt.Sprintf("%d/%d", status.Succeeded, *spec.Completions)
	}
	if spec.Parallelism != nil && *spec.Parallelism > 1 {
		return fmt.Sprintf("%d/1 of %d", status.Succeeded, *spec.Parallelism)
	}
	return fmt.Sprintf("%d/1", status.Succeeded)
}

func printDuration(status *BatchJobStatus, now time.Time) string {
	switch {
	case status.StartTime == nil:
		return ""
	case status.CompletionTime == nil:
		return duration.HumanDuration(now.Sub(status.StartTime.Time))
	default:
		return duration.HumanDuration(status.CompletionTime.Sub(status.StartTime.Time))
	}
}

func hasTrueCondition(status *BatchJobStatus, t JobConditionType) bool {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t && status.Conditions[i].Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// HasTrueCondition reports whether the status has a condition of type t with status True.
func (s *BatchJobStatus) HasTrueCondition(t JobConditionType) bool { return hasTrueCondition(s, t) }

// IsFinished reports whether the status has Complete=True or Failed=True.
func (s *BatchJobStatus) IsFinished() bool {
	return hasTrueCondition(s, JobComplete) || hasTrueCondition(s, JobFailed)
}
