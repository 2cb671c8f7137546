package plan

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/backoff"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/podfailurepolicy"
)

// observation is what the pods of one pass show, before anything is decided. It is
// filled once, by observePods, and read by the phases after it.
type observation struct {
	active             []*corev1.Pod // pods not terminal and not being deleted
	ready, terminating int32
	// newSucceeded and newFailed finished since the last pass and are recorded nowhere
	// in status yet.
	newSucceeded, newFailed []*corev1.Pod
	// succeededPods and failed are the status counters plus the pods not counted in them
	// yet (failed: only those podFailurePolicy counts). Indexed jobs count succeeded
	// indexes instead (pass.succeededTotal).
	succeededPods, failed int32
}

// observePods counts active, ready and terminating pods and finds the pods that
// finished since the last pass and are not yet recorded anywhere in status.
func (p *pass) observePods() observation {
	var o observation
	for _, pod := range p.in.Pods {
		if jobpod.IsActive(pod) {
			o.active = append(o.active, pod)
			if jobpod.IsReady(pod) {
				o.ready++
			}
		}
		if jobpod.IsTerminating(pod) {
			o.terminating++
		}
		if !p.isNewlyFinishedCandidate(pod) {
			continue
		}
		if pod.Status.Phase == corev1.PodSucceeded {
			o.newSucceeded = append(o.newSucceeded, pod)
		} else if p.isFailed(pod) {
			o.newFailed = append(o.newFailed, pod)
		}
	}
	nonIgnored := int32(0)
	for _, pod := range o.newFailed {
		if p.match(pod).CountFailed {
			nonIgnored++
		}
	}
	o.succeededPods = p.st.Succeeded + int32(len(o.newSucceeded)) + int32(p.uncSucc.Len())
	o.failed = p.st.Failed + nonIgnored + int32(p.uncFail.Len())
	return o
}

// succeededTotal is what counts towards the target: succeeded indexes for an Indexed job
// (known once decideIndexed ran), succeeded pods otherwise.
func (p *pass) succeededTotal() int32 {
	if p.indexed {
		return int32(p.ix.succeeded.Total())
	}
	return p.obs.succeededPods
}

// isNewlyFinishedCandidate: the pod still has the finalizer, its removal is not in
// flight, it is in no uncounted list, and (Indexed) it has a valid index.
func (p *pass) isNewlyFinishedCandidate(pod *corev1.Pod) bool {
	if !p.tracked(pod) || p.uncSucc.Has(pod.UID) || p.uncFail.Has(pod.UID) {
		return false
	}
	return !p.indexed || p.validIndex(pod)
}

// tracked reports whether the pod carries the finalizer and no removal is in flight.
func (p *pass) tracked(pod *corev1.Pod) bool {
	return jobpod.HasFinalizer(pod) && !p.pending.Has(pod.UID)
}

func (p *pass) validIndex(pod *corev1.Pod) bool {
	ix := jobpod.Index(pod)
	return ix != jobpod.NoIndex && ix < p.completions
}

func (p *pass) isFailed(pod *corev1.Pod) bool { return jobpod.IsFailed(pod, p.onlyReplaceFailed) }

func (p *pass) match(pod *corev1.Pod) podfailurepolicy.Match {
	return podfailurepolicy.Evaluate(p.job.Spec.PodFailurePolicy, pod)
}

// backoffRecord folds the newly finished pods into the record kept from earlier passes,
// or rebuilds it from every finished pod after a controller restart.
func (p *pass) backoffRecord() backoff.Record {
	if p.in.Backoff == nil {
		var succeeded, failed []*corev1.Pod
		for _, pod := range p.in.Pods {
			if pod.Status.Phase == corev1.PodSucceeded {
				succeeded = append(succeeded, pod)
			} else if p.isFailed(pod) {
				failed = append(failed, pod)
			}
		}
		return backoff.Update(backoff.Record{}, succeeded, failed)
	}
	old := backoff.Record{FailuresAfterLastSuccess: p.in.Backoff.FailuresAfterLastSuccess}
	if p.in.Backoff.LastFailureTime != nil {
		t := *p.in.Backoff.LastFailureTime
		old.LastFailureTime = &t
	}
	return backoff.Update(old, p.obs.newSucceeded, p.obs.newFailed)
}

// keptBackoff is r as the controller keeps it once the status write succeeded.
func keptBackoff(r backoff.Record) *BackoffRecord {
	rec := &BackoffRecord{FailuresAfterLastSuccess: r.FailuresAfterLastSuccess}
	if r.LastFailureTime != nil {
		t := *r.LastFailureTime
		rec.LastFailureTime = &t
	}
	return rec
}

// requeueBackoff schedules a pass when a backoff delay runs out, and remembers that
// creation is waiting for it.
func (p *pass) requeueBackoff(d time.Duration) {
	if p.backoffWait == 0 || d < p.backoffWait {
		p.backoffWait = d
	}
	p.requeueAfter(max(d, minRequeue))
}

func (p *pass) backoffRemaining() time.Duration {
	return p.backoffPolicy().RemainingForRecord(p.backoff, p.in.Now)
}
