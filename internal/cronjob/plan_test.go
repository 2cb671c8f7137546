package cronjob

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// planCase is one pass: the BatchCronJob and its jobs at now, and the exact Result.
type planCase struct {
	cj   *v1alpha1.BatchCronJob
	jobs []*v1alpha1.BatchJob
	now  string
	want Result
}

func runPlanCases(t *testing.T, cases map[string]planCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Plan(Input{CronJob: tc.cj, Jobs: tc.jobs, Now: at(tc.now), Local: time.UTC})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Plan (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestPlanScheduling(t *testing.T) {
	every5 := makeCronJob("*/5 * * * *", "2026-01-15T10:00:30Z")
	running := child(29474520, "2026-01-15T10:00:01Z", "", "")
	done := child(29474520, "2026-01-15T10:00:01Z", v1alpha1.JobComplete, "2026-01-15T10:01:07Z")
	runPlanCases(t, map[string]planCase{
		"not due yet: wait for the next start time": {
			cj:   every5.obj(),
			now:  "2026-01-15T10:04:59Z",
			want: Result{RequeueAfter: wait("2026-01-15T10:05:00Z", "2026-01-15T10:04:59Z")},
		},
		"due: create NAME-<minutes> and wait for the one after": {
			cj:  every5.obj(),
			now: "2026-01-15T10:05:00.5Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:05:00Z")},
				Create:       wantJob(every5.obj(), "nightly-29474525", "2026-01-15T10:05:00Z"),
				RequeueAfter: wait("2026-01-15T10:10:00Z", "2026-01-15T10:05:00.5Z"),
			},
		},
		"already created for this start time": {
			cj:   makeCronJob("*/5 * * * *", "2026-01-15T10:00:30Z").lastSchedule("2026-01-15T10:05:00Z").obj(),
			now:  "2026-01-15T10:05:03Z",
			want: Result{Status: v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:05:00Z")}, RequeueAfter: wait("2026-01-15T10:10:00Z", "2026-01-15T10:05:03Z")},
		},
		"Allow: a second job runs next to the first": {
			cj:   makeCronJob("* * * * *", "2026-01-15T09:59:30Z").lastSchedule("2026-01-15T10:00:00Z").active(running).obj(),
			jobs: []*v1alpha1.BatchJob{running},
			now:  "2026-01-15T10:01:00Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{Active: refs(running), ActiveCount: 1, LastScheduleTime: mtime("2026-01-15T10:01:00Z")},
				Create:       wantJob(every5.obj(), "nightly-29474521", "2026-01-15T10:01:00Z"),
				RequeueAfter: wait("2026-01-15T10:02:00Z", "2026-01-15T10:01:00Z"),
			},
		},
		"Forbid: skip while one is active": {
			cj:   makeCronJob("* * * * *", "2026-01-15T09:59:30Z").policy(v1alpha1.ForbidConcurrent).lastSchedule("2026-01-15T10:00:00Z").active(running).obj(),
			jobs: []*v1alpha1.BatchJob{running},
			now:  "2026-01-15T10:01:00Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{Active: refs(running), ActiveCount: 1, LastScheduleTime: mtime("2026-01-15T10:00:00Z")},
				Events:       []Event{normal(ReasonJobAlreadyActive, "Not starting job because prior execution is running and concurrency policy is Forbid")},
				RequeueAfter: wait("2026-01-15T10:02:00Z", "2026-01-15T10:01:00Z"),
			},
		},
		"Forbid: start once the active one has completed": {
			cj:   makeCronJob("* * * * *", "2026-01-15T09:59:30Z").policy(v1alpha1.ForbidConcurrent).lastSchedule("2026-01-15T10:00:00Z").active(done).obj(),
			jobs: []*v1alpha1.BatchJob{done},
			now:  "2026-01-15T10:01:08Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:01:00Z"), LastSuccessfulTime: mtime("2026-01-15T10:01:07Z")},
				Create:       wantJob(makeCronJob("* * * * *", "2026-01-15T09:59:30Z").policy(v1alpha1.ForbidConcurrent).obj(), "nightly-29474521", "2026-01-15T10:01:00Z"),
				Events:       []Event{normal(ReasonSawCompletedJob, "Saw completed job: nightly-29474520, condition: Complete")},
				RequeueAfter: wait("2026-01-15T10:02:00Z", "2026-01-15T10:01:08Z"),
			},
		},
		"Replace: delete the active one in the foreground, then create": {
			cj:   makeCronJob("* * * * *", "2026-01-15T09:59:30Z").policy(v1alpha1.ReplaceConcurrent).lastSchedule("2026-01-15T10:00:00Z").active(running).obj(),
			jobs: []*v1alpha1.BatchJob{running},
			now:  "2026-01-15T10:01:00Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:01:00Z")},
				Delete:       []Deletion{{Job: running, Propagation: metav1.DeletePropagationForeground}},
				Create:       wantJob(makeCronJob("* * * * *", "2026-01-15T09:59:30Z").policy(v1alpha1.ReplaceConcurrent).obj(), "nightly-29474521", "2026-01-15T10:01:00Z"),
				RequeueAfter: wait("2026-01-15T10:02:00Z", "2026-01-15T10:01:00Z"),
			},
		},
		"suspended: no job and no wake-up": {
			cj:   makeCronJob("* * * * *", "2026-01-15T09:59:30Z").suspend().obj(),
			now:  "2026-01-15T10:03:00Z",
			want: Result{},
		},
		"being deleted: bookkeeping only": {
			cj:   makeCronJob("* * * * *", "2026-01-15T09:59:30Z").lastSchedule("2026-01-15T10:00:00Z").active(done).deleting("2026-01-15T10:01:30Z").obj(),
			jobs: []*v1alpha1.BatchJob{done},
			now:  "2026-01-15T10:02:00Z",
			want: Result{
				Status: v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T10:00:00Z"), LastSuccessfulTime: mtime("2026-01-15T10:01:07Z")},
				Events: []Event{normal(ReasonSawCompletedJob, "Saw completed job: nightly-29474520, condition: Complete")},
			},
		},
	})
}

func TestPlanMissedSchedules(t *testing.T) {
	hourly := func() *cronJobW { return makeCronJob("0 * * * *", "2026-01-15T10:00:30Z") }
	runPlanCases(t, map[string]planCase{
		"a few missed: start the most recent only": {
			cj:  hourly().obj(),
			now: "2026-01-15T13:00:40Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T13:00:00Z")},
				Create:       wantJob(hourly().obj(), "nightly-29474700", "2026-01-15T13:00:00Z"),
				RequeueAfter: wait("2026-01-15T14:00:00Z", "2026-01-15T13:00:40Z"),
			},
		},
		"startingDeadlineSeconds still allows the latest": {
			cj:  hourly().deadline(60).obj(),
			now: "2026-01-15T13:00:40Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-15T13:00:00Z")},
				Create:       wantJob(hourly().obj(), "nightly-29474700", "2026-01-15T13:00:00Z"),
				RequeueAfter: wait("2026-01-15T14:00:00Z", "2026-01-15T13:00:40Z"),
			},
		},
		// As upstream folds the deadline into the earliest time considered, a start time
		// older than the deadline is simply never due: no job, and no MissSchedule event.
		"startingDeadlineSeconds passed: skipped": {
			cj:   hourly().deadline(30).obj(),
			now:  "2026-01-15T13:00:40Z",
			want: Result{RequeueAfter: wait("2026-01-15T14:00:00Z", "2026-01-15T13:00:40Z")},
		},
		"more than 100 missed: TooManyMissedTimes and one job for the most recent": {
			cj:  makeCronJob("* * * * *", "2026-01-01T00:00:30Z").obj(),
			now: "2026-01-01T03:00:30Z",
			want: Result{
				Status:       v1alpha1.BatchCronJobStatus{LastScheduleTime: mtime("2026-01-01T03:00:00Z")},
				Create:       wantJob(hourly().obj(), "nightly-29453940", "2026-01-01T03:00:00Z"),
				Events:       []Event{warning(ReasonTooManyMissedTimes, "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")},
				RequeueAfter: wait("2026-01-01T03:01:00Z", "2026-01-01T03:00:30Z"),
			},
		},
		"more than 100 missed with a Forbid job active: warn, skip, and keep waking up": {
			cj: makeCronJob("* * * * *", "2026-01-01T00:00:30Z").policy(v1alpha1.ForbidConcurrent).
				lastSchedule("2026-01-01T00:01:00Z").active(child(29452801, "2026-01-01T00:01:01Z", "", "")).obj(),
			jobs: []*v1alpha1.BatchJob{child(29452801, "2026-01-01T00:01:01Z", "", "")},
			now:  "2026-01-01T03:00:30Z",
			want: Result{
				Status: v1alpha1.BatchCronJobStatus{
					Active: refs(child(29452801, "", "", "")), ActiveCount: 1, LastScheduleTime: mtime("2026-01-01T00:01:00Z"),
				},
				Events: []Event{
					warning(ReasonTooManyMissedTimes, "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
					normal(ReasonJobAlreadyActive, "Not starting job because prior execution is running and concurrency policy is Forbid"),
				},
				RequeueAfter: wait("2026-01-01T03:01:00Z", "2026-01-01T03:00:30Z"),
			},
		},
	})
}
