package framework

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// PodsByStatus is upstream's podsByStatus (job_test.go:4462): the counters tests compare.
type PodsByStatus struct {
	Active      int
	Ready       *int32
	Failed      int
	Succeeded   int
	Terminating *int32
}

func countersOf(st *v1alpha1.BatchJobStatus) PodsByStatus {
	return PodsByStatus{Active: int(st.Active), Ready: st.Ready, Succeeded: int(st.Succeeded),
		Failed: int(st.Failed), Terminating: st.Terminating}
}

// ValidateJobsPodsStatusOnly waits until the job's status counters equal desired.
func (e *Env) ValidateJobsPodsStatusOnly(t testing.TB, job *v1alpha1.BatchJob, desired PodsByStatus) {
	t.Helper()
	e.ValidateJobsPodsStatusOnlyWithin(t, WaitTimeout, job, desired)
}

// ValidateJobsPodsStatusOnlyWithin is ValidateJobsPodsStatusOnly with its own limit.
func (e *Env) ValidateJobsPodsStatusOnlyWithin(t testing.TB, timeout time.Duration, job *v1alpha1.BatchJob, desired PodsByStatus) {
	t.Helper()
	EventuallyWithin(t, timeout, "job status counters", func() (bool, string) {
		got := countersOf(&e.GetJob(t, job).Status)
		return cmp.Equal(desired, got), "(-want,+got)\n" + cmp.Diff(desired, got)
	})
}

// ValidateJobPodsStatus is ValidateJobsPodsStatusOnly plus: exactly desired.Active pods
// are Pending or Running, and each of them carries the tracking finalizer.
func (e *Env) ValidateJobPodsStatus(t testing.TB, job *v1alpha1.BatchJob, desired PodsByStatus) {
	t.Helper()
	e.ValidateJobsPodsStatusOnly(t, job, desired)
	var active []corev1.Pod
	Eventually(t, fmt.Sprintf("%d Pending or Running pods", desired.Active), func() (bool, string) {
		active = FilterPods(e.JobPods(t, job), IsActivePhase)
		return len(active) == desired.Active, fmt.Sprintf("%d", len(active))
	})
	for _, p := range active {
		if !jobpod.HasFinalizer(&p) {
			t.Errorf("Active pod %s doesn't have tracking finalizer", p.Name)
		}
	}
}

// ValidateJobStatus waits until the job's status equals want, as upstream's
// validateJobStatus compares it: not startTime, completionTime, uncountedTerminatedPods,
// nor condition times and messages; the printing fields and the fields beyond batch/v1
// (recentFailures, nextPodCreationTime) are ours only.
func (e *Env) ValidateJobStatus(t testing.TB, job *v1alpha1.BatchJob, want v1alpha1.BatchJobStatus) {
	t.Helper()
	opts := cmp.Options{
		cmpopts.EquateEmpty(),
		cmpopts.IgnoreFields(v1alpha1.BatchJobStatus{}, "StartTime", "UncountedTerminatedPods", "CompletionTime",
			"State", "CompletionsText", "Duration", "RecentFailures", "NextPodCreationTime"),
		cmpopts.IgnoreFields(v1alpha1.JobCondition{}, "LastProbeTime", "LastTransitionTime", "Message"),
	}
	Eventually(t, "job status", func() (bool, string) {
		diff := cmp.Diff(want, e.GetJob(t, job).Status, opts)
		return diff == "", "(-want,+got)\n" + diff
	})
}

// ConditionStatus is the status of the job's condition ct, "" if it has none.
func ConditionStatus(job *v1alpha1.BatchJob, ct v1alpha1.JobConditionType) corev1.ConditionStatus {
	for _, c := range job.Status.Conditions {
		if c.Type == ct {
			return c.Status
		}
	}
	return ""
}

// HasCondition reports whether the job has ct=True with reason ("" for any reason).
func HasCondition(job *v1alpha1.BatchJob, ct v1alpha1.JobConditionType, reason string) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == ct && c.Status == corev1.ConditionTrue && (reason == "" || c.Reason == reason) {
			return true
		}
	}
	return false
}

// WaitForCondition waits until the job has ct=True with reason ("" for any) and returns it.
func (e *Env) WaitForCondition(t testing.TB, job *v1alpha1.BatchJob, ct v1alpha1.JobConditionType, reason string) *v1alpha1.BatchJob {
	t.Helper()
	var got *v1alpha1.BatchJob
	Eventually(t, fmt.Sprintf("condition %s=True (reason %q)", ct, reason), func() (bool, string) {
		got = e.GetJob(t, job)
		return HasCondition(got, ct, reason), fmt.Sprintf("%+v", got.Status)
	})
	return got
}

// ValidateJobCondition is upstream's: wait for condition ct=True.
func (e *Env) ValidateJobCondition(t testing.TB, job *v1alpha1.BatchJob, ct v1alpha1.JobConditionType) *v1alpha1.BatchJob {
	t.Helper()
	return e.WaitForCondition(t, job, ct, "")
}

// WaitForPodsToBeActive waits for status.active == n.
func (e *Env) WaitForPodsToBeActive(t testing.TB, job *v1alpha1.BatchJob, n int32) {
	t.Helper()
	Eventually(t, fmt.Sprintf("status.active == %d", n), func() (bool, string) {
		got := e.GetJob(t, job).Status.Active
		return got == n, fmt.Sprint(got)
	})
}

// ValidateIndexedJobPods checks completedIndexes, failedIndexes, and the indexes
// (annotation and label alike) and hostnames of the Pending or Running pods.
func (e *Env) ValidateIndexedJobPods(t testing.TB, job *v1alpha1.BatchJob, wantActive sets.Set[int], wantCompleted string, wantFailed *string) {
	t.Helper()
	got := e.GetJob(t, job)
	if got.Status.CompletedIndexes != wantCompleted {
		t.Errorf("Got completed indexes %q, want %q", got.Status.CompletedIndexes, wantCompleted)
	}
	if diff := cmp.Diff(wantFailed, got.Status.FailedIndexes); diff != "" {
		t.Errorf("Unexpected failed indexes (-want,+got):\n%s", diff)
	}
	gotActive := sets.New[int]()
	for _, p := range FilterPods(e.JobPods(t, job), IsActivePhase) {
		annotationIx, err := CompletionIndex(p.Annotations)
		if err != nil {
			t.Errorf("Pod %s: completion index annotation: %v", p.Name, err)
		}
		labelIx, err := CompletionIndex(p.Labels)
		if err != nil {
			t.Errorf("Pod %s: completion index label: %v", p.Name, err)
		}
		if annotationIx != labelIx {
			t.Errorf("Pod %s: index annotation %d, label %d", p.Name, annotationIx, labelIx)
		}
		gotActive.Insert(labelIx)
		if want := fmt.Sprintf("%s-%d", job.Name, labelIx); p.Spec.Hostname != want {
			t.Errorf("Pod %s: hostname %q, want %q", p.Name, p.Spec.Hostname, want)
		}
	}
	if wantActive == nil {
		wantActive = sets.New[int]()
	}
	if diff := cmp.Diff(sets.List(wantActive), sets.List(gotActive)); diff != "" {
		t.Errorf("Unexpected active indexes (-want,+got):\n%s", diff)
	}
}

// ValidateFinishedPodsNoFinalizer is upstream's check, kept as written: no Pending or
// Running pod still carries the tracking finalizer once the job finished.
func (e *Env) ValidateFinishedPodsNoFinalizer(t testing.TB, job *v1alpha1.BatchJob) {
	t.Helper()
	for _, p := range FilterPods(e.JobPods(t, job), IsActivePhase) {
		if jobpod.HasFinalizer(&p) {
			t.Errorf("Finished pod %s still has a tracking finalizer", p.Name)
		}
	}
}

// ValidateNoFinalizers waits until no pod of job carries the tracking finalizer.
func (e *Env) ValidateNoFinalizers(t testing.TB, job *v1alpha1.BatchJob) {
	t.Helper()
	Eventually(t, "no pod with the tracking finalizer", func() (bool, string) {
		var with []string
		for _, p := range e.JobPods(t, job) {
			if jobpod.HasFinalizer(&p) {
				with = append(with, p.Name)
			}
		}
		return len(with) == 0, strings.Join(with, ",")
	})
}
