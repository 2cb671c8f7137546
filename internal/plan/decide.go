package plan

import (
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/backoff"
	"github.com/batchjob-dev/batchjob/internal/indexset"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/successpolicy"
)

// decide evaluates the finish criteria in upstream's order (Controller.syncJob): an existing
// SuccessCriteriaMet, an existing FailureTarget, a FailJob rule, backoffLimit, the
// active deadline, then (Indexed) failed indexes and the success policy. The
// completions rule is checked later, after manage ran.
func (p *pass) decide() {
	if c := trueCondition(p.st, v1alpha1.JobSuccessCriteriaMet); c != nil {
		p.carry(c)
	} else if c := trueCondition(p.st, v1alpha1.JobFailureTarget); c != nil {
		p.carry(c)
	} else if msg, ok := p.failJobMessage(); ok {
		p.fail(v1alpha1.ReasonPodFailurePolicy, msg)
	}
	if p.decision == nil {
		p.decideLimits()
	}
	if p.indexed {
		p.ix = p.indexStateOf()
		p.decideIndexed()
	}
}

func (p *pass) carry(c *v1alpha1.JobCondition) {
	cc := *c
	p.decision, p.carried = &cc, true
}

func (p *pass) fail(reason, msg string) {
	c := newCondition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, reason, msg, p.now)
	p.decision = &c
}

func (p *pass) succeed(reason, msg string) {
	c := newCondition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, reason, msg, p.now)
	p.decision = &c
}

// failJobMessage scans every failed pod, counted or not, for a FailJob rule.
func (p *pass) failJobMessage() (string, bool) {
	if p.job.Spec.PodFailurePolicy == nil {
		return "", false
	}
	for _, pod := range p.in.Pods {
		if p.isFailed(pod) {
			if m := p.match(pod); m.FailJobMessage != "" {
				return m.FailJobMessage, true
			}
		}
	}
	return "", false
}

func (p *pass) decideLimits() {
	spec := &p.job.Spec
	switch {
	case p.obs.failed > *spec.BackoffLimit:
		p.fail(v1alpha1.ReasonBackoffLimitExceeded, v1alpha1.MessageBackoffLimitExceeded+p.lastFailureDetail())
	case p.pastBackoffLimitOnFailure():
		p.fail(v1alpha1.ReasonBackoffLimitExceeded, v1alpha1.MessageBackoffLimitExceeded+p.restartDetail())
	case p.pastActiveDeadline():
		p.fail(v1alpha1.ReasonDeadlineExceeded, v1alpha1.MessageDeadlineExceeded+p.lastFailureDetail())
	case spec.ActiveDeadlineSeconds != nil && !p.suspended():
		p.requeueAfter(p.deadlineLeft())
	}
}

// pastBackoffLimitOnFailure sums the container restarts of running and pending pods
// when the kubelet restarts failed containers in place (restartPolicy OnFailure).
func (p *pass) pastBackoffLimitOnFailure() bool {
	if p.job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	restarts := int64(0)
	for _, pod := range p.in.Pods {
		if pod.Status.Phase == corev1.PodRunning || pod.Status.Phase == corev1.PodPending {
			for _, cs := range pod.Status.InitContainerStatuses {
				restarts += int64(cs.RestartCount)
			}
			for _, cs := range pod.Status.ContainerStatuses {
				restarts += int64(cs.RestartCount)
			}
		}
	}
	if limit := int64(*p.job.Spec.BackoffLimit); limit > 0 {
		return restarts >= limit
	}
	return restarts > 0
}

func (p *pass) deadlineLeft() time.Duration {
	if p.st.StartTime == nil {
		return 0
	}
	return seconds(*p.job.Spec.ActiveDeadlineSeconds) - p.in.Now.Sub(p.st.StartTime.Time)
}

// seconds converts a count of seconds to a Duration, saturating at the largest Duration
// (about 292 years) instead of overflowing into the past: a huge activeDeadlineSeconds
// is a deadline that never comes, never an instant DeadlineExceeded.
func seconds(s int64) time.Duration {
	if s > int64(math.MaxInt64/time.Second) {
		return math.MaxInt64
	}
	return time.Duration(s) * time.Second
}

func (p *pass) pastActiveDeadline() bool {
	if p.job.Spec.ActiveDeadlineSeconds == nil || p.st.StartTime == nil || p.suspended() {
		return false
	}
	return p.deadlineLeft() <= 0
}

// indexState is what the pods and status of an Indexed job show about its indexes.
type indexState struct {
	// prevSucceeded are the indexes status records as succeeded; succeeded adds those whose
	// pods succeeded since (and, after track, those counted in this pass).
	prevSucceeded, succeeded indexset.Set
	failed                   *indexset.Set       // non-nil iff backoffLimitPerIndex
	delayed                  map[int]*corev1.Pod // last failed pod per index, kept until replaced
}

// indexStateOf computes the succeeded and failed index sets.
func (p *pass) indexStateOf() indexState {
	var ix indexState
	ix.prevSucceeded, ix.succeeded = p.succeededIndexes()
	if p.hasBackoffLimitPerIndex() {
		failed := p.failedIndexes()
		ix.failed = &failed
		ix.delayed = p.podsWithDelayedRemoval(ix.succeeded, failed)
	}
	return ix
}

// decideIndexed makes the index-based decisions over p.ix: too many failed indexes,
// every index finished with some failed, and the success policy.
func (p *pass) decideIndexed() {
	if f := p.ix.failed; f != nil && p.decision == nil {
		spec := &p.job.Spec
		switch n := f.Total(); {
		case spec.MaxFailedIndexes != nil && n > int(*spec.MaxFailedIndexes):
			p.fail(v1alpha1.ReasonMaxFailedIndexesExceeded, v1alpha1.MessageMaxFailedIndexesExceeded)
		case n > 0 && n+p.ix.succeeded.Total() >= int(p.target()):
			p.fail(v1alpha1.ReasonFailedIndexes, v1alpha1.MessageFailedIndexes)
		}
	}
	if p.decision == nil {
		if msg, ok := successpolicy.Match(p.job.Spec.SuccessPolicy, int32(p.completions), p.ix.succeeded); ok {
			p.succeed(v1alpha1.ReasonSuccessPolicy, msg)
		}
	}
}

// maxDetailMessage bounds the termination message quoted in a failure condition.
const maxDetailMessage = 256

// lastFailureDetail says which pod failed last and how, appended to upstream's message
// so `kubectl describe` answers "why" without digging through pods.
func (p *pass) lastFailureDetail() string {
	var last *corev1.Pod
	var lastAt time.Time
	for _, pod := range p.in.Pods {
		if !p.isFailed(pod) {
			continue
		}
		at := backoff.FinishTime(pod)
		if last == nil || at.After(lastAt) || (at.Equal(lastAt) && pod.Name > last.Name) {
			last, lastAt = pod, at
		}
	}
	if last == nil {
		return ""
	}
	s := ": last failed pod " + last.Name
	if c := startupCondition(last); c != nil {
		s += fmt.Sprintf(" did not start: %s: %s", c.Reason, truncate(c.Message))
	} else if name, term := failedContainer(last); term != nil {
		s += fmt.Sprintf(", container %s exited with code %d", name, term.ExitCode)
		if term.Message != "" {
			s += ": " + truncate(term.Message)
		}
	} else if last.Status.Reason != "" {
		s += ": " + last.Status.Reason
		if last.Status.Message != "" {
			s += ": " + truncate(last.Status.Message)
		}
	}
	return s
}

// failedContainer is the first container, then init container, that exited non-zero.
func failedContainer(pod *corev1.Pod) (string, *corev1.ContainerStateTerminated) {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for _, cs := range list {
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				return cs.Name, t
			}
		}
	}
	return "", nil
}

// restartDetail names the most restarted container for restartPolicy OnFailure.
func (p *pass) restartDetail() string {
	var pod *corev1.Pod
	var best corev1.ContainerStatus
	for _, candidate := range p.in.Pods {
		if !jobpod.IsActive(candidate) {
			continue
		}
		for _, cs := range append(append([]corev1.ContainerStatus{}, candidate.Status.ContainerStatuses...), candidate.Status.InitContainerStatuses...) {
			if cs.RestartCount > best.RestartCount {
				pod, best = candidate, cs
			}
		}
	}
	if pod == nil {
		return ""
	}
	s := fmt.Sprintf(": pod %s, container %s restarted %d times", pod.Name, best.Name, best.RestartCount)
	if t := best.LastTerminationState.Terminated; t != nil {
		s += fmt.Sprintf(", last exited with code %d", t.ExitCode)
		if t.Message != "" {
			s += ": " + truncate(t.Message)
		}
	}
	return s
}

func truncate(s string) string {
	r := []rune(s)
	if len(r) <= maxDetailMessage {
		return s
	}
	return string(r[:maxDetailMessage]) + "..."
}
