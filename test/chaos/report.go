package chaos

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Timeline is the run's log of chaos actions, with times since the start.
type Timeline struct {
	start time.Time
	mu    sync.Mutex
	lines []string
	echo  io.Writer
}

func newTimeline(echo io.Writer) *Timeline { return &Timeline{start: time.Now(), echo: echo} }

func (t *Timeline) add(format string, args ...any) {
	line := fmt.Sprintf("%8.3fs ", time.Since(t.start).Seconds()) + fmt.Sprintf(format, args...)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if t.echo != nil {
		fmt.Fprintln(t.echo, "chaos: "+line)
	}
}

func (t *Timeline) write(path string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return os.WriteFile(path, []byte(strings.Join(t.lines, "\n")+"\n"), 0o644)
}

// The invariants the checker reports, in report order.
const (
	InvActiveAboveParallelism = "active pods above parallelism"
	InvTerminalCondition      = "job did not reach its terminal condition"
	InvSucceededCount         = "status.succeeded vs pods that succeeded"
	InvFailedCount            = "status.failed vs pods that failed"
	InvIndexTwice             = "index completed twice"
	InvIndexMissing           = "completedIndexes wrong or index missing"
	InvFailedIndexes          = "failedIndexes wrong"
	InvUncounted              = "uncountedTerminatedPods left"
	InvFinalizerLeft          = "pods left with the tracking finalizer"
	InvFinalizerAtTerminal    = "terminal condition while a pod kept the finalizer"
	InvPodAfterFinish         = "pod created after the job finished"
	InvPodsActiveAtEnd        = "pods still active after the job finished"
	InvTTL                    = "finished job with TTL not deleted"
	InvFailover               = "leader failover did not complete"
)

var invariants = []string{
	InvActiveAboveParallelism, InvTerminalCondition, InvSucceededCount, InvFailedCount,
	InvIndexTwice, InvIndexMissing, InvFailedIndexes, InvUncounted, InvFinalizerLeft,
	InvFinalizerAtTerminal, InvPodAfterFinish, InvPodsActiveAtEnd, InvTTL, InvFailover,
}

// Violation is one broken invariant with its evidence.
type Violation struct {
	Invariant string
	Job       string
	Detail    string
	Evidence  string // path of the job's timeline file, if written
}

// Report is the outcome of a run.
type Report struct {
	Command           string
	Started           time.Time
	Duration          time.Duration
	Jobs              int
	Pods              int
	ControllerKills   int
	ControllerStarts  int
	UnexpectedExits   int
	LeaderKills       int
	APIServerRestarts int
	APIDowntime       []time.Duration
	ComponentRestarts []string // control-plane components that died and were started again
	PodsDeletedByHand int
	Suspends, Resumes int
	ScaleUps          int
	ScaleDowns        int
	SteerSkipped      int
	Failovers         []time.Duration // leader killed → first write by the new leader
	LeaseAcquired     []time.Duration // leader killed → Lease held by another replica
	ControllerWrites  int
	JobsByOutcome     map[string]int
	Unverifiable      int // jobs removed during a watch gap, whose end the checker could not see
	Violations        []Violation
	Settled           bool
	LogDir            string
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// Nearest rank.
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// FailoverP returns the failover time at percentile p (0..1).
func (r *Report) FailoverP(p float64) time.Duration { return percentile(r.Failovers, p) }

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Command: `%s`\n\n", r.Command)
	fmt.Fprintf(&b, "Started %s, ran %s; settled: %v. Logs and evidence: `%s`.\n\n", r.Started.UTC().Format(time.RFC3339), r.Duration.Round(time.Second), r.Settled, r.LogDir)
	b.WriteString("| figure | value |\n|---|---|\n")
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	row("BatchJobs", r.Jobs)
	row("pods (created by the controller, seen by the checker)", r.Pods)
	row("controller SIGKILLs at random moments (single replica)", r.ControllerKills)
	row("leader SIGKILLs (two replicas, leader election)", r.LeaderKills)
	row("controller process starts", r.ControllerStarts)
	row("controller exits we did not cause", r.UnexpectedExits)
	row("kube-apiserver restarts (API unavailable)", fmt.Sprintf("%d (%s)", r.APIServerRestarts, durations(r.APIDowntime)))
	row("control-plane components restarted after they exited (leader Lease lost while kube-apiserver was down)", strings.Join(r.ComponentRestarts, ", "))
	row("pods deleted by hand", r.PodsDeletedByHand)
	row("suspends / resumes", fmt.Sprintf("%d / %d", r.Suspends, r.Resumes))
	row("elastic scale-ups / scale-downs", fmt.Sprintf("%d / %d", r.ScaleUps, r.ScaleDowns))
	row("suspend/scale steps skipped (job finished first)", r.SteerSkipped)
	row("controller writes seen", r.ControllerWrites)
	row("leader failover p50 / p99 / max (kill → first write by the new leader)",
		fmt.Sprintf("%s / %s / %s (%s)", r.FailoverP(0.5).Round(time.Millisecond), r.FailoverP(0.99).Round(time.Millisecond),
			percentile(r.Failovers, 1).Round(time.Millisecond), durations(r.Failovers)))
	row("kill → Lease held by another replica", durations(r.LeaseAcquired))
	keys := make([]string, 0, len(r.JobsByOutcome))
	for k := range r.JobsByOutcome {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var outcomes []string
	for _, k := range keys {
		outcomes = append(outcomes, fmt.Sprintf("%s %d", k, r.JobsByOutcome[k]))
	}
	row("jobs by kind and final condition", strings.Join(outcomes, ", "))
	row("jobs removed during a watch gap (not verifiable)", r.Unverifiable)
	b.WriteString("\n| invariant | violations |\n|---|---|\n")
	for _, inv := range invariants {
		n := 0
		for _, v := range r.Violations {
			if v.Invariant == inv {
				n++
			}
		}
		fmt.Fprintf(&b, "| %s | %d |\n", inv, n)
	}
	if len(r.Violations) > 0 {
		b.WriteString("\nViolations:\n\n")
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "- **%s** `%s`: %s", v.Invariant, v.Job, v.Detail)
			if v.Evidence != "" {
				fmt.Fprintf(&b, " (timeline: `%s`)", v.Evidence)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func durations(ds []time.Duration) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Round(100*time.Millisecond).String())
	}
	return strings.Join(s, ", ")
}
