package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"
)

// step is one thing that happens to a job's budget: wait, run a pass, or ask the delay
// of a pod event (recorded in the result).
type step struct {
	wait   time.Duration
	pass   int // passes started
	ask    bool
	forget bool
}

func TestPassBudgetDelay(t *testing.T) {
	const period = 500 * time.Millisecond
	cases := map[string]struct {
		period time.Duration
		steps  []step
		want   []time.Duration
	}{
		"quiet job: at once": {
			period: period,
			steps:  []step{{ask: true}, {pass: 1}, {ask: true}, {pass: quietPasses - 2}, {ask: true}},
			want:   []time.Duration{0, 0, 0},
		},
		"busy job: waits for the next token": {
			period: period,
			steps:  []step{{pass: quietPasses}, {ask: true}, {wait: 200 * time.Millisecond}, {ask: true}},
			want:   []time.Duration{period, 300 * time.Millisecond},
		},
		"busy job: one pass per period": {
			period: period,
			steps: []step{{pass: quietPasses}, {wait: period}, {ask: true}, {pass: 1}, {ask: true},
				{wait: period}, {ask: true}},
			want: []time.Duration{0, period, 0},
		},
		"passes beyond the budget do not pile up a debt": {
			period: period,
			steps:  []step{{pass: 3 * quietPasses}, {wait: period}, {ask: true}},
			want:   []time.Duration{0},
		},
		"refills to quiet after a pause": {
			period: period,
			steps:  []step{{pass: quietPasses}, {wait: time.Hour}, {pass: quietPasses - 1}, {ask: true}},
			want:   []time.Duration{0},
		},
		"forgotten job starts quiet": {
			period: period,
			steps:  []step{{pass: quietPasses}, {forget: true}, {ask: true}},
			want:   []time.Duration{0},
		},
		"disabled: never waits": {
			period: -1,
			steps:  []step{{pass: 3 * quietPasses}, {ask: true}},
			want:   []time.Duration{0},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := clocktesting.NewFakePassiveClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			b := newTokenBudget(c, tc.period, quietPasses)
			var got []time.Duration
			for _, s := range tc.steps {
				c.SetTime(c.Now().Add(s.wait))
				for range s.pass {
					b.take(key)
				}
				if s.forget {
					b.forget(key)
				}
				if s.ask {
					got = append(got, b.delay(key))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("delays (-want,+got):\n%s", diff)
			}
		})
	}
}

// TestStatusWriteBudget: a job writes quietWrites statuses at once, then one per period;
// bookkeeping waits for the next token and never longer than a period.
func TestStatusWriteBudget(t *testing.T) {
	c := clocktesting.NewFakePassiveClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b := newTokenBudget(c, DefaultStatusBatchPeriod, quietWrites)
	var got []time.Duration
	for range quietWrites {
		got = append(got, b.delay(key))
		b.take(key)
	}
	got = append(got, b.delay(key))
	c.SetTime(c.Now().Add(400 * time.Millisecond))
	got = append(got, b.delay(key))
	c.SetTime(c.Now().Add(600 * time.Millisecond))
	got = append(got, b.delay(key))
	want := []time.Duration{0, 0, 0, 0, DefaultStatusBatchPeriod, 600 * time.Millisecond, 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays (-want,+got):\n%s", diff)
	}
}
