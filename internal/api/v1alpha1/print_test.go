package v1alpha1

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestSetPrintFields(t *testing.T) {
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	now := start.Add(150 * time.Second)
	startT, doneT := metav1.NewTime(start), metav1.NewTime(start.Add(3*time.Hour+5*time.Minute))
	withCond := func(types ...JobConditionType) []JobCondition {
		var out []JobCondition
		for _, ct := range types {
			out = append(out, JobCondition{Type: ct, Status: corev1.ConditionTrue})
		}
		return out
	}
	type want struct{ State, Completions, Duration string }
	cases := map[string]struct {
		spec     BatchJobSpec
		status   BatchJobStatus
		deleting bool
		want     want
	}{
		"not started":      {BatchJobSpec{Completions: ptr.To[int32](5)}, BatchJobStatus{}, false, want{"Running", "0/5", ""}},
		"running":          {BatchJobSpec{Completions: ptr.To[int32](5)}, BatchJobStatus{StartTime: &startT, Succeeded: 3}, false, want{"Running", "3/5", "2m30s"}},
		"work queue":       {BatchJobSpec{Parallelism: ptr.To[int32](3)}, BatchJobStatus{StartTime: &startT}, false, want{"Running", "0/1 of 3", "2m30s"}},
		"single pod":       {BatchJobSpec{Parallelism: ptr.To[int32](1)}, BatchJobStatus{Succeeded: 2}, false, want{"Running", "2/1", ""}},
		"complete":         {BatchJobSpec{Completions: ptr.To[int32](1)}, BatchJobStatus{StartTime: &startT, CompletionTime: &doneT, Succeeded: 1, Conditions: withCond(JobSuccessCriteriaMet, JobComplete)}, false, want{"Complete", "1/1", "3h5m"}},
		"failed":           {BatchJobSpec{Completions: ptr.To[int32](2)}, BatchJobStatus{StartTime: &startT, Conditions: withCond(JobFailureTarget, JobFailed)}, false, want{"Failed", "0/2", "2m30s"}},
		"terminating":      {BatchJobSpec{Completions: ptr.To[int32](2)}, BatchJobStatus{StartTime: &startT, Conditions: withCond(JobSuspended)}, true, want{"Terminating", "0/2", "2m30s"}},
		"suspended":        {BatchJobSpec{Completions: ptr.To[int32](2)}, BatchJobStatus{Conditions: withCond(JobSuspended)}, false, want{"Suspended", "0/2", ""}},
		"failure target":   {BatchJobSpec{Completions: ptr.To[int32](2)}, BatchJobStatus{StartTime: &startT, Conditions: withCond(JobFailureTarget)}, false, want{"FailureTarget", "0/2", "2m30s"}},
		"success criteria": {BatchJobSpec{Completions: ptr.To[int32](2)}, BatchJobStatus{StartTime: &startT, Succeeded: 2, Conditions: withCond(JobSuccessCriteriaMet)}, false, want{"SuccessCriteriaMet", "2/2", "2m30s"}},
		"false condition ignored": {BatchJobSpec{Completions: ptr.To[int32](2)},
			BatchJobStatus{Conditions: []JobCondition{{Type: JobSuspended, Status: corev1.ConditionFalse}}}, false, want{"Running", "0/2", ""}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := &BatchJob{Spec: tc.spec, Status: tc.status}
			if tc.deleting {
				job.DeletionTimestamp = &metav1.Time{Time: now}
			}
			status := job.Status.DeepCopy()
			SetPrintFields(job, status, now)
			if diff := cmp.Diff(tc.want, want{status.State, status.CompletionsText, status.Duration}); diff != "" {
				t.Errorf("print fields (-want,+got):\n%s", diff)
			}
		})
	}
}
