package framework

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// FastPodFailureBackoff is the pod re-creation backoff base the suites run with, as
// upstream's tests shorten DefaultJobPodFailureBackOff (job_test.go:80): outcomes are the
// production ones, without 10s waits. Tests of the backoff timing choose their own base.
const FastPodFailureBackoff = 100 * time.Millisecond

// RunSuite is a TestMain body: it starts the Env, runs setup (which may start a shared
// controller), runs the tests, and stops whatever was started. It returns the exit code.
func RunSuite(m *testing.M, setup func(*Env) error) int {
	e, err := StartEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		e.StopShared()
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	if setup != nil {
		if err := setup(e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// WithSharedController is a RunSuite setup for suites whose tests share one controller
// for all namespaces, with upstream's short pod failure backoff: it sets *env and starts
// the controller.
func WithSharedController(env **Env) func(*Env) error {
	return func(e *Env) error {
		*env = e
		return e.StartShared(ControllerOptions{PodFailureBackoff: FastPodFailureBackoff})
	}
}

// shared is the suite-wide controller of the suites that run one for all their tests.
type shared struct {
	mu   sync.Mutex
	opts ControllerOptions
	stop func()
}

// StartShared starts the suite-wide controller with opts (all namespaces unless opts
// narrows them). It is what StopShared stops and RestartShared restarts.
func (e *Env) StartShared(opts ControllerOptions) error {
	e.shared.mu.Lock()
	defer e.shared.mu.Unlock()
	if e.shared.stop != nil {
		return fmt.Errorf("the shared controller is already running")
	}
	stop, err := e.StartController(opts)
	if err != nil {
		return err
	}
	e.shared.opts, e.shared.stop = opts, stop
	return nil
}

// StopShared stops the suite-wide controller and waits until it stopped; harmless if
// it is not running.
func (e *Env) StopShared() {
	e.shared.mu.Lock()
	defer e.shared.mu.Unlock()
	if e.shared.stop != nil {
		e.shared.stop()
		e.shared.stop = nil
	}
}

// RestartShared plays a controller restart: the new manager starts with empty memory
// (expectations, backoff records) and a fresh cache, with the options it had.
func (e *Env) RestartShared(t testing.TB) {
	t.Helper()
	e.StopShared()
	e.ResumeShared(t)
}

// ResumeShared starts the suite-wide controller again, after StopShared, with the
// options it had.
func (e *Env) ResumeShared(t testing.TB) {
	t.Helper()
	if err := e.StartShared(e.shared.opts); err != nil {
		t.Fatalf("Starting the controller again: %v", err)
	}
}

// SwapShared runs the suite-wide controller with opts for the rest of the test, and with
// its previous options again afterwards.
func (e *Env) SwapShared(t testing.TB, opts ControllerOptions) {
	t.Helper()
	prev := e.shared.opts
	e.StopShared()
	if err := e.StartShared(opts); err != nil {
		t.Fatalf("Starting the controller: %v", err)
	}
	t.Cleanup(func() {
		e.StopShared()
		if err := e.StartShared(prev); err != nil {
			t.Errorf("Restoring the shared controller: %v", err)
		}
	})
}

// StartTestController starts a controller for this test only (narrow it with
// opts.Namespaces); it is stopped at cleanup, or earlier by the returned stop.
func (e *Env) StartTestController(t testing.TB, opts ControllerOptions) (stop func()) {
	t.Helper()
	stop, err := e.StartController(opts)
	if err != nil {
		t.Fatalf("Starting the controller: %v", err)
	}
	t.Cleanup(stop)
	return stop
}
