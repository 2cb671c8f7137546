package util

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// Eventually polls cond every interval until it holds, and fails the test once timeout has
// passed; last describes the state seen last, for the failure message.
func Eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() (ok bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(interval)
	}
}

// ErrExited is returned by WaitReady when the process it waits for exits first.
var ErrExited = errors.New("the process exited before it was ready")

// WaitReady polls url (a local readiness probe) until it answers 200 OK, the process whose
// exit closes exited is gone (ErrExited), or timeout passes.
func WaitReady(url string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url) //nolint:gosec,noctx // a local probe with a deadline loop
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return ErrExited
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 OK within %v", url, timeout)
		}
	}
}

// Terminate stops a process the tests started, by its PID: SIGTERM, then SIGKILL after
// grace; exited is closed when the process has been waited for.
func Terminate(p *os.Process, exited <-chan struct{}, grace time.Duration) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = p.Kill()
		<-exited
	}
}
