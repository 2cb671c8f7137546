package cronjob

import (
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// schedule is the scheduling half of upstream's syncCronJob, in its order: time zone,
// suspend, schedule, the start time now due, the starting deadline, whether it was already
// handled, the concurrency policy, then the job to create.
func (p *pass) schedule() {
	cj, now := p.cj, p.in.Now
	loc, err := location(cj, p.in.Local)
	if err != nil {
		p.event(corev1.EventTypeWarning, ReasonUnknownTimeZone, "invalid timeZone: %q: %s", ptr.Deref(cj.Spec.TimeZone, ""), err)
		p.setScheduleInvalid(ReasonUnknownTimeZone, "invalid timeZone: "+err.Error())
		return
	}
	sched, err := parseSchedule(cj.Spec.Schedule, loc)
	if err != nil {
		p.event(corev1.EventTypeWarning, ReasonUnparseableSchedule, "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		p.setScheduleInvalid(ReasonUnparseableSchedule, "unparseable schedule: "+err.Error())
		return
	}
	// Upstream checks suspend before the schedule; a suspended object with a bad schedule
	// still gets its condition here, so the user learns of it before resuming.
	if ptr.Deref(cj.Spec.Suspend, false) {
		p.setScheduleInvalid("", "")
		return
	}
	_, scheduled, m, err := mostRecentScheduleTime(cj, now, sched, true)
	if err != nil {
		p.event(corev1.EventTypeWarning, ReasonInvalidSchedule, "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		p.setScheduleInvalid(ReasonInvalidSchedule, "invalid schedule: "+err.Error())
		return
	}
	p.setScheduleInvalid("", "")
	wait := nextScheduleTimeDuration(cj, now, sched)
	p.res.RequeueAfter = &wait
	if scheduled == nil || scheduled.After(now) {
		return
	}
	if m == manyMissed {
		// Upstream's nextScheduleTime: warn, and still start the most recent time only.
		p.event(corev1.EventTypeWarning, ReasonTooManyMissedTimes, "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	p.startAt(*scheduled, loc, sched)
}

// startAt decides what to do about the start time scheduled, now due.
func (p *pass) startAt(scheduled time.Time, loc *time.Location, sched cron.Schedule) {
	cj, now := p.cj, p.in.Now
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		p.event(corev1.EventTypeWarning, ReasonMissSchedule, "Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return
	}
	name := jobName(cj, scheduled)
	if p.activeByName(name) || (cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(scheduled)) {
		return
	}
	switch cj.Spec.ConcurrencyPolicy {
	case v1alpha1.ForbidConcurrent:
		if len(p.status.Active) > 0 {
			p.event(corev1.EventTypeNormal, ReasonJobAlreadyActive, "Not starting job because prior execution is running and concurrency policy is Forbid")
			return
		}
	case v1alpha1.ReplaceConcurrent:
		p.replaceActive()
	}
	p.res.Create = newJob(cj, scheduled, loc)
	p.status.LastScheduleTime = &metav1.Time{Time: scheduled}
	// The wait was computed from the old lastScheduleTime; from the new one it is the
	// next start time after this one.
	next := cj.DeepCopy()
	next.Status.LastScheduleTime = p.status.LastScheduleTime
	wait := nextScheduleTimeDuration(next, now, sched)
	p.res.RequeueAfter = &wait
}

func (p *pass) activeByName(name string) bool {
	for _, r := range p.status.Active {
		if r.Name == name && r.Namespace == p.cj.Namespace {
			return true
		}
	}
	return false
}

// replaceActive deletes the running jobs for Replace. Foreground: the replaced job stays,
// terminating, until its pods are gone, so the old run has visibly stopped by the time it
// disappears; upstream deletes in the background.
func (p *pass) replaceActive() {
	jobs := map[string]*v1alpha1.BatchJob{}
	for _, j := range p.in.Jobs {
		jobs[j.Name] = j
	}
	for _, ref := range p.status.Active {
		if j := jobs[ref.Name]; j != nil && j.UID == ref.UID && j.DeletionTimestamp == nil {
			p.res.Delete = append(p.res.Delete, Deletion{Job: j, Propagation: metav1.DeletePropagationForeground})
		}
	}
	p.status.Active = nil
}
