package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

const (
	// DefaultSyncBatchPeriod is how often a busy BatchJob is synced for pod events.
	DefaultSyncBatchPeriod = 500 * time.Millisecond
	// quietPasses is how many passes a job may run back to back before its pod events
	// start to be coalesced: enough for the whole life of a small job (create, pod
	// created, running, finished, finalizer removed, Complete), so that it is never
	// delayed.
	quietPasses = 8
)

// passBudget decides how soon a pod event should trigger a pass of its BatchJob: at once
// while the job is quiet, after a delay once it is busy, so that the pod updates of a busy
// job fold into one pass and one status write per period. It is a token bucket per job:
// every pass (whatever triggered it) takes a token, tokens come back at one per period up
// to quietPasses, and a pod event waits until the next token. Job events are never
// delayed. (Upstream delays every pod-triggered pass by a fixed 1 s.)
type passBudget struct {
	clock  clock.PassiveClock
	period time.Duration

	mu   sync.Mutex
	jobs map[types.NamespacedName]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// newPassBudget returns a budget refilling one pass per period; period <= 0 disables
// coalescing (every pod event is enqueued at once).
func newPassBudget(c clock.PassiveClock, period time.Duration) *passBudget {
	return &passBudget{clock: c, period: period, jobs: map[types.NamespacedName]*bucket{}}
}

// refill brings key's tokens up to now and returns its bucket; the caller holds mu.
func (b *passBudget) refill(key types.NamespacedName) *bucket {
	now := b.clock.Now()
	s, ok := b.jobs[key]
	if !ok {
		s = &bucket{tokens: quietPasses, at: now}
		b.jobs[key] = s
		return s
	}
	if elapsed := now.Sub(s.at); elapsed > 0 {
		s.tokens = min(quietPasses, s.tokens+float64(elapsed)/float64(b.period))
	}
	s.at = now
	return s
}

// delay is how long a pod event of key should wait before it enqueues a pass: zero while
// the job has a token, else the time until its next token.
func (b *passBudget) delay(key types.NamespacedName) time.Duration {
	if b == nil || b.period <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.refill(key)
	if s.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - s.tokens) * float64(b.period))
}

// passStarted takes a token from key for a pass that starts now.
func (b *passBudget) passStarted(key types.NamespacedName) {
	if b == nil || b.period <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.refill(key)
	s.tokens = max(s.tokens-1, 0)
}

// forget drops key's bucket (the job is gone).
func (b *passBudget) forget(key types.NamespacedName) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.jobs, key)
}
