package cronjob

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// nextScheduleDelta pads every wake-up, as upstream's nextScheduleDelta does, so that a
// timer firing a hair early (NTP adjustments) still finds the scheduled time due.
const nextScheduleDelta = 100 * time.Millisecond

// tooManyMissed is upstream's threshold in mostRecentScheduleTime: more missed start times
// than this means a clock or controller problem, worth a warning.
const tooManyMissed = 100

// missed says how many start times were missed since the last one (upstream's
// missedSchedulesType).
type missed int

const (
	noneMissed missed = iota
	fewMissed
	manyMissed
)

// location is the time zone the schedule runs in: spec.timeZone, or local (the controller's
// own zone, as upstream uses kube-controller-manager's) when unset.
func location(cj *v1alpha1.BatchCronJob, local *time.Location) (*time.Location, error) {
	if cj.Spec.TimeZone == nil {
		return local, nil
	}
	return time.LoadLocation(*cj.Spec.TimeZone)
}

// parseSchedule is upstream's formatSchedule plus ParseCronScheduleWithPanicRecovery: the
// standard five-field syntax and descriptors, in loc. robfig/cron panics on some inputs,
// hence the recover.
func parseSchedule(schedule string, loc *time.Location) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("invalid schedule format: %v", r)
		}
	}()
	if strings.Contains(schedule, "TZ") {
		// The CRD rejects TZ= and CRON_TZ= prefixes: the time zone lives in spec.timeZone.
		return nil, errors.New("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
	}
	sched, err = cron.ParseStandard(schedule)
	if err != nil {
		return nil, err
	}
	// ParseStandard reads a schedule in time.Local; the decision code must not depend on
	// the process's zone, so the zone is set explicitly.
	if spec, ok := sched.(*cron.SpecSchedule); ok {
		spec.Location = loc
	}
	return sched, nil
}

// mostRecentScheduleTime is upstream's function of the same name. It returns the time
// scheduling starts from (lastScheduleTime or creation, or now - startingDeadlineSeconds
// when includeDeadline and later), the most recent start time not after now (nil if none),
// and how many were missed. The error is upstream's: a schedule that parses but never fires
// twice a second apart (Feb 31st).
func mostRecentScheduleTime(cj *v1alpha1.BatchCronJob, now time.Time, sched cron.Schedule, includeDeadline bool) (time.Time, *time.Time, missed, error) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if includeDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		deadline := now.Add(-time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second)
		if deadline.After(earliest) {
			earliest = deadline
		}
	}
	t1 := sched.Next(earliest)
	t2 := sched.Next(t1)
	if now.Before(t1) {
		return earliest, nil, noneMissed, nil
	}
	if now.Before(t2) {
		return earliest, &t1, noneMissed, nil
	}
	between := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if between < 1 {
		return earliest, nil, noneMissed, errors.New("time difference between two schedules is less than 1 second")
	}
	// Upstream's rough count: how many intervals of t1..t2 fit between t1 and now. It then
	// walks only the last stretch, so that decades of missed minutes cost nothing, and the
	// walk starts one interval early for irregular schedules (30 6-16/4 * * 1-5).
	count := int64(now.Sub(t1).Seconds())/between + 1
	var recent time.Time
	from := t1.Add(time.Duration((count-2)*between) * time.Second)
	for t := sched.Next(from); !t.After(now); t = sched.Next(t) {
		recent = t
	}
	m := fewMissed
	if count > tooManyMissed {
		m = manyMissed
	}
	if recent.IsZero() {
		return earliest, nil, m, nil
	}
	return earliest, &recent, m, nil
}

// nextScheduleTimeDuration is upstream's function of the same name: how long until the
// next start time after the most recent one (or after now when some were missed), padded.
func nextScheduleTimeDuration(cj *v1alpha1.BatchCronJob, now time.Time, sched cron.Schedule) time.Duration {
	earliest, recent, m, err := mostRecentScheduleTime(cj, now, sched, false)
	switch {
	case err != nil:
		recent = &now
	case recent == nil && m == noneMissed:
		recent = &earliest
	case recent == nil:
		recent = &now
	}
	return sched.Next(*recent).Add(nextScheduleDelta).Sub(now)
}

// jobName is upstream's getJobName: NAME-<scheduled time in minutes since the epoch>, so
// the job of one scheduled time has one name and a second create of it fails.
func jobName(cj *v1alpha1.BatchCronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}
