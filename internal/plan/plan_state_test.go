package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestPlanState: status.state tells apart what kubectl prints as Running by the pods
// (k8s#138366), and keeps kubectl's value otherwise.
func TestPlanState(t *testing.T) {
	started := ago(time.Minute)
	cases := map[string]struct {
		job         *v1alpha1.BatchJob
		pods        []*podW
		backoff     *BackoffRecord
		want        string
		wantChanged bool
	}{
		"new job creating its pods: Pending": {
			job:  job("pi", "ns").Completions(2).Parallelism(2).Obj(),
			want: v1alpha1.StatePending, wantChanged: true,
		},
		"all active pods Pending: Pending": {
			job:  job("pi", "ns").Completions(2).Parallelism(2).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: []*podW{pod("a"), pod("b").NodeName("n")},
			want: v1alpha1.StatePending, wantChanged: true,
		},
		"one pod running: Running": {
			job:  job("pi", "ns").Completions(2).Parallelism(2).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: []*podW{pod("a"), running("b")},
			want: v1alpha1.StateRunning,
		},
		"a ready pod still in phase Pending counts as started": {
			job:  job("pi", "ns").Status(status().Active(1).Ready(1).StartTime(started).Obj()).Obj(),
			pods: []*podW{pod("a").Ready(ago(time.Second))},
			want: v1alpha1.StateRunning,
		},
		"a terminating running pod is not running for the job": {
			job:  job("pi", "ns").Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: []*podW{running("a").Deleted(ago(time.Second)), pod("b")},
			want: v1alpha1.StatePending, wantChanged: true,
		},
		"waiting for the re-creation backoff: BackingOff": {
			job:     job("pi", "ns").Status(status().Failed(1).StartTime(started).Obj()).Obj(),
			backoff: &BackoffRecord{FailuresAfterLastSuccess: 1, LastFailureTime: ptrTime(ago(4 * time.Second))},
			want:    v1alpha1.StateBackingOff, wantChanged: true,
		},
		"backoff over: creating again, Pending": {
			job:     job("pi", "ns").Status(status().Failed(1).StartTime(started).Obj()).Obj(),
			backoff: &BackoffRecord{FailuresAfterLastSuccess: 1, LastFailureTime: ptrTime(ago(time.Minute))},
			want:    v1alpha1.StatePending, wantChanged: true,
		},
		"running pod and an index backing off: Running": {
			job: job("pi", "ns").Indexed().Completions(2).Parallelism(2).BackoffLimitPerIndex(3).
				Status(status().Active(1).StartTime(started).FailedIndexes("").Obj()).Obj(),
			pods: []*podW{running("a").Index(0), failed("f").Index(1).Exited("main", 1, ago(time.Second))},
			want: v1alpha1.StateRunning, wantChanged: true, // nextPodCreationTime for index 1
		},
		"index backing off, nothing running: BackingOff": {
			job: job("pi", "ns").Indexed().Completions(1).Parallelism(1).BackoffLimitPerIndex(3).
				Status(status().StartTime(started).FailedIndexes("").Obj()).Obj(),
			pods: []*podW{pod("f").Phase(corev1.PodFailed).Index(0).Exited("main", 1, ago(time.Second))},
			want: v1alpha1.StateBackingOff, wantChanged: true,
		},
		"suspended stays Suspended": {
			job: job("pi", "ns").Suspend(true).Status(status().
				Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", started).Obj()).Obj(),
			want: v1alpha1.StateSuspended,
		},
		"being deleted stays Terminating": {
			job:  job("pi", "ns").DeletionTimestamp(now).Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: []*podW{pod("a")},
			want: v1alpha1.StateTerminating,
		},
		"finishing: kubectl's interim state": {
			job:  job("pi", "ns").BackoffLimit(0).Status(status().StartTime(started).Obj()).Obj(),
			pods: []*podW{failed("f")},
			want: v1alpha1.StateFailureTarget, wantChanged: true,
		},
		"complete": {
			job:  job("pi", "ns").Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods: []*podW{succeeded("s")},
			want: v1alpha1.StateSuccessCriteriaMet, wantChanged: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			j := tc.job
			// What the previous write stored: kubectl's value, as if the pods were running.
			v1alpha1.SetPrintFields(j, &j.Status, now)
			res := Plan(Input{Job: j, Pods: pods(tc.pods...), Now: now, ExpectationsSatisfied: true, Backoff: tc.backoff})
			if diff := cmp.Diff(tc.want, res.Status.State); diff != "" {
				t.Errorf("state (-want,+got):\n%s", diff)
			}
			if res.StatusChanged != tc.wantChanged {
				t.Errorf("StatusChanged = %v, want %v", res.StatusChanged, tc.wantChanged)
			}
		})
	}
}
