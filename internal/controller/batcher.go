package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

const (
	// DefaultSyncBatchPeriod is the suggested --sync-batch-period for those who want a busy
	// BatchJob's pod events coalesced (off by default).
	DefaultSyncBatchPeriod = 500 * time.Millisecond
	// quietPasses is how many passes a job may run back to back before its pod events
	// start to be coalesced: enough for the whole life of a small job (create, pod
	// created, running, finished, finalizer removed, Complete), so that it is never
	// delayed.
	quietPasses = 8

	// DefaultStatusBatchPeriod is how often a busy BatchJob's bookkeeping-only status
	// changes are written (upstream's syncJobBatchPeriod is 1 s).
	DefaultStatusBatchPeriod = time.Second
	// quietWrites is how many status writes a job may make back to back before its
	// bookkeeping-only writes are deferred: a small job's whole life (active, ready,
	// success recorded, Complete) is never delayed.
	quietWrites = 4
)

// tokenBudget is a token bucket per BatchJob: each use takes a token, tokens come back at
// one per period up to capacity, and delay says how long until the next token. It lets
// the controller act at once while a job is quiet and coalesce once it is busy:
//
//   - passes: a pod event of a busy job waits for the next token, so that many pod updates
//     fold into one pass (job events are never delayed; upstream delays every
//     pod-triggered pass by a fixed 1 s);
//   - status writes: a busy job's bookkeeping-only status change (plan.Deferrable) waits for
//     the next token, so that the uncounted → counted moves and the active/ready counts of
//     many pods fold into one write.
type tokenBudget struct {
	clock    clock.PassiveClock
	period   time.Duration
	capacity float64

	mu   sync.Mutex
	jobs map[types.NamespacedName]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// newTokenBudget returns a budget of capacity tokens per job refilling one per period;
// period <= 0 disables it (delay is always zero).
func newTokenBudget(c clock.PassiveClock, period time.Duration, capacity int) *tokenBudget {
	return &tokenBudget{clock: c, period: period, capacity: float64(capacity), jobs: map[types.NamespacedName]*bucket{}}
}

// refill brings key's tokens up to now and returns its bucket; the caller holds mu.
func (b *tokenBudget) refill(key types.NamespacedName) *bucket {
	now := b.clock.Now()
	s, ok := b.jobs[key]
	if !ok {
		s = &bucket{tokens: b.capacity, at: now}
		b.jobs[key] = s
		return s
	}
	if elapsed := now.Sub(s.at); elapsed > 0 {
		s.tokens = min(b.capacity, s.tokens+float64(elapsed)/float64(b.period))
	}
	s.at = now
	return s
}

// delay is how long a use by key must wait: zero while the job has a token, else the
// time until its next token.
func (b *tokenBudget) delay(key types.NamespacedName) time.Duration {
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

// take takes a token from key for a use that happens now.
func (b *tokenBudget) take(key types.NamespacedName) {
	if b == nil || b.period <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.refill(key)
	s.tokens = max(s.tokens-1, 0)
}

// forget drops key's bucket (the job is gone).
func (b *tokenBudget) forget(key types.NamespacedName) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.jobs, key)
}
