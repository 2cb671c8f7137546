package framework

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

const (
	// WaitInterval is how often the wait helpers poll the API server.
	WaitInterval = 20 * time.Millisecond
	// WaitTimeout bounds every wait for the controller. Upstream uses
	// wait.ForeverTestTimeout (30s); the machines running these suites are shared and
	// loaded, so a little more. A passing wait returns as soon as its condition holds.
	WaitTimeout = 45 * time.Second
	// ControllerLatency is how long a test waits before asserting that the controller did
	// NOT do something. Our controller reacts to events at once (no 1s batching), so this
	// covers a couple of passes.
	ControllerLatency = 500 * time.Millisecond
)

// Eventually polls cond until it holds, failing the test with what cond last said if it
// does not within WaitTimeout.
func Eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	EventuallyWithin(t, WaitTimeout, what, cond)
}

// EventuallyWithin is Eventually with its own limit.
func EventuallyWithin(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), WaitInterval, timeout, true,
		func(context.Context) (bool, error) {
			ok, msg := cond()
			last = msg
			return ok, nil
		})
	if err != nil {
		t.Fatalf("Timed out after %v waiting for %s; last: %s", timeout, what, last)
	}
}

// Consistently checks cond for d, failing on the first time it does not hold.
func Consistently(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(WaitInterval) {
		if ok, msg := cond(); !ok {
			t.Fatalf("%s stopped holding: %s", what, msg)
		}
	}
}
