package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// margin is how long before a job's finishing condition a pod's end may have gone unseen
// by the controller when it decided to finish the job (its cache lags the API a little).
const margin = 3 * time.Second

// podClasses is what each pod of a job should have counted as, from what the checker saw.
//
//   - S: succeeded, must be counted as a success.
//   - F: ended without success while tracked by the finalizer and matched by no Ignore
//     rule: must be counted as a failure (a failed pod, a pod deleted by hand while it
//     ran, a pod killed because the job failed).
//   - I: failed with an exit code of an Ignore rule: must not be counted.
//   - X: must not be counted: released uncounted by the controller (its finalizer removed
//     while it still ran: suspend and scale-down deletions), or an index no longer in
//     range after an elastic scale-down.
//   - A: ambiguous, may be counted either way: a pod deleted by hand while running that
//     still succeeded (or was seen Succeeded and then Failed), a pod whose end came with the job's finish (within margin), a
//     pod removed while the checker's watch was down, a failed pod of an index beyond an
//     elastic scale-down.
type podClasses struct {
	S, F, I, X, A, Asucc int
	succByIndex          map[int][]string // S pods per index
	ambigIndex           map[int]bool     // indexes with an ambiguous succeeded pod
}

// decidedCompletions is the completions the job finished with (see finishCompletions), or
// its last spec's while it has not finished.
func (j *jobRec) decidedCompletions() int {
	if j.finishCompletions != nil {
		return int(*j.finishCompletions)
	}
	return int(ptr.Deref(j.last.Spec.Completions, 1))
}

func (ck *Checker) classify(j *jobRec) podClasses {
	last := j.last
	isIdx := ptr.Deref(last.Spec.CompletionMode, v1alpha1.NonIndexedCompletion) == v1alpha1.IndexedCompletion
	completions := j.decidedCompletions()
	failedJob := hasCondition(last, v1alpha1.JobFailed) || hasCondition(last, v1alpha1.JobFailureTarget)
	c := podClasses{succByIndex: map[int][]string{}, ambigIndex: map[int]bool{}}
	endedWithFinish := func(p *podRec) bool {
		return !j.finishAt.IsZero() && (p.endAt.IsZero() || p.endAt.After(j.finishAt.Add(-margin)))
	}
	for _, p := range j.pods {
		outOfRange := isIdx && (p.index < 0 || p.index >= completions)
		switch {
		case p.stripped:
			c.X++
		case p.goneUnknown && !p.terminal():
			c.A++
		case p.phase == corev1.PodSucceeded && outOfRange:
			c.X++
		case p.everSucceeded && p.phase != corev1.PodSucceeded && !outOfRange:
			c.Asucc++ // Succeeded, then Failed: either count is right
			c.ambigIndex[p.index] = true
		case p.phase == corev1.PodSucceeded && (p.deletedRunning || failedJob && endedWithFinish(p)):
			c.Asucc++
			c.ambigIndex[p.index] = true
		case p.phase == corev1.PodSucceeded:
			c.S++
			c.succByIndex[p.index] = append(c.succByIndex[p.index], p.name)
		case outOfRange:
			c.A++
		case p.phase == corev1.PodFailed && p.codesRewritten:
			c.A++ // failed with one exit code, then rewritten: either judgement is right
		case p.phase == corev1.PodFailed && j.spec != nil && slices.ContainsFunc(p.exitCodes, func(x int32) bool { return slices.Contains(j.spec.ignoreExitCodes, x) }):
			if endedWithFinish(p) {
				c.A++
			} else {
				c.I++
			}
		case !failedJob && endedWithFinish(p):
			c.A++
		case !p.terminal() && !p.deleting && !p.gone:
			c.A++ // still active: reported on its own
		default:
			c.F++
		}
	}
	return c
}

func hasCondition(b *v1alpha1.BatchJob, t v1alpha1.JobConditionType) bool {
	for _, c := range b.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// parseIndexes parses an interval string such as "1,3-5".
func parseIndexes(s string) (map[int]bool, error) {
	out := map[int]bool{}
	if s == "" {
		return out, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad interval %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad interval %q", s)
			}
		}
		for i := a; i <= b; i++ {
			if out[i] {
				return nil, fmt.Errorf("index %d twice in %q", i, s)
			}
			out[i] = true
		}
	}
	return out, nil
}

// verify checks every registered job once the run has settled. Jobs with violations get
// their timeline written to evidenceDir.
func (ck *Checker) verify(evidenceDir string) (vs []Violation, outcomes map[string]int, unverifiable int) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	outcomes = map[string]int{}
	names := make([]string, 0, len(ck.byName))
	for n := range ck.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		j := ck.byName[name]
		if j.spec == nil {
			continue
		}
		if j.last == nil || j.goneUnknown && j.terminalAt.IsZero() {
			unverifiable++
			continue
		}
		jv := ck.verifyJob(j, outcomes)
		if len(jv) > 0 {
			path := filepath.Join(evidenceDir, name+".txt")
			if err := os.WriteFile(path, []byte(strings.Join(j.timeline, "\n")+"\n"), 0o644); err == nil {
				for i := range jv {
					jv[i].Evidence = path
				}
			}
			vs = append(vs, jv...)
		}
	}
	// Pods with the finalizer of jobs the driver did not create (the others are above).
	var left []string
	for _, p := range ck.pods {
		if j := ck.jobs[p.jobUID]; p.hasFinalizer && !p.gone && (j == nil || j.spec == nil) {
			left = append(left, p.name)
		}
	}
	if len(left) > 0 {
		slices.Sort(left)
		vs = append(vs, Violation{Invariant: InvFinalizerLeft, Job: "(all)", Detail: fmt.Sprintf("%d pods: %v", len(left), left)})
	}
	return vs, outcomes, unverifiable
}

func (ck *Checker) verifyJob(j *jobRec, outcomes map[string]int) []Violation {
	var vs []Violation
	add := func(inv, format string, args ...any) {
		vs = append(vs, Violation{Invariant: inv, Job: j.name, Detail: fmt.Sprintf(format, args...)})
	}
	last, spec := j.last, j.spec
	st := last.Status
	complete, failed := hasCondition(last, v1alpha1.JobComplete), hasCondition(last, v1alpha1.JobFailed)
	outcome := "unfinished"
	if complete {
		outcome = "Complete"
	} else if failed {
		outcome = "Failed"
	}
	outcomes[spec.kind+" "+outcome]++
	if j.overLimit > 0 {
		add(InvActiveAboveParallelism, "%d observations, first %s", j.overLimit, j.overFirst)
	}
	found, reason := false, ""
	for _, c := range st.Conditions {
		if c.Type == spec.wantType && c.Status == corev1.ConditionTrue {
			found, reason = true, c.Reason
		}
	}
	if !found || spec.wantReason != "" && reason != spec.wantReason {
		add(InvTerminalCondition, "want %s %s, have conditions %s (active %d, succeeded %d, failed %d)",
			spec.wantType, spec.wantReason, condString(st.Conditions), st.Active, st.Succeeded, st.Failed)
	}
	if spec.ttl && (complete || failed) && j.deletedAt.IsZero() {
		add(InvTTL, "finished %.0fs before the end, still present", time.Since(j.terminalAt).Seconds())
	}
	if u := uncountedLen(st.UncountedTerminatedPods); u != [2]int{} {
		add(InvUncounted, "uncountedTerminatedPods has %d succeeded and %d failed UIDs at the end", u[0], u[1])
	}
	vs = append(vs, ck.verifyPods(j)...)
	c := ck.classify(j)
	counts := fmt.Sprintf("pods: S=%d F=%d ignored=%d uncounted=%d ambiguous=%d ambiguous-succeeded=%d", c.S, c.F, c.I, c.X, c.A, c.Asucc)
	isIdx := ptr.Deref(last.Spec.CompletionMode, v1alpha1.NonIndexedCompletion) == v1alpha1.IndexedCompletion
	completions := j.decidedCompletions()
	if int(st.Failed) < c.F || int(st.Failed) > c.F+c.A+c.Asucc {
		add(InvFailedCount, "status.failed=%d, want %d..%d; %s", st.Failed, c.F, c.F+c.A+c.Asucc, counts)
	}
	if !isIdx {
		if int(st.Succeeded) < c.S || int(st.Succeeded) > c.S+c.Asucc {
			add(InvSucceededCount, "status.succeeded=%d, want %d..%d; %s", st.Succeeded, c.S, c.S+c.Asucc, counts)
		}
		if complete && int(st.Succeeded) != completions {
			add(InvSucceededCount, "Complete with status.succeeded=%d, completions %d; %s", st.Succeeded, completions, counts)
		}
		return vs
	}
	ci, err := parseIndexes(st.CompletedIndexes)
	if err != nil {
		add(InvIndexMissing, "completedIndexes: %v", err)
		return vs
	}
	for ix, pods := range c.succByIndex {
		if len(pods) > 1 {
			slices.Sort(pods)
			add(InvIndexTwice, "index %d succeeded in %d pods: %v", ix, len(pods), pods)
		}
		if !ci[ix] {
			add(InvIndexMissing, "index %d succeeded (%v) but is not in completedIndexes %q", ix, pods, st.CompletedIndexes)
		}
	}
	for ix := range ci {
		if ix >= completions || len(c.succByIndex[ix]) == 0 && !c.ambigIndex[ix] {
			add(InvIndexMissing, "index %d in completedIndexes %q without a succeeded pod (completions %d)", ix, st.CompletedIndexes, completions)
		}
	}
	if complete {
		for ix := range completions {
			if !ci[ix] {
				add(InvIndexMissing, "Complete but index %d missing from completedIndexes %q", ix, st.CompletedIndexes)
			}
		}
	}
	if int(st.Succeeded) != len(ci) {
		add(InvSucceededCount, "status.succeeded=%d but completedIndexes %q has %d; %s", st.Succeeded, st.CompletedIndexes, len(ci), counts)
	}
	fi, err := parseIndexes(ptr.Deref(st.FailedIndexes, ""))
	if err != nil {
		add(InvFailedIndexes, "failedIndexes: %v", err)
		return vs
	}
	for ix := range fi {
		if ci[ix] || ix >= completions {
			add(InvFailedIndexes, "index %d in failedIndexes %q and completedIndexes %q (completions %d)", ix, ptr.Deref(st.FailedIndexes, ""), st.CompletedIndexes, completions)
		}
	}
	if spec.allFailedIndexes && len(fi) != completions {
		add(InvFailedIndexes, "every index fails, but failedIndexes is %q", ptr.Deref(st.FailedIndexes, ""))
	}
	return vs
}

// verifyPods checks the job's pods against its terminal condition: none created after
// it, none still active, none holding the finalizer when it was written or at the end.
func (ck *Checker) verifyPods(j *jobRec) []Violation {
	var vs []Violation
	var after, active, heldAtTerminal, left []string
	for _, p := range j.pods {
		if j.terminalRV > 0 && p.createdRV > j.terminalRV {
			after = append(after, p.name)
		}
		if !j.terminalAt.IsZero() && !p.terminal() && !p.deleting && !p.gone {
			active = append(active, p.name)
		}
		if j.terminalRV > 0 && p.createdRV < j.terminalRV && !p.goneUnknown &&
			(p.finalizerGoneRV > j.terminalRV || p.finalizerGoneRV == 0 && p.hasFinalizer) {
			heldAtTerminal = append(heldAtTerminal, fmt.Sprintf("%s (removed %.3fs after)", p.name, p.finalizerGoneAt.Sub(j.terminalAt).Seconds()))
		}
		if p.hasFinalizer && !p.gone {
			left = append(left, p.name)
		}
	}
	add := func(inv string, pods []string) {
		if len(pods) > 0 {
			slices.Sort(pods)
			vs = append(vs, Violation{Invariant: inv, Job: j.name, Detail: fmt.Sprintf("%d pods: %v", len(pods), pods)})
		}
	}
	add(InvPodAfterFinish, after)
	add(InvPodsActiveAtEnd, active)
	add(InvFinalizerAtTerminal, heldAtTerminal)
	add(InvFinalizerLeft, left)
	return vs
}
