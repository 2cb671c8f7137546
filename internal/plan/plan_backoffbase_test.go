package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPlanPodFailureBackoff: Input.PodFailureBackoff replaces the 10s base of the
// re-creation backoff, as upstream's DefaultJobPodFailureBackOff does in its tests.
func TestPlanPodFailureBackoff(t *testing.T) {
	rec := &BackoffRecord{FailuresAfterLastSuccess: 1, LastFailureTime: ptrTime(ago(4 * time.Second))}
	cases := map[string]struct {
		base        time.Duration
		wantCreated []string
		wantRequeue time.Duration
	}{
		"default 10s base still waits":   {base: 0, wantRequeue: 6 * time.Second},
		"5s base still waits":            {base: 5 * time.Second, wantRequeue: time.Second},
		"2s base has expired: recreates": {base: 2 * time.Second, wantCreated: []string{"pi-"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			j := job("pi", "ns").Status(status().Failed(1).StartTime(ago(time.Minute)).Obj()).Obj()
			res := summarize(Plan(Input{Job: j, Now: now, ExpectationsSatisfied: true, Backoff: rec, PodFailureBackoff: tc.base}))
			if diff := cmp.Diff(tc.wantCreated, res.Created); diff != "" {
				t.Errorf("Created (-want,+got):\n%s", diff)
			}
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, tc.wantRequeue)
			}
		})
	}
}
