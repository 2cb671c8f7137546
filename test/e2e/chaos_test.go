package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batchjob-dev/batchjob/test/chaos"
)

// TestChaos is the two-minute version of `make chaos` (test/chaos): on its own kwokctl
// cluster (not the suite's), a few hundred pods of every job kind while the controller is
// SIGKILLed at random moments ten times, kube-apiserver is restarted once, one leader of
// two replicas is killed, and pods are deleted by hand; the independent checker must
// report no violation. `go run ./test/chaos/cmd/chaos -short` runs the same on its own.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run skipped with -short")
	}
	cfg := chaos.ShortConfig(root)
	cfg.Command = "go test -count=1 -run TestChaos ./test/e2e/..."
	cfg.Log = &lineLogger{t: t}
	start := time.Now()
	r, err := chaos.Run(context.Background(), cfg)
	cfg.Log.(*lineLogger).close()
	if r != nil {
		t.Logf("chaos report (%v):\n%s", time.Since(start).Round(time.Second), r.Markdown())
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.ControllerKills != cfg.Kills || r.LeaderKills != cfg.LeaderKills {
		t.Errorf("%d controller kills and %d leader kills, want %d and %d", r.ControllerKills, r.LeaderKills, cfg.Kills, cfg.LeaderKills)
	}
	if !r.Settled {
		t.Errorf("the workload did not settle within %v", cfg.SettleTimeout)
	}
	for _, v := range r.Violations {
		t.Errorf("%s: %s: %s (%s)", v.Invariant, v.Job, v.Detail, v.Evidence)
	}
	if len(r.Failovers) != cfg.LeaderKills {
		t.Errorf("%d failovers measured, want %d", len(r.Failovers), cfg.LeaderKills)
	}
	// The failover figure (target: p99 under 20 s) is measured and reported by the full run
	// (make chaos, test/chaos/RESULTS.md); here only that a standby takes over at all,
	// bounded generously, so a loaded CI machine cannot turn a timing into a failure.
	if p := r.FailoverP(0.99); p >= time.Minute {
		t.Errorf("leader failover took %v: the standby did not take over", p)
	} else {
		t.Logf("leader failover p99 %v", p)
	}
}

// lineLogger passes the chaos timeline to t.Log line by line while the test runs.
type lineLogger struct {
	mu     sync.Mutex
	t      *testing.T
	closed bool
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *lineLogger) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}
