package backoff

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

const (
	// Base is the delay after the first failure.
	Base = 10 * time.Second
	// Cap is the longest delay.
	Cap = 10 * time.Minute
)

// Record is the job-wide state: failures since the last success and when the last of
// them finished.
type Record struct {
	FailuresAfterLastSuccess int32
	LastFailureTime          *time.Time
}

// Update folds newly finished pods into r. Any success resets the count; then only
// failures that finished strictly after the latest success count.
func Update(r Record, succeeded, failed []*corev1.Pod) Record {
	if len(succeeded) == 0 && len(failed) == 0 {
		return r
	}
	failTimes := finishTimes(failed)
	if len(succeeded) == 0 {
		last := failTimes[len(failTimes)-1]
		return Record{FailuresAfterLastSuccess: r.FailuresAfterLastSuccess + int32(len(failed)), LastFailureTime: &last}
	}
	succTimes := finishTimes(succeeded)
	lastSuccess := succTimes[len(succTimes)-1]
	out := Record{}
	for i := len(failTimes) - 1; i >= 0 && failTimes[i].After(lastSuccess); i-- {
		if out.LastFailureTime == nil {
			t := failTimes[i]
			out.LastFailureTime = &t
		}
		out.FailuresAfterLastSuccess++
	}
	return out
}

func finishTimes(pods []*corev1.Pod) []time.Time {
	ts := make([]time.Time, 0, len(pods))
	for _, p := range pods {
		ts = append(ts, FinishTime(p))
	}
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return ts
}

// Policy is the delay curve: Base after the first failure, doubling up to Cap. Upstream
// keeps its base in a variable (DefaultJobPodFailureBackOff) that its integration tests
// shorten; the controller carries a Policy for the same reason.
type Policy struct {
	Base, Cap time.Duration
}

// Default is the production curve: 10s, 20s, 40s ... 10min.
var Default = Policy{Base: Base, Cap: Cap}

// WithBase is Default with base as the first delay; zero keeps Default.
func WithBase(base time.Duration) Policy {
	if base <= 0 {
		return Default
	}
	return Policy{Base: base, Cap: Cap}
}

// Delay is the backoff after n consecutive failures: 0 for none, then 10s doubling
// up to 10min.
func Delay(n int32) time.Duration { return Default.Delay(n) }

// Remaining is how long creation must still wait after n failures, the last at last.
func Remaining(n int32, last *time.Time, now time.Time) time.Duration {
	return Default.Remaining(n, last, now)
}

// RemainingForRecord is Remaining for the job-wide record.
func RemainingForRecord(r Record, now time.Time) time.Duration {
	return Default.RemainingForRecord(r, now)
}

// RemainingForIndex is RemainingForIndex of the Default policy.
func RemainingForIndex(lastFailed *corev1.Pod, now time.Time) time.Duration {
	return Default.RemainingForIndex(lastFailed, now)
}

// Delay is the backoff after n consecutive failures: 0 for none, then Base doubling
// up to Cap.
func (p Policy) Delay(n int32) time.Duration {
	if n <= 0 {
		return 0
	}
	// A cap below the base (spec.retryPolicy.maxDelaySeconds alone) caps the first delay too.
	d := min(p.Base, p.Cap)
	if d <= 0 {
		return 0
	}
	for i := int32(1); i < n; i++ {
		d *= 2
		if d >= p.Cap {
			return p.Cap
		}
	}
	return d
}

// Remaining is how long creation must still wait after n failures, the last at last.
func (p Policy) Remaining(n int32, last *time.Time, now time.Time) time.Duration {
	if n <= 0 || last == nil {
		return 0
	}
	d := p.Delay(n)
	elapsed := now.Sub(*last)
	if elapsed >= d {
		return 0
	}
	return d - elapsed
}

// RemainingForRecord is Remaining for the job-wide record.
func (p Policy) RemainingForRecord(r Record, now time.Time) time.Duration {
	return p.Remaining(r.FailuresAfterLastSuccess, r.LastFailureTime, now)
}

// RemainingForIndex is the per-index backoff (upstream getRemainingTimePerIndex) given the latest failed pod of the
// index (nil when the index has none): failures are the pod's counted plus ignored
// failure counts plus its own failure.
func (p Policy) RemainingForIndex(lastFailed *corev1.Pod, now time.Time) time.Duration {
	if lastFailed == nil {
		return 0
	}
	n := jobpod.FailureCount(lastFailed) + jobpod.IgnoredFailureCount(lastFailed) + 1
	t := FinishTime(lastFailed)
	return p.Remaining(n, &t, now)
}
