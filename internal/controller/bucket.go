package controller

import (
	"time"
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

// rate is a token-bucket shape: capacity tokens, refilled one per period; a period <= 0
// turns the bucket off (never a delay). It lets the controller act at once while a job
// is quiet and coalesce once it is busy:
//
//   - passes: a pod event of a busy job waits for the next token, so that many pod updates
//     fold into one pass (job events are never delayed; upstream delays every
//     pod-triggered pass by a fixed 1 s);
//   - status writes: a busy job's bookkeeping-only status change (plan.Deferrable) waits for
//     the next token, so that the uncounted → counted moves and the active/ready counts of
//     many pods fold into one write.
type rate struct {
	period   time.Duration
	capacity float64
}

// bucket is one job's tokens of one rate. The zero bucket is full.
type bucket struct {
	started bool
	tokens  float64
	at      time.Time // when tokens was last brought up to date
}

// refill brings b's tokens up to now.
func (b *bucket) refill(r rate, now time.Time) {
	if !b.started {
		b.started, b.tokens, b.at = true, r.capacity, now
		return
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(r.capacity, b.tokens+float64(elapsed)/float64(r.period))
	}
	b.at = now
}

// delay is how long a use must wait: zero while a token is left, else the time until
// the next one.
func (b *bucket) delay(r rate, now time.Time) time.Duration {
	if r.period <= 0 {
		return 0
	}
	b.refill(r, now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(r.period))
}

// take takes a token for a use that happens now; uses beyond the budget build no debt.
func (b *bucket) take(r rate, now time.Time) {
	if r.period <= 0 {
		return
	}
	b.refill(r, now)
	b.tokens = max(b.tokens-1, 0)
}
