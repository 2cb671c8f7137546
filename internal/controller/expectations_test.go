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

func TestExpectationsSatisfied(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		ops  func(e *expectations, c *clocktesting.FakeClock)
		want bool
	}{
		"nothing recorded": {ops: func(*expectations, *clocktesting.FakeClock) {}, want: true},
		"creations pending": {
			ops:  func(e *expectations, _ *clocktesting.FakeClock) { e.expect(key, "u1", 2, nil) },
			want: false,
		},
		"creations all observed": {
			ops: func(e *expectations, _ *clocktesting.FakeClock) {
				e.expect(key, "u1", 2, nil)
				e.creationObserved(key, "u1", 1)
				e.creationObserved(key, "u1", 1)
			},
			want: true,
		},
		"deletion pending": {
			ops: func(e *expectations, _ *clocktesting.FakeClock) {
				e.expect(key, "u1", 0, []types.UID{"p1", "p2"})
				e.deletionObserved(key, "u1", "p1")
				e.deletionObserved(key, "u1", "p1") // twice is once
			},
			want: false,
		},
		"deletions observed": {
			ops: func(e *expectations, _ *clocktesting.FakeClock) {
				e.expect(key, "u1", 0, []types.UID{"p1", "p2"})
				e.deletionObserved(key, "u1", "p1")
				e.deletionObserved(key, "u1", "p2")
			},
			want: true,
		},
		"observations for another uid do not count": {
			ops: func(e *expectations, _ *clocktesting.FakeClock) {
				e.expect(key, "u1", 1, nil)
				e.creationObserved(key, "u0", 1)
			},
			want: false,
		},
		"expired after five minutes": {
			ops: func(e *expectations, c *clocktesting.FakeClock) {
				e.expect(key, "u1", 1, nil)
				c.Step(expectationsTimeout + time.Second)
			},
			want: true,
		},
		"forgotten": {
			ops: func(e *expectations, _ *clocktesting.FakeClock) {
				e.expect(key, "u1", 1, nil)
				e.forget(key)
			},
			want: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := clocktesting.NewFakeClock(start)
			e := newExpectations(c)
			tc.ops(e, c)
			if got := e.satisfied(key, "u1"); got != tc.want {
				t.Errorf("satisfied = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFinalizerRemovalPending(t *testing.T) {
	e := newExpectations(clocktesting.NewFakeClock(time.Now()))
	e.expectFinalizerRemovals(key, "u1", []types.UID{"a", "b", "c"})
	e.finalizerRemovalObserved(key, "u1", "b")
	if diff := cmp.Diff(sets.New[types.UID]("a", "c"), e.pendingFinalizerRemovals(key, "u1")); diff != "" {
		t.Errorf("pending (-want,+got):\n%s", diff)
	}
	// A re-created job under the same name starts from nothing.
	if diff := cmp.Diff(sets.New[types.UID](), e.pendingFinalizerRemovals(key, "u2")); diff != "" {
		t.Errorf("pending for new uid (-want,+got):\n%s", diff)
	}
}

func TestStaleAndBackoff(t *testing.T) {
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
			e := newExpectations(clocktesting.NewFakeClock(time.Now()))
			if tc.writtenRV != "" {
				e.wrote(key, "u1", tc.writtenRV, tc.finished, nil)
			}
			if got := e.stale(key, "u1", tc.cachedRV, tc.cachedFinished); got != tc.want {
				t.Errorf("stale = %v, want %v", got, tc.want)
			}
		})
	}
	e := newExpectations(clocktesting.NewFakeClock(time.Now()))
	rec := &plan.BackoffRecord{FailuresAfterLastSuccess: 2}
	e.wrote(key, "u1", "5", false, rec)
	e.wrote(key, "u1", "6", false, nil) // nil keeps the record
	if diff := cmp.Diff(rec, e.backoff(key, "u1")); diff != "" {
		t.Errorf("backoff (-want,+got):\n%s", diff)
	}
	e.wrote(key, "u1", "7", true, rec) // finishing forgets it
	if got := e.backoff(key, "u1"); got != nil {
		t.Errorf("backoff after finish = %+v, want nil", got)
	}
}
