package plan

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestDeferrable plans a pass for each job and pods and states whether its status write is
// bookkeeping that a busy job may defer.
func TestDeferrable(t *testing.T) {
	started := ago(time.Minute)
	busy := func() *jobW { return job("pi", "ns").Parallelism(2).Completions(5) }
	cases := map[string]struct {
		job         *v1alpha1.BatchJob
		pods        []*podW
		unsatisfied bool
		want        bool
	}{
		"success recorded, replacement created: deferrable": {
			job:  busy().Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: []*podW{running("a"), succeeded("s")},
			want: true,
		},
		"recorded success moved into succeeded: deferrable": {
			job:  busy().Status(status().Active(2).StartTime(started).Uncounted(uids("s"), nil).Obj()).Obj(),
			pods: []*podW{running("a"), running("b"), succeeded("s").NoFinalizer()},
			want: true,
		},
		"a pod became ready: deferrable": {
			job:  busy().Status(status().Active(2).Ready(0).StartTime(started).Obj()).Obj(),
			pods: []*podW{running("a").Ready(ago(time.Second)), running("b")},
			want: true,
		},
		"indexed: completed index recorded: deferrable": {
			job:  job("pi", "ns").Indexed().Completions(4).Parallelism(2).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: []*podW{running("a").Index(1), succeeded("s").Index(0)},
			want: true,
		},
		"nothing changed: no write to defer": {
			job:  busy().Status(status().Active(2).Ready(0).StartTime(started).Obj()).Obj(),
			pods: []*podW{running("a"), running("b")},
			want: false,
		},
		"job start sets startTime: written at once": {
			job:  busy().Obj(),
			want: false,
		},
		"a failure drives backoff: written at once": {
			job:  busy().Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: []*podW{running("a"), failed("f")},
			want: false,
		},
		"a failure already recorded moved into failed: written at once": {
			job:  busy().Status(status().Active(2).StartTime(started).UncountedFailed("f").Obj()).Obj(),
			pods: []*podW{running("a"), running("b"), failed("f").NoFinalizer()},
			want: false,
		},
		"last completion adds SuccessCriteriaMet: written at once": {
			job:  busy().Status(status().Active(1).Succeeded(4).StartTime(started).Obj()).Obj(),
			pods: []*podW{succeeded("s")},
			want: false,
		},
		"no active pod left (quiet): written at once": {
			job:         busy().Status(status().Active(1).StartTime(started).Obj()).Obj(),
			pods:        []*podW{succeeded("s")},
			unsatisfied: true,
			want:        false,
		},
		"suspending deletes pods: written at once": {
			job:  busy().Suspend(true).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: []*podW{running("a"), running("b")},
			want: false,
		},
		"scale-down deletes a pod: written at once": {
			job:  job("pi", "ns").Parallelism(1).Completions(5).Status(status().Active(2).StartTime(started).Obj()).Obj(),
			pods: []*podW{running("a"), running("b")},
			want: false,
		},
		"per-index failure: written at once": {
			job: job("pi", "ns").Indexed().Completions(4).Parallelism(2).BackoffLimitPerIndex(0).
				Status(status().Active(2).StartTime(started).FailedIndexes("").Obj()).Obj(),
			pods: []*podW{running("a").Index(1), failed("f").Index(0)},
			want: false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := Input{Job: tc.job, Pods: pods(tc.pods...), Now: now, ExpectationsSatisfied: !tc.unsatisfied,
				FinalizerRemovalPending: sets.New[types.UID]()}
			storedPrintFields(tc.job, in)
			out := Plan(in)
			working := tc.job.DeepCopy()
			v1alpha1.SetDefaults(working)
			if got := Deferrable(working, &out); got != tc.want {
				t.Errorf("Deferrable = %v, want %v (status changed %v, events %v, deletions %d)",
					got, tc.want, out.StatusChanged, out.Events, len(out.Delete))
			}
		})
	}
}
