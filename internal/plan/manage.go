package plan

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/podbuilder"
)

// terminateActive deletes every active pod because the job is finishing. Their
// finalizers stay so the protocol counts them (as failed for a failure). Without
// satisfied expectations a pod may be missing from the cache, so the decision waits.
func (p *pass) terminateActive() {
	for _, pod := range p.capDeletions(p.active) {
		p.deletePod(pod, false)
	}
	if !p.in.ExpectationsSatisfied {
		p.decision, p.carried = nil, false
	}
}

func (p *pass) deletePod(pod *corev1.Pod, stripFirst bool) {
	p.res.Delete = append(p.res.Delete, Deletion{Pod: pod, StripFinalizerFirst: stripFirst})
	p.activeCount--
	p.terminating++
	if jobpod.IsReady(pod) {
		p.ready--
	}
}

// capDeletions keeps the first maxPodCreateDeletePerPass pods, as upstream deletes at
// most MaxPodCreateDeletePerSync per sync; the rest wait for the next pass.
func (p *pass) capDeletions(pods []*corev1.Pod) []*corev1.Pod {
	if len(pods) > maxPodCreateDeletePerPass {
		// With expectations unsatisfied some of these may be the last pass's deletions
		// not seen yet: the events that satisfy them bring the job back, not a requeue.
		p.res.MoreWork = p.in.ExpectationsSatisfied
		return pods[:maxPodCreateDeletePerPass]
	}
	return pods
}

// manage runs manageJob when the cache can be trusted and the job is not being deleted,
// then checks the completions rule and the Suspended condition.
func (p *pass) manage() {
	called := p.in.ExpectationsSatisfied && p.job.DeletionTimestamp == nil
	p.managed = called
	if called {
		p.manageJob()
	}
	if p.completionsReached() {
		p.succeed(v1alpha1.ReasonCompletionsReached, v1alpha1.MessageCompletionsReached)
		return
	}
	if called {
		p.updateSuspended()
	}
}

func (p *pass) completionsReached() bool {
	if p.job.Spec.Completions == nil {
		return p.succeededTotal() > 0 && p.activeCount == 0
	}
	return p.succeededTotal() >= p.target() && p.activeCount == 0
}

func (p *pass) updateSuspended() {
	if p.suspended() {
		c := newCondition(v1alpha1.JobSuspended, corev1.ConditionTrue, v1alpha1.ReasonJobSuspended, v1alpha1.MessageJobSuspended, p.now)
		if ensureCondition(p.st, c) {
			p.event(corev1.EventTypeNormal, "Suspended", v1alpha1.MessageJobSuspended)
			p.st.StartTime = nil
		}
		return
	}
	c := newCondition(v1alpha1.JobSuspended, corev1.ConditionFalse, v1alpha1.ReasonJobResumed, v1alpha1.MessageJobResumed, p.now)
	if ensureCondition(p.st, c) {
		p.event(corev1.EventTypeNormal, "Resumed", v1alpha1.MessageJobResumed)
		t := p.now
		p.st.StartTime = &t
	}
}

// manageJob deletes pods beyond what the job wants (all of them when suspended) or
// creates the missing ones; never both in one pass.
func (p *pass) manageJob() {
	if p.suspended() {
		for _, pod := range p.capDeletions(p.podsForRemoval(len(p.active))) {
			p.deletePod(pod, true)
		}
		return
	}
	if p.failUnstartedPods() {
		return
	}
	want := p.wantActive()
	victims := p.capDeletions(p.podsForRemoval(int(max(p.activeCount-want, 0))))
	for _, pod := range victims {
		p.deletePod(pod, true)
	}
	if len(victims) > 0 {
		return
	}
	held := int32(0)
	if p.onlyReplaceFailed {
		held = p.terminating
	}
	if diff := want - held - p.activeCount; diff > 0 {
		if diff > maxPodCreateDeletePerPass {
			p.res.MoreWork = true
		}
		p.create(int(min(diff, maxPodCreateDeletePerPass)))
	}
}

func (p *pass) wantActive() int32 {
	parallelism := *p.job.Spec.Parallelism
	if p.job.Spec.Completions == nil {
		// Work queue: once a pod succeeded, leave the rest running and add none.
		if p.succeededTotal() > 0 {
			return p.activeCount
		}
		return parallelism
	}
	return max(min(p.target()-p.succeededTotal(), parallelism), 0)
}

// create builds n pods, subject to the job-wide backoff (or the per-index one).
func (p *pass) create(n int) {
	if !p.hasBackoffLimitPerIndex() {
		if left := p.backoffRemaining(); left > 0 {
			p.requeueBackoff(left)
			return
		}
	}
	if !p.indexed {
		pods := make([]*corev1.Pod, 0, n)
		for range n {
			pod := podbuilder.Build(p.job, podbuilder.NoIndex, nil)
			p.avoidFailedNodes(pod, podbuilder.NoIndex)
			p.increaseMemory(pod, podbuilder.NoIndex)
			pods = append(pods, pod)
		}
		p.addCreations(pods)
		return
	}
	ixs := p.pendingIndexes(n)
	if p.hasBackoffLimitPerIndex() {
		ready, wait := p.readyToCreate(ixs)
		ixs = ready
		if wait > 0 {
			p.requeueBackoff(wait)
		}
	}
	pods := make([]*corev1.Pod, 0, len(ixs))
	for _, ix := range ixs {
		var counts *podbuilder.FailureCounts
		if p.hasBackoffLimitPerIndex() {
			counts = p.failureCounts(ix)
		}
		pod := podbuilder.Build(p.job, ix, counts)
		p.avoidFailedNodes(pod, ix)
		p.increaseMemory(pod, ix)
		pods = append(pods, pod)
	}
	p.addCreations(pods)
}

// addCreations plans pods for creation unless the job's selector would not select them:
// such pods would be released as soon as they are seen and replaced without end. The
// API server rejects a selector that does not select the template; a cluster without
// the admission policies, or a selector it accepts but cannot be parsed, gets a Warning
// event instead and no pod. Nothing requeues the job: an update of it brings it back.
func (p *pass) addCreations(pods []*corev1.Pod) {
	if msg := p.selectorProblem(pods); msg != "" {
		p.event(corev1.EventTypeWarning, v1alpha1.ReasonInvalidSelector, msg)
		return
	}
	p.res.Create = append(p.res.Create, pods...)
	p.activeCount += int32(len(pods))
}

// selectorProblem says why the job's selector does not select one of pods, or "" when it
// selects them all. The selector is parsed once per call, not per pod.
func (p *pass) selectorProblem(pods []*corev1.Pod) string {
	if p.job.Spec.Selector == nil {
		return "" // the controller writes the generated selector before the first plan
	}
	sel, err := metav1.LabelSelectorAsSelector(p.job.Spec.Selector)
	if err != nil {
		return fmt.Sprintf("Not creating pods: spec.selector is invalid: %v", err)
	}
	for _, pod := range pods {
		if sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			return fmt.Sprintf("Not creating pods: spec.selector %q does not select the pods' labels %q",
				sel.String(), labels.Set(pod.Labels).String())
		}
	}
	return ""
}
