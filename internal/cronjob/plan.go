// Package cronjob reconciles BatchCronJobs: at each time of a cron schedule it creates a
// BatchJob from the jobTemplate, with the semantics of upstream's CronJob controller
// (pkg/controller/cronjob/cronjob_controllerv2.go in k8s.io/kubernetes). Plan decides a pass
// as a pure function of (BatchCronJob, its BatchJobs, now); the reconciler carries it out.
package cronjob

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Event reasons, upstream's, plus FailedCreate/FailedDelete which the reconciler records.
const (
	ReasonSuccessfulCreate    = "SuccessfulCreate"
	ReasonSuccessfulDelete    = "SuccessfulDelete"
	ReasonFailedCreate        = "FailedCreate"
	ReasonFailedDelete        = "FailedDelete"
	ReasonSawCompletedJob     = "SawCompletedJob"
	ReasonUnexpectedJob       = "UnexpectedJob"
	ReasonMissingJob          = "MissingJob"
	ReasonMissSchedule        = "MissSchedule"
	ReasonTooManyMissedTimes  = "TooManyMissedTimes"
	ReasonJobAlreadyActive    = "JobAlreadyActive"
	ReasonUnknownTimeZone     = "UnknownTimeZone"
	ReasonUnparseableSchedule = "UnparseableSchedule"
	ReasonInvalidSchedule     = "InvalidSchedule"
)

// Input is everything a pass decides from.
type Input struct {
	CronJob *v1alpha1.BatchCronJob
	// Jobs are the BatchJobs whose controller is CronJob (by UID).
	Jobs []*v1alpha1.BatchJob
	Now  time.Time
	// Local is the zone of a schedule without spec.timeZone (the controller's time.Local).
	Local *time.Location
}

// Event is one event to record on the BatchCronJob.
type Event struct {
	Type, Reason, Message string
}

// Deletion is a BatchJob to delete, with the propagation to use.
type Deletion struct {
	Job         *v1alpha1.BatchJob
	Propagation metav1.DeletionPropagation
}

// Result is what a pass does. Deletions come first, then Create, then one status write
// when Status differs from the observed one, then Events.
type Result struct {
	// Status is the new status. It does not list Create yet: its reference (with the UID
	// the API server gives it) is added once it exists.
	Status v1alpha1.BatchCronJobStatus
	Delete []Deletion
	// Create is the BatchJob of the scheduled time now due, or nil.
	Create *v1alpha1.BatchJob
	Events []Event
	// RequeueAfter is when to look again for the next scheduled time; nil when only a
	// change of the object can make a difference (suspended, invalid schedule, deleting).
	RequeueAfter *time.Duration
}

// pass carries one Plan call.
type pass struct {
	in     Input
	cj     *v1alpha1.BatchCronJob
	status *v1alpha1.BatchCronJobStatus
	res    Result
}

// Plan decides one pass: upstream's sync, that is cleanupFinishedJobs then syncCronJob.
func Plan(in Input) Result {
	p := &pass{in: in, cj: in.CronJob}
	p.res.Status = *in.CronJob.Status.DeepCopy()
	p.status = &p.res.Status
	p.cleanupFinishedJobs()
	p.trackJobs()
	if in.CronJob.DeletionTimestamp == nil {
		p.schedule()
	}
	p.status.ActiveCount = int32(len(p.status.Active))
	return p.res
}

func (p *pass) event(typ, reason, format string, args ...any) {
	p.res.Events = append(p.res.Events, Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// trackJobs is the bookkeeping half of upstream's syncCronJob: finished jobs leave the
// active list, the last success is recorded, strays are reported and references to jobs
// that are gone are dropped.
func (p *pass) trackJobs() {
	present := map[types.UID]bool{}
	for _, j := range p.in.Jobs {
		present[j.UID] = true
		listed := p.inActive(j.UID)
		finished, cond := finishedCondition(j)
		switch {
		case !finished && !listed && j.DeletionTimestamp == nil:
			// Upstream too only reports it: created by hand with us as its controller, or
			// the cache shows the job before our status write listing it (the reconciler
			// re-reads the BatchCronJob from the API server before Plan in that case).
			p.event(corev1.EventTypeWarning, ReasonUnexpectedJob, "Saw a job that the controller did not create or forgot: %s", j.Name)
		case finished && listed:
			p.removeActive(j.UID)
			p.event(corev1.EventTypeNormal, ReasonSawCompletedJob, "Saw completed job: %s, condition: %v", j.Name, cond)
		}
		if cond == v1alpha1.JobComplete && j.Status.CompletionTime != nil {
			if last := p.status.LastSuccessfulTime; last == nil || j.Status.CompletionTime.After(last.Time) {
				p.status.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
			}
		}
	}
	// The reconciler has already asked the API server about listed jobs missing from the
	// cache, so a reference without a job is one that is really gone.
	for _, ref := range slices.Clone(p.status.Active) {
		if !present[ref.UID] {
			p.event(corev1.EventTypeNormal, ReasonMissingJob, "Active job went missing: %v", ref.Name)
			p.removeActive(ref.UID)
		}
	}
}

func (p *pass) inActive(uid types.UID) bool {
	return slices.ContainsFunc(p.status.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
}

func (p *pass) removeActive(uid types.UID) {
	p.status.Active = slices.DeleteFunc(p.status.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
	if len(p.status.Active) == 0 {
		p.status.Active = nil
	}
}

// setScheduleInvalid sets or (reason "") removes the ScheduleInvalid condition; its
// transition time is kept while it stays the same (meta.SetStatusCondition).
func (p *pass) setScheduleInvalid(reason, message string) {
	if reason == "" {
		meta.RemoveStatusCondition(&p.status.Conditions, v1alpha1.BatchCronJobScheduleInvalid)
		if len(p.status.Conditions) == 0 {
			p.status.Conditions = nil // as the API server returns an empty list
		}
		return
	}
	meta.SetStatusCondition(&p.status.Conditions, metav1.Condition{
		Type: v1alpha1.BatchCronJobScheduleInvalid, Status: metav1.ConditionTrue,
		Reason: reason, Message: message, ObservedGeneration: p.cj.Generation,
		LastTransitionTime: metav1.NewTime(p.in.Now.Truncate(time.Second)),
	})
}
