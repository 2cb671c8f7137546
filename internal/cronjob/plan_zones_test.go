package cronjob

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestPlanTimeZones: schedules run in spec.timeZone, across daylight saving changes, the
// way robfig/cron (upstream's parser) steps through local time: a wall-clock time that does
// not exist on the day clocks go forward is skipped that day, and one that happens twice on
// the day they go back runs twice (once per UTC instant).
func TestPlanTimeZones(t *testing.T) {
	nyDaily := func(spec string) *cronJobW {
		return makeCronJob(spec, "2026-01-01T00:00:00Z").tz("America/New_York")
	}
	runPlanCases(t, map[string]planCase{
		"New York 09:00 in winter is 14:00 UTC, annotated in New York time": {
			cj:  nyDaily("0 9 * * *").lastSchedule("2026-01-14T14:00:00Z").obj(),
			now: "2026-01-15T14:00:02Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T14:00:00Z")},
				Create:       wantJob(nyDaily("0 9 * * *").obj(), "nightly-29474760", "2026-01-15T09:00:00-05:00"),
				RequeueAfter: wait("2026-01-16T14:00:00Z", "2026-01-15T14:00:02Z"),
			},
		},
		"New York spring forward: 02:30 does not exist on March 8th, next run March 9th 02:30 EDT": {
			cj:   nyDaily("30 2 * * *").lastSchedule("2026-03-07T07:30:00Z").obj(),
			now:  "2026-03-08T16:00:00Z",
			want: Result{Status: v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-03-07T07:30:00Z")}, RequeueAfter: wait("2026-03-09T06:30:00Z", "2026-03-08T16:00:00Z")},
		},
		"New York fall back: the first 01:30 (EDT), and the next wake-up an hour later": {
			cj:  nyDaily("30 1 * * *").lastSchedule("2026-10-31T05:30:00Z").obj(),
			now: "2026-11-01T05:30:01Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-11-01T05:30:00Z")},
				Create:       wantJob(nyDaily("30 1 * * *").obj(), "nightly-29891850", "2026-11-01T01:30:00-04:00"),
				RequeueAfter: wait("2026-11-01T06:30:00Z", "2026-11-01T05:30:01Z"),
			},
		},
		"New York fall back: the second 01:30 gets its own job": {
			cj:  nyDaily("30 1 * * *").lastSchedule("2026-11-01T05:30:00Z").obj(),
			now: "2026-11-01T06:30:01Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-11-01T06:30:00Z")},
				Create:       wantJob(nyDaily("30 1 * * *").obj(), "nightly-29891910", "2026-11-01T01:30:00-05:00"),
				RequeueAfter: wait("2026-11-02T06:30:00Z", "2026-11-01T06:30:01Z"),
			},
		},
		"London spring forward: 01:00 does not exist on March 29th, next run March 30th 01:00 BST": {
			cj:   makeCronJob("0 1 * * *", "2026-01-01T00:00:00Z").tz("Europe/London").lastSchedule("2026-03-28T01:00:00Z").obj(),
			now:  "2026-03-29T12:00:00Z",
			want: Result{Status: v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-03-28T01:00:00Z")}, RequeueAfter: wait("2026-03-30T00:00:00Z", "2026-03-29T12:00:00Z")},
		},
		"London fall back: hourly runs every UTC hour, 01:00 twice": {
			cj:   makeCronJob("0 * * * *", "2026-01-01T00:00:00Z").tz("Europe/London").lastSchedule("2026-10-25T00:00:00Z").obj(),
			now:  "2026-10-25T00:30:00Z",
			want: Result{Status: v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-10-25T00:00:00Z")}, RequeueAfter: wait("2026-10-25T01:00:00Z", "2026-10-25T00:30:00Z")},
		},
	})
}

// TestPlanInvalidSchedule: what CEL cannot check is reported in an event and in the
// ScheduleInvalid condition, and nothing is scheduled until the object changes.
func TestPlanInvalidSchedule(t *testing.T) {
	cond := func(reason, msg string) []metav1.Condition {
		return []metav1.Condition{{
			Type: v1alpha1.BatchCronJobScheduleInvalid, Status: metav1.ConditionTrue, ObservedGeneration: 1,
			Reason: reason, Message: msg, LastTransitionTime: *mtime("2026-01-15T10:00:00Z"),
		}}
	}
	fixed := makeCronJob("* * * * *", "2026-01-15T09:59:30Z").lastSchedule("2026-01-15T10:00:00Z")
	fixed.Status.Conditions = cond(ReasonUnparseableSchedule, "old")
	runPlanCases(t, map[string]planCase{
		"unknown time zone": {
			cj:  makeCronJob("* * * * *", "2026-01-15T09:59:30Z").tz("Mars/Olympus_Mons").obj(),
			now: "2026-01-15T10:00:00.7Z",
			want: Result{
				Status: v1alpha1.BatchCronJobStatus{Conditions: cond(ReasonUnknownTimeZone, "invalid timeZone: unknown time zone Mars/Olympus_Mons")},
				Events: []Event{warning(ReasonUnknownTimeZone, `invalid timeZone: "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons`)},
			},
		},
		"out-of-range minute": {
			cj:  makeCronJob("61 * * * *", "2026-01-15T09:59:30Z").obj(),
			now: "2026-01-15T10:00:00Z",
			want: Result{
				Status: v1alpha1.BatchCronJobStatus{Conditions: cond(ReasonUnparseableSchedule, "unparseable schedule: end of range (61) above maximum (59): 61")},
				Events: []Event{warning(ReasonUnparseableSchedule, `unparseable schedule: "61 * * * *" : end of range (61) above maximum (59): 61`)},
			},
		},
		"February 31st parses but never comes": {
			cj:  makeCronJob("0 0 31 2 *", "2026-01-15T09:59:30Z").obj(),
			now: "2026-01-15T10:00:00Z",
			want: Result{
				Status: v1alpha1.BatchCronJobStatus{Conditions: cond(ReasonInvalidSchedule, "invalid schedule: time difference between two schedules is less than 1 second")},
				Events: []Event{warning(ReasonInvalidSchedule, "invalid schedule: 0 0 31 2 * : time difference between two schedules is less than 1 second")},
			},
		},
		"fixed: the condition goes": {
			cj:   fixed.obj(),
			now:  "2026-01-15T10:00:30Z",
			want: Result{Status: v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:00:00Z")}, RequeueAfter: wait("2026-01-15T10:01:00Z", "2026-01-15T10:00:30Z")},
		},
	})
}

// TestPlanJobs: the bookkeeping of upstream's syncCronJob and cleanupFinishedJobs.
func TestPlanJobs(t *testing.T) {
	base := func() *cronJobW {
		return makeCronJob("*/5 * * * *", "2026-01-15T09:00:30Z").lastSchedule("2026-01-15T10:00:00Z")
	}
	const now = "2026-01-15T10:02:00Z"
	next := wait("2026-01-15T10:05:00Z", now)
	ok := func(minute int64, start, end string) *v1alpha1.BatchJob {
		return child(minute, start, v1alpha1.JobComplete, end)
	}
	bad := func(minute int64, start string) *v1alpha1.BatchJob {
		return child(minute, start, v1alpha1.JobFailed, "")
	}
	succeeded := []*v1alpha1.BatchJob{
		ok(29474500, "2026-01-15T09:40:01Z", "2026-01-15T09:41:00Z"),
		ok(29474490, "2026-01-15T09:30:01Z", "2026-01-15T09:31:00Z"),
		ok(29474515, "2026-01-15T09:55:01Z", "2026-01-15T09:56:00Z"),
		ok(29474510, "2026-01-15T09:50:01Z", "2026-01-15T09:51:00Z"),
		ok(29474520, "2026-01-15T10:00:01Z", "2026-01-15T10:01:00Z"),
	}
	failed := []*v1alpha1.BatchJob{bad(29474505, "2026-01-15T09:45:01Z"), bad(29474495, "2026-01-15T09:35:01Z")}
	stray := child(29474521, "2026-01-15T10:01:01Z", "", "")
	gone := child(29474510, "", "", "")
	runPlanCases(t, map[string]planCase{
		"history: keep 3 succeeded and 1 failed, delete the oldest in the background": {
			cj:   base().active(succeeded[4]).obj(),
			jobs: append(append([]*v1alpha1.BatchJob{}, succeeded...), failed...),
			now:  now,
			want: Result{
				Status: v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:00:00Z"), LastSuccessfulTime: mtime("2026-01-15T10:01:00Z")},
				Delete: []Deletion{
					{Job: succeeded[1], Propagation: metav1.DeletePropagationBackground},
					{Job: succeeded[0], Propagation: metav1.DeletePropagationBackground},
					{Job: failed[1], Propagation: metav1.DeletePropagationBackground},
				},
				Events:       []Event{normal(ReasonSawCompletedJob, "Saw completed job: nightly-29474520, condition: Complete")},
				RequeueAfter: next,
			},
		},
		"history limits of 0 delete every finished job": {
			cj: func() *v1alpha1.BatchCronJob {
				cj := base().obj()
				cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit = new(int32), new(int32)
				return cj
			}(),
			jobs: []*v1alpha1.BatchJob{succeeded[4], failed[0]},
			now:  now,
			want: Result{
				Status: v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:00:00Z"), LastSuccessfulTime: mtime("2026-01-15T10:01:00Z")},
				Delete: []Deletion{
					{Job: succeeded[4], Propagation: metav1.DeletePropagationBackground},
					{Job: failed[0], Propagation: metav1.DeletePropagationBackground},
				},
				RequeueAfter: next,
			},
		},
		"an unfinished job not in active is reported, not adopted": {
			cj:   base().obj(),
			jobs: []*v1alpha1.BatchJob{stray},
			now:  now,
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:00:00Z")},
				Events:       []Event{warning(ReasonUnexpectedJob, "Saw a job that the controller did not create or forgot: nightly-29474521")},
				RequeueAfter: next,
			},
		},
		"an active job that is gone leaves the list": {
			cj:  base().active(gone).obj(),
			now: now,
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:00:00Z")},
				Events:       []Event{normal(ReasonMissingJob, "Active job went missing: nightly-29474510")},
				RequeueAfter: next,
			},
		},
	})
}
