package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchjob-dev/batchjob/internal/plan"
)

var key = types.NamespacedName{Namespace: "ns", Name: "job"}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestMemory(c *clocktesting.FakeClock) *jobMemory {
	return newJobMemory(c, c, DefaultSyncBatchPeriod, DefaultStatusBatchPeriod)
}

func TestMemorySatisfied(t *testing.T) {
	cases := map[string]struct {
		ops  func(m *jobMemory, c *clocktesting.FakeClock)
		want bool
	}{
		"nothing recorded": {ops: func(*jobMemory, *clocktesting.FakeClock) {}, want: true},
		"creations pending": {
			ops:  func(m *jobMemory, _ *clocktesting.FakeClock) { m.expect("u1", 2, nil) },
			want: false,
		},
		"creations all observed": {
			ops: func(m *jobMemory, _ *clocktesting.FakeClock) {
				m.expect("u1", 2, nil)
				m.creationObserved("u1", 1)
				m.creationObserved("u1", 1)
			},
			want: true,
		},
		"deletion pending": {
			ops: func(m *jobMemory, _ *clocktesting.FakeClock) {
				m.expect("u1", 0, []types.UID{"p1", "p2"})
				m.deletionObserved("u1", "p1")
				m.deletionObserved("u1", "p1") // twice is once
			},
			want: false,
		},
		"deletions observed": {
			ops: func(m *jobMemory, _ *clocktesting.FakeClock) {
				m.expect("u1", 0, []types.UID{"p1", "p2"})
				m.deletionObserved("u1", "p1")
				m.deletionObserved("u1", "p2")
			},
			want: true,
		},
		"observations for another uid do not count": {
			ops: func(m *jobMemory, _ *clocktesting.FakeClock) {
				m.expect("u1", 1, nil)
				m.creationObserved("u0", 1)
			},
			want: false,
		},
		"expired after five minutes": {
			ops: func(m *jobMemory, c *clocktesting.FakeClock) {
				m.expect("u1", 1, nil)
				c.Step(expectationsTimeout + time.Second)
			},
			want: true,
		},
		"forgotten": {
			ops: func(m *jobMemory, _ *clocktesting.FakeClock) {
				m.begin(key, "u1")
				m.expect("u1", 1, nil)
				m.forget(key)
			},
			want: true,
		},
		"a pass of a re-created job drops its predecessor's record": {
			ops: func(m *jobMemory, _ *clocktesting.FakeClock) {
				m.begin(key, "u1")
				m.expect("u1", 1, nil)
				m.begin(key, "u2")
			},
			want: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := clocktesting.NewFakeClock(epoch)
			m := newTestMemory(c)
			tc.ops(m, c)
			if got := m.snapshot("u1", "1", false).satisfied; got != tc.want {
				t.Errorf("satisfied = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMemoryKeyedByUID: events about the pods of an older BatchJob of the same name
// (garbage collection after delete and re-create) leave the live job's record alone.
func TestMemoryKeyedByUID(t *testing.T) {
	m := newTestMemory(clocktesting.NewFakeClock(epoch))
	m.begin(key, "new")
	m.expect("new", 2, nil)
	m.expectFinalizerRemovals("new", []types.UID{"p1"})
	m.wrote("new", "20", false, &plan.BackoffRecord{FailuresAfterLastSuccess: 1})

	// What the pod handler does for a deleted pod of the old job.
	m.podLeftCache("old", "old-pod")
	m.deletionObserved("old", "old-pod")
	m.finalizerRemovalObserved("old", "p1")
	m.creationObserved("old", 2)

	got := m.snapshot("new", "10", false)
	want := snapshot{stale: true, satisfied: false, finalizerRemovalPending: sets.New[types.UID]("p1"),
		backoff: &plan.BackoffRecord{FailuresAfterLastSuccess: 1}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(snapshot{})); diff != "" {
		t.Errorf("snapshot of the live job (-want,+got):\n%s", diff)
	}
	if m.isLive(key, "old") || !m.isLive(key, "new") {
		t.Errorf("isLive(old) = %v, isLive(new) = %v; want false, true", m.isLive(key, "old"), m.isLive(key, "new"))
	}
	if names := m.takePodsLeftCache("new"); names != nil {
		t.Errorf("pods left cache of the live job = %v, want none", names)
	}
	if len(m.jobs) != 1 {
		t.Errorf("records = %d, want 1 (events of a job no pass has seen create none)", len(m.jobs))
	}
}

func TestMemoryFinalizerRemovalPending(t *testing.T) {
	m := newTestMemory(clocktesting.NewFakeClock(epoch))
	m.expectFinalizerRemovals("u1", []types.UID{"a", "b", "c"})
	m.finalizerRemovalObserved("u1", "b")
	if diff := cmp.Diff(sets.New[types.UID]("a", "c"), m.snapshot("u1", "", false).finalizerRemovalPending); diff != "" {
		t.Errorf("pending (-want,+got):\n%s", diff)
	}
	// A re-created job under the same name starts from nothing.
	if diff := cmp.Diff(sets.New[types.UID](), m.snapshot("u2", "", false).finalizerRemovalPending); diff != "" {
		t.Errorf("pending for new uid (-want,+got):\n%s", diff)
	}
}

func TestMemoryStaleAndBackoff(t *testing.T) {
	cases := map[string]struct {
		writtenRV      string
		finished       bool
		cachedRV       string
		cachedFinished bool
		want           bool
	}{
		"nothing written":          {cachedRV: "10", want: false},
		"cache older than write":   {writtenRV: "12", cachedRV: "10", want: true},
		"cache at the write":       {writtenRV: "12", cachedRV: "12", want: false},
		"cache newer than write":   {writtenRV: "12", cachedRV: "15", want: false},
		"longer rv is newer":       {writtenRV: "99", cachedRV: "100", want: false},
		"finished, cache not yet":  {writtenRV: "12", finished: true, cachedRV: "13", want: true},
		"finished, cache shows it": {writtenRV: "12", finished: true, cachedRV: "12", cachedFinished: true, want: false},
		"unparsable rv is trusted": {writtenRV: "abc", cachedRV: "x", want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := newTestMemory(clocktesting.NewFakeClock(epoch))
			if tc.writtenRV != "" {
				m.wrote("u1", tc.writtenRV, tc.finished, nil)
			}
			if got := m.snapshot("u1", tc.cachedRV, tc.cachedFinished).stale; got != tc.want {
				t.Errorf("stale = %v, want %v", got, tc.want)
			}
		})
	}
	m := newTestMemory(clocktesting.NewFakeClock(epoch))
	rec := &plan.BackoffRecord{FailuresAfterLastSuccess: 2}
	m.wrote("u1", "5", false, rec)
	m.wrote("u1", "6", false, nil) // nil keeps the record
	if diff := cmp.Diff(rec, m.snapshot("u1", "6", false).backoff); diff != "" {
		t.Errorf("backoff (-want,+got):\n%s", diff)
	}
	m.wrote("u1", "7", true, rec) // finishing forgets it
	if got := m.snapshot("u1", "7", true).backoff; got != nil {
		t.Errorf("backoff after finish = %+v, want nil", got)
	}
}

// step is one thing that happens to a job's pass budget: wait, run passes, or ask the
// delay of a pod event (recorded in the result).
type step struct {
	wait   time.Duration
	pass   int // passes started
	ask    bool
	forget bool
}

func TestMemoryPassDelay(t *testing.T) {
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
			period: 0,
			steps:  []step{{pass: 3 * quietPasses}, {ask: true}},
			want:   []time.Duration{0},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := clocktesting.NewFakeClock(epoch)
			m := newJobMemory(c, c, tc.period, 0)
			var got []time.Duration
			for _, s := range tc.steps {
				c.Step(s.wait)
				for range s.pass {
					m.begin(key, "u1")
				}
				if s.forget {
					m.forget(key)
				}
				if s.ask {
					got = append(got, m.passDelay("u1"))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("delays (-want,+got):\n%s", diff)
			}
		})
	}
}

// TestMemoryWriteDelay: a job writes quietWrites statuses at once, then one per period;
// bookkeeping waits for the next token and never longer than a period.
func TestMemoryWriteDelay(t *testing.T) {
	c := clocktesting.NewFakeClock(epoch)
	m := newTestMemory(c)
	var got []time.Duration
	for range quietWrites {
		got = append(got, m.writeDelay("u1"))
		m.takeWrite("u1")
	}
	got = append(got, m.writeDelay("u1"))
	c.Step(400 * time.Millisecond)
	got = append(got, m.writeDelay("u1"))
	c.Step(600 * time.Millisecond)
	got = append(got, m.writeDelay("u1"))
	want := []time.Duration{0, 0, 0, 0, DefaultStatusBatchPeriod, 600 * time.Millisecond, 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays (-want,+got):\n%s", diff)
	}
}
