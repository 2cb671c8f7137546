package cronjob

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

const (
	testNS  = "ns"
	testUID = types.UID("cj-uid")
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mtime(s string) *metav1.Time { return &metav1.Time{Time: at(s)} }

// wait is the RequeueAfter for waking at next (plus upstream's padding) seen from now.
func wait(next, now string) *time.Duration {
	return ptr.To(at(next).Add(nextScheduleDelta).Sub(at(now)))
}

// cronJobW builds BatchCronJobs for the tests, with upstream's defaults.
type cronJobW struct{ v1alpha1.BatchCronJob }

func makeCronJob(schedule, created string) *cronJobW {
	return &cronJobW{*testutil.MakeBatchCronJob("nightly", testNS, schedule).
		WithUID(testUID).WithGeneration(1).Created(at(created)).
		ConcurrencyPolicy(v1alpha1.AllowConcurrent).Suspend(false).HistoryLimits(3, 1).
		JobTemplateLabel("app", "nightly").JobTemplateAnnotation("team", "data").Obj()}
}

func (w *cronJobW) obj() *v1alpha1.BatchCronJob { return w.DeepCopy() }
func (w *cronJobW) tz(z string) *cronJobW       { w.Spec.TimeZone = &z; return w }
func (w *cronJobW) policy(p v1alpha1.ConcurrencyPolicy) *cronJobW {
	w.Spec.ConcurrencyPolicy = p
	return w
}
func (w *cronJobW) suspend() *cronJobW         { w.Spec.Suspend = ptr.To(true); return w }
func (w *cronJobW) deadline(s int64) *cronJobW { w.Spec.StartingDeadlineSeconds = &s; return w }
func (w *cronJobW) lastSchedule(t string) *cronJobW {
	w.Status.LastScheduleTime = mtime(t)
	return w
}
func (w *cronJobW) active(jobs ...*v1alpha1.BatchJob) *cronJobW {
	for _, j := range jobs {
		w.Status.Active = append(w.Status.Active, Reference(j))
	}
	w.Status.ActiveCount = int32(len(w.Status.Active))
	return w
}
func (w *cronJobW) deleting(t string) *cronJobW {
	w.DeletionTimestamp = mtime(t)
	return w
}

// child is a BatchJob of the test BatchCronJob, named after minute; started (if not "")
// and finished with cond (if not "") at the given times.
func child(minute int64, started string, cond v1alpha1.JobConditionType, finished string) *v1alpha1.BatchJob {
	j := testutil.MakeEmptyBatchJob(fmt.Sprintf("nightly-%d", minute), testNS).WithUID(types.UID(fmt.Sprintf("job-%d", minute))).
		Owners(metav1.OwnerReference{Kind: "BatchCronJob", Name: "nightly", UID: testUID, Controller: ptr.To(true)}).Obj()
	if started != "" {
		j.Status.StartTime = mtime(started)
	}
	if cond != "" {
		j.Status.Conditions = []v1alpha1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		if cond == v1alpha1.JobComplete {
			j.Status.CompletionTime = mtime(finished)
		}
	}
	return j
}

// wantJob is the BatchJob the test BatchCronJob should create: spelled out rather than
// built by newJob, so that the tests check newJob too.
func wantJob(cj *v1alpha1.BatchCronJob, name, scheduledAnnotation string) *v1alpha1.BatchJob {
	return testutil.MakeEmptyBatchJob(name, testNS).Label("app", "nightly").
		Annotation("team", "data").Annotation(v1alpha1.CronJobScheduledTimestampAnnotation, scheduledAnnotation).
		Owners(metav1.OwnerReference{
			APIVersion: "batchjob.dev/v1alpha1", Kind: "BatchCronJob", Name: "nightly", UID: testUID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}).
		FullSpec(&cj.Spec.JobTemplate.Spec).Obj()
}

func refs(jobs ...*v1alpha1.BatchJob) []corev1.ObjectReference {
	var out []corev1.ObjectReference
	for _, j := range jobs {
		out = append(out, Reference(j))
	}
	return out
}

func normal(reason, msg string) Event {
	return Event{Type: corev1.EventTypeNormal, Reason: reason, Message: msg}
}
func warning(reason, msg string) Event {
	return Event{Type: corev1.EventTypeWarning, Reason: reason, Message: msg}
}
