package cronjob

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/cronjob"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestJobAtScheduledMinute: at the scheduled minute, one BatchJob named NAME-<minutes>,
// annotated with the scheduled time, controlled by the BatchCronJob, with the template's
// labels and annotations; status lists it.
func TestJobAtScheduledMinute(t *testing.T) {
	ce := start(t)
	cj := ce.create("every-minute", "* * * * *", nil)
	first := minuteAfter(cj.CreationTimestamp.Time)
	ce.stepTo(first.Add(time.Second))

	job := ce.waitForJobs(jobName(cj, first))[0]
	if got, want := job.Annotations[v1alpha1.CronJobScheduledTimestampAnnotation], first.UTC().Format(time.RFC3339); got != want {
		t.Errorf("scheduled-timestamp annotation = %q, want %q", got, want)
	}
	if job.Annotations["team"] != "data" || job.Labels["app"] != "every-minute" {
		t.Errorf("labels %v, annotations %v: want the template's app and team", job.Labels, job.Annotations)
	}
	if ref := metav1.GetControllerOf(&job); ref == nil || ref.UID != cj.UID || ref.Kind != "BatchCronJob" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("controller ref %+v, want the BatchCronJob %s with blockOwnerDeletion", ref, cj.UID)
	}
	framework.Eventually(t, "status to list the job", func() (bool, string) {
		st := ce.get(cj).Status
		ok := len(st.Active) == 1 && st.Active[0].UID == job.UID && st.ActiveCount == 1 &&
			st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(first)
		return ok, fmt.Sprintf("%+v", st)
	})
	ce.waitForEvent(cj, cronjob.ReasonSuccessfulCreate)

	// Completion leaves the active list and sets lastSuccessfulTime.
	ce.finish(job.Name, v1alpha1.JobComplete, first)
	framework.Eventually(t, "status to see the completion", func() (bool, string) {
		st := ce.get(cj).Status
		return len(st.Active) == 0 && st.ActiveCount == 0 && st.LastSuccessfulTime != nil, fmt.Sprintf("%+v", st)
	})
	ce.waitForEvent(cj, cronjob.ReasonSawCompletedJob)
}

// TestForbid: a scheduled time is not started while a job is active; as upstream, it is
// started late once the active job has completed (no startingDeadlineSeconds here).
func TestForbid(t *testing.T) {
	ce := start(t)
	cj := ce.create("forbid", "* * * * *", func(cj *v1alpha1.BatchCronJob) { cj.Spec.ConcurrencyPolicy = v1alpha1.ForbidConcurrent })
	m1 := minuteAfter(cj.CreationTimestamp.Time)
	ce.stepTo(m1.Add(time.Second))
	ce.waitForJobs(jobName(cj, m1))

	m2 := m1.Add(time.Minute)
	ce.stepTo(m2.Add(time.Second))
	ce.waitForEvent(cj, cronjob.ReasonJobAlreadyActive)
	framework.Consistently(t, framework.ControllerLatency, "no second job", func() (bool, string) {
		return len(ce.jobs()) == 1, fmt.Sprint(names(ce.jobs()))
	})

	ce.finish(jobName(cj, m1), v1alpha1.JobComplete, m1)
	ce.waitForJobs(jobName(cj, m1), jobName(cj, m2))
	framework.Eventually(t, "status.active to hold only the late job", func() (bool, string) {
		st := ce.get(cj).Status
		ok := len(st.Active) == 1 && st.Active[0].Name == jobName(cj, m2) && st.LastScheduleTime.Time.Equal(m2)
		return ok, fmt.Sprintf("%+v", st)
	})
}

// TestReplace: at the next scheduled time the active job is deleted (foreground; no
// garbage collector runs here, so it stays, terminating) and a new one replaces it.
func TestReplace(t *testing.T) {
	ce := start(t)
	cj := ce.create("replace", "* * * * *", func(cj *v1alpha1.BatchCronJob) { cj.Spec.ConcurrencyPolicy = v1alpha1.ReplaceConcurrent })
	m1 := minuteAfter(cj.CreationTimestamp.Time)
	ce.stepTo(m1.Add(time.Second))
	ce.waitForJobs(jobName(cj, m1))

	m2 := m1.Add(time.Minute)
	ce.stepTo(m2.Add(time.Second))
	jobs := ce.waitForJobs(jobName(cj, m1)+"(deleting)", jobName(cj, m2))
	if !slices.Contains(jobs[0].Finalizers, metav1.FinalizerDeleteDependents) {
		t.Errorf("replaced job's finalizers %v, want %s (foreground deletion)", jobs[0].Finalizers, metav1.FinalizerDeleteDependents)
	}
	framework.Eventually(t, "status.active to hold only the new job", func() (bool, string) {
		a := ce.get(cj).Status.Active
		return len(a) == 1 && a[0].Name == jobName(cj, m2), fmt.Sprint(a)
	})
	ce.waitForEvent(cj, cronjob.ReasonSuccessfulDelete)
}

// TestHistoryLimits: finished jobs beyond the limits go, oldest first.
func TestHistoryLimits(t *testing.T) {
	ce := start(t)
	cj := ce.create("history", "* * * * *", func(cj *v1alpha1.BatchCronJob) {
		cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](2), ptr.To[int32](1)
	})
	m1 := minuteAfter(cj.CreationTimestamp.Time)
	outcomes := []v1alpha1.JobConditionType{v1alpha1.JobComplete, v1alpha1.JobComplete, v1alpha1.JobFailed, v1alpha1.JobComplete, v1alpha1.JobFailed}
	var all []string
	for i, cond := range outcomes {
		m := m1.Add(time.Duration(i) * time.Minute)
		ce.stepTo(m.Add(time.Second))
		name := jobName(cj, m)
		framework.Eventually(t, "job "+name, func() (bool, string) {
			return slices.Contains(names(ce.jobs()), name), fmt.Sprint(names(ce.jobs()))
		})
		ce.finish(name, cond, m.Add(time.Second))
		all = append(all, name)
	}
	// Kept: the 2 newest Complete (minutes 2 and 4) and the newest Failed (minute 5).
	ce.waitForJobs(all[1], all[3], all[4])
	framework.Eventually(t, "3 SuccessfulDelete events", func() (bool, string) {
		got := ce.eventReasons(cj)
		n := 0
		for _, r := range got {
			if r == cronjob.ReasonSuccessfulDelete {
				n++
			}
		}
		return n == 2, fmt.Sprint(got) // deleted: minute 1 (Complete) and minute 3 (Failed)
	})
}

// TestTooManyMissed: after three hours without the controller noticing (the clock jumps),
// a minutely BatchCronJob warns TooManyMissedTimes and starts one job, for the most recent
// minute, and goes on from there (not the tutorial's trap of never starting again).
func TestTooManyMissed(t *testing.T) {
	ce := start(t)
	cj := ce.create("missed", "* * * * *", nil)
	later := minuteAfter(cj.CreationTimestamp.Time).Add(3 * time.Hour)
	ce.stepTo(later.Add(30 * time.Second))
	ce.waitForJobs(jobName(cj, later))
	ce.waitForEvent(cj, cronjob.ReasonTooManyMissedTimes)
	framework.Consistently(t, framework.ControllerLatency, "one job only", func() (bool, string) {
		return len(ce.jobs()) == 1, fmt.Sprint(names(ce.jobs()))
	})
	next := later.Add(time.Minute)
	ce.stepTo(next.Add(time.Second))
	ce.waitForJobs(jobName(cj, later), jobName(cj, next))
}

// TestSuspend: a suspended BatchCronJob creates nothing at its scheduled times; resumed,
// it starts the most recent one.
func TestSuspend(t *testing.T) {
	ce := start(t)
	cj := ce.create("suspended", "* * * * *", nil)
	m1 := minuteAfter(cj.CreationTimestamp.Time)
	ce.stepTo(m1.Add(time.Second))
	ce.waitForJobs(jobName(cj, m1))

	patch := func(suspend bool) {
		p := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"suspend":%t}}`, suspend))
		if err := ce.c.Patch(context.Background(), cj.DeepCopy(), p); err != nil {
			t.Fatalf("Patching suspend=%t: %v", suspend, err)
		}
	}
	patch(true)
	framework.Eventually(t, "the controller to drop its wake-up", func() (bool, string) {
		return !ce.clock.HasWaiters(), "still waiting on the clock"
	})
	m3 := m1.Add(2 * time.Minute)
	ce.clock.SetTime(m3.Add(time.Second))
	framework.Consistently(t, framework.ControllerLatency, "no job while suspended", func() (bool, string) {
		return len(ce.jobs()) == 1, fmt.Sprint(names(ce.jobs()))
	})
	patch(false)
	ce.waitForJobs(jobName(cj, m1), jobName(cj, m3))
}

// TestValidation: the CRD's rules, as the API server applies them.
func TestValidation(t *testing.T) {
	ce := &cronEnv{t: t, ns: env.NewNamespace(t, "cron-validation"), c: env.Client}
	cases := map[string]func(*v1alpha1.BatchCronJob){
		"four fields":       func(cj *v1alpha1.BatchCronJob) { cj.Spec.Schedule = "* * * *" },
		"TZ in schedule":    func(cj *v1alpha1.BatchCronJob) { cj.Spec.Schedule = "TZ=UTC * * * * *" },
		"bad time zone":     func(cj *v1alpha1.BatchCronJob) { cj.Spec.TimeZone = ptr.To("Europe/../London") },
		"Local time zone":   func(cj *v1alpha1.BatchCronJob) { cj.Spec.TimeZone = ptr.To("Local") },
		"negative deadline": func(cj *v1alpha1.BatchCronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](-1) },
		"negative history":  func(cj *v1alpha1.BatchCronJob) { cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](-1) },
		"unknown policy":    func(cj *v1alpha1.BatchCronJob) { cj.Spec.ConcurrencyPolicy = "Sometimes" },
		"manual selector":   func(cj *v1alpha1.BatchCronJob) { cj.Spec.JobTemplate.Spec.ManualSelector = ptr.To(true) },
		"53-character name": func(cj *v1alpha1.BatchCronJob) { cj.Name = "a2345678901234567890123456789012345678901234567890123" },
		"selector in template": func(cj *v1alpha1.BatchCronJob) {
			cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			if err := ce.createDryRun("valid", "@hourly", nil); err != nil {
				t.Fatalf("a valid BatchCronJob was rejected: %v", err)
			}
			if err := ce.createDryRun("invalid", "*/5 * * * *", mutate); err == nil {
				t.Errorf("created, want rejected")
			} else {
				t.Logf("rejected: %v", err)
			}
		})
	}
}

func (ce *cronEnv) createDryRun(name, schedule string, mutate func(*v1alpha1.BatchCronJob)) error {
	cj := testutil.MakeBatchCronJob(name, ce.ns, schedule).TimeZone("America/New_York").Obj()
	if mutate != nil {
		mutate(cj)
	}
	return ce.c.Create(context.Background(), cj, client.DryRunAll)
}

// Upstream's CronJob jobTemplate may be edited freely: jobs created later use the new
// template. The BatchJobSpec rules that make a BatchJob's fields immutable must not apply
// to the template a BatchCronJob keeps.
func TestJobTemplateIsMutable(t *testing.T) {
	ce := &cronEnv{t: t, ns: env.NewNamespace(t, "cron-mutable"), c: env.Client}
	cj := ce.create("edit", "@hourly", func(cj *v1alpha1.BatchCronJob) {
		cj.Spec.JobTemplate.Spec.Completions = ptr.To[int32](2)
	})
	got := ce.get(cj)
	spec := &got.Spec.JobTemplate.Spec
	spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	spec.Completions = ptr.To[int32](5)
	spec.BackoffLimitPerIndex = ptr.To[int32](1)
	spec.ManagedBy = ptr.To("example.com/other")
	if err := ce.c.Update(context.Background(), got); err != nil {
		t.Fatalf("editing the job template (completionMode, completions, backoffLimitPerIndex, managedBy): %v", err)
	}
}
