package kueue

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kueueapi "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Action is the one write a pass makes; the next pass, triggered by that write's event,
// takes the next step.
type Action string

const (
	// None: nothing to write (waiting for Kueue, the BatchJob controller or the user).
	None Action = ""
	// CreateWorkload creates the job's Workload.
	CreateWorkload Action = "CreateWorkload"
	// AdoptWorkload makes the job the controller of the prebuilt Workload its
	// PrebuiltWorkloadLabel names (jobframework's EnsurePrebuiltWorkloadOwnership).
	AdoptWorkload Action = "AdoptWorkload"
	// UpdateWorkload rewrites the Workload's pod sets (and queue name) from the job: the
	// suspended job changed while it held no quota.
	UpdateWorkload Action = "UpdateWorkload"
	// UpdateQueueName moves the Workload to the job's new queue.
	UpdateQueueName Action = "UpdateQueueName"
	// UpdatePriority gives the Workload the WorkloadPriorityClass the job's priority-class
	// label now names (jobframework's UpdateWorkloadPriority).
	UpdatePriority Action = "UpdatePriority"
	// Start resumes the job with the admission applied to its template (ApplyAdmission).
	Start Action = "Start"
	// Suspend suspends the job and marks it StoppingAnnotation.
	Suspend Action = "Suspend"
	// Restore puts the Workload's pod set back into the template of a stopping job once its
	// pods are gone (RestoreTemplate), and drops StoppingAnnotation.
	Restore Action = "Restore"
	// ClearAdmission releases an evicted Workload's quota once the job has no active pods:
	// QuotaReserved=False, no admission, Requeued set (ClearAdmissionStatus).
	ClearAdmission Action = "ClearAdmission"
	// Finish sets the Workload's Finished condition (SetFinished), which releases its quota.
	Finish Action = "Finish"
	// RemoveFinalizer drops Kueue's resource-in-use finalizer from a finished or deleted
	// Workload.
	RemoveFinalizer Action = "RemoveFinalizer"
)

// Decision is an Action with the reason and message it carries (the Workload's Finished
// reason, the eviction reason, or why the job is stopped).
type Decision struct {
	Action  Action
	Reason  string
	Message string
}

// Decide is the Workload protocol for one BatchJob labelled with a queue name, the pass
// jobframework's ReconcileGenericJob makes for a batch/v1 Job: wl is the job's Workload (nil
// when there is none). For a job with a PrebuiltWorkloadLabel, wl is the Workload that label
// names, when it exists and no other object controls it.
func Decide(job *v1alpha1.BatchJob, wl *kueueapi.Workload) Decision {
	if QueueName(job) == "" {
		return Decision{}
	}
	prebuilt := PrebuiltWorkload(job) != ""
	if prebuilt && wl != nil && ownerOf(wl) == nil {
		return Decision{Action: AdoptWorkload}
	}
	if wl != nil && isTrue(wl, kueueapi.WorkloadFinished) {
		if hasFinalizer(wl) {
			return Decision{Action: RemoveFinalizer}
		}
		return Decision{}
	}
	if prebuilt && wl != nil && wl.DeletionTimestamp == nil && !prebuiltInSync(job, wl) {
		return Decision{Action: Finish, Reason: kueueapi.WorkloadFinishedReasonOutOfSync,
			Message: "The prebuilt workload is out of sync with its user job"}
	}
	// A stop in progress completes first: the template goes back once the pods are gone.
	if stopping(job) {
		if !templateMutable(job) {
			return Decision{}
		}
		return Decision{Action: Restore}
	}
	if wl != nil && wl.DeletionTimestamp != nil {
		if !isSuspended(job) && !job.Status.IsFinished() {
			return Decision{Action: Suspend, Reason: "WorkloadDeleted", Message: "Workload is deleted"}
		}
		if hasFinalizer(wl) {
			return Decision{Action: RemoveFinalizer}
		}
		return Decision{}
	}
	if ok, success, msg := jobFinished(job); ok {
		if wl == nil {
			return Decision{}
		}
		reason := kueueapi.WorkloadFinishedReasonSucceeded
		if !success {
			reason = kueueapi.WorkloadFinishedReasonFailed
		}
		return Decision{Action: Finish, Reason: reason, Message: msg}
	}
	if wl == nil {
		if !isSuspended(job) {
			if prebuilt {
				return Decision{Action: Suspend, Reason: "NoMatchingWorkload", Message: "missing workload"}
			}
			return Decision{Action: Suspend, Reason: "NoMatchingWorkload", Message: "Missing Workload; unable to restore pod templates"}
		}
		if job.Status.Active > 0 || prebuilt {
			// Wait until the pods of the suspended job are gone, or for the prebuilt
			// Workload (its creation triggers the next pass).
			return Decision{}
		}
		return Decision{Action: CreateWorkload}
	}
	return decideAdmission(job, wl, prebuilt)
}

// decideAdmission is the protocol for a job with a live Workload: follow a priority-class
// change, stop on eviction and release the quota once the pods are gone, start when
// admitted, keep a waiting Workload in step with the suspended job, and stop a job that
// runs without admission.
func decideAdmission(job *v1alpha1.BatchJob, wl *kueueapi.Workload, prebuilt bool) Decision {
	// A prebuilt Workload's spec belongs to whoever built it (MultiKueue keeps it in step
	// with the manager cluster's): it is never rewritten from the job.
	if !prebuilt && priorityLabelChanged(job, wl) {
		return Decision{Action: UpdatePriority}
	}
	if ev := apimeta.FindStatusCondition(wl.Status.Conditions, kueueapi.WorkloadEvicted); ev != nil && ev.Status == metav1.ConditionTrue {
		if !isSuspended(job) {
			return Decision{Action: Suspend, Reason: "WorkloadEvicted", Message: ev.Message}
		}
		if isTrue(wl, kueueapi.WorkloadQuotaReserved) && job.Status.Active == 0 {
			return Decision{Action: ClearAdmission, Reason: ev.Reason, Message: ev.Message}
		}
		return Decision{}
	}
	if isSuspended(job) {
		if isTrue(wl, kueueapi.WorkloadAdmitted) {
			if wl.Status.Admission == nil {
				return Decision{} // Admitted with no admission to apply: wait for Kueue's next write
			}
			if !templateMutable(job) {
				return Decision{} // suspended, but its pods are still being removed
			}
			return Decision{Action: Start, Message: "Admitted by clusterQueue " + string(wl.Status.Admission.ClusterQueue)}
		}
		if prebuilt {
			return Decision{}
		}
		if !isTrue(wl, kueueapi.WorkloadQuotaReserved) && !equivalent(job, wl) {
			return Decision{Action: UpdateWorkload}
		}
		if string(wl.Spec.QueueName) != QueueName(job) {
			return Decision{Action: UpdateQueueName}
		}
		return Decision{}
	}
	if !isTrue(wl, kueueapi.WorkloadAdmitted) {
		return Decision{Action: Suspend, Reason: "NotAdmitted", Message: "Not admitted by cluster queue"}
	}
	return Decision{}
}

// priorityLabelChanged reports whether the job's priority-class label no longer names the
// Workload's WorkloadPriorityClass, for a Workload whose priority comes from such a class or
// from nothing. While quota is reserved the API lets only the class's name change, so only
// that is reported then.
func priorityLabelChanged(job *v1alpha1.BatchJob, wl *kueueapi.Workload) bool {
	ref := wl.Spec.PriorityClassRef
	isWPC := ref != nil && ref.Kind == kueueapi.WorkloadPriorityClassKind
	if ref != nil && !isWPC {
		return false // from the pod template's PriorityClass
	}
	current := ""
	if isWPC {
		current = ref.Name
	}
	want := job.Labels[PriorityClassLabel]
	if want == current {
		return false
	}
	if isTrue(wl, kueueapi.WorkloadQuotaReserved) {
		return isWPC && want != ""
	}
	return true
}

func isTrue(wl *kueueapi.Workload, t string) bool {
	return apimeta.IsStatusConditionTrue(wl.Status.Conditions, t)
}

func hasFinalizer(wl *kueueapi.Workload) bool {
	for _, f := range wl.Finalizers {
		if f == kueueapi.ResourceInUseFinalizerName {
			return true
		}
	}
	return false
}

func stopping(job *v1alpha1.BatchJob) bool { return job.Annotations[StoppingAnnotation] == "true" }

// isSuspended is Kueue's IsSuspended for a Job: suspended, and not in the middle of a stop.
func isSuspended(job *v1alpha1.BatchJob) bool {
	return ptr.Deref(job.Spec.Suspend, false) && !stopping(job)
}

// templateMutable reports whether the API accepts a pod template change (the CRD's rule,
// as batch/v1): the job is suspended and either never started or stopped (Suspended
// condition), and has no active pods.
func templateMutable(job *v1alpha1.BatchJob) bool {
	if !ptr.Deref(job.Spec.Suspend, false) || job.Status.Active != 0 {
		return false
	}
	return job.Status.StartTime == nil || job.Status.HasTrueCondition(v1alpha1.JobSuspended)
}

// jobFinished is Kueue's Finished for a Job: a Complete or Failed condition.
func jobFinished(job *v1alpha1.BatchJob) (done, success bool, message string) {
	for _, c := range job.Status.Conditions {
		if (c.Type == v1alpha1.JobComplete || c.Type == v1alpha1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true, c.Type == v1alpha1.JobComplete, c.Message
		}
	}
	return false, false, ""
}

// SetFinished sets the Workload's Finished condition (Kueue's SetFinishedCondition).
func SetFinished(wl *kueueapi.Workload, reason, message string, now time.Time) {
	apimeta.SetStatusCondition(&wl.Status.Conditions, metav1.Condition{
		Type: kueueapi.WorkloadFinished, Status: metav1.ConditionTrue, Reason: reason,
		Message: truncate(message), ObservedGeneration: wl.Generation, LastTransitionTime: metav1.NewTime(now),
	})
}

// ClearAdmissionStatus is what jobframework writes once an evicted job has stopped: the
// Requeued condition (True when evicted by preemption or node failures, so Kueue requeues
// at once), QuotaReserved=False with reason Pending, no admission, and Admitted=False.
func ClearAdmissionStatus(wl *kueueapi.Workload, reason, message string, now time.Time) {
	requeued := metav1.ConditionFalse
	if reason == kueueapi.WorkloadEvictedByPreemption || reason == kueueapi.WorkloadEvictedDueToNodeFailures {
		requeued = metav1.ConditionTrue
	}
	set := func(c metav1.Condition) {
		c.ObservedGeneration, c.LastTransitionTime, c.Message = wl.Generation, metav1.NewTime(now), truncate(c.Message)
		apimeta.SetStatusCondition(&wl.Status.Conditions, c)
	}
	set(metav1.Condition{Type: kueueapi.WorkloadRequeued, Status: requeued, Reason: reason, Message: message})
	set(metav1.Condition{Type: kueueapi.WorkloadQuotaReserved, Status: metav1.ConditionFalse, Reason: "Pending", Message: message})
	wl.Status.Admission = nil
	if isTrue(wl, kueueapi.WorkloadAdmitted) {
		// Kueue's SyncAdmittedCondition: the admitted time so far is accumulated.
		if old := apimeta.FindStatusCondition(wl.Status.Conditions, kueueapi.WorkloadAdmitted); old != nil {
			d := int32(now.Sub(old.LastTransitionTime.Time).Seconds())
			wl.Status.AccumulatedPastExecutionTimeSeconds = ptr.To(ptr.Deref(wl.Status.AccumulatedPastExecutionTimeSeconds, 0) + d)
		}
		set(metav1.Condition{Type: kueueapi.WorkloadAdmitted, Status: metav1.ConditionFalse, Reason: "NoReservation",
			Message: "The workload has no reservation"})
	}
}

// truncate keeps a condition message within the API's 32 KiB limit.
func truncate(s string) string {
	const maxLen = 32 * 1024
	if len(s) > maxLen {
		return s[:maxLen]
	}
	return s
}
