package plan

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// track runs the finalizer protocol (upstream trackJobStatusAndRemoveFinalizers; internal/plan/doc.go) for one status write: pods whose finalizer
// is gone move from the uncounted lists into the counters; newly finished pods are
// recorded (uncounted UIDs, or completed indexes) and their finalizers are released
// after the write; then the interim and, when everything is counted, the terminal
// condition are added.
func (p *pass) track() {
	oldSucceeded, oldFailed := p.in.Job.Status.Succeeded, p.in.Job.Status.Failed
	p.st.Ready = ptr.To(p.ready)
	p.st.Terminating = ptr.To(p.terminating)
	p.countRemovedFinalizers()
	newIx, capped := p.recordFinishedPods()
	p.addRecentFailures()
	if p.indexed {
		p.ix.succeeded = p.ix.succeeded.With(newIx...)
		p.st.Succeeded = int32(p.ix.succeeded.Total())
		p.st.CompletedIndexes = p.ix.succeeded.String()
		p.st.FailedIndexes = nil
		if p.ix.failed != nil {
			p.st.FailedIndexes = ptr.To(p.ix.failed.String())
		}
		p.res.PodsFinishedSucceeded = int32(max(p.ix.succeeded.Total()-p.ix.prevSucceeded.Total(), 0))
	} else {
		p.res.PodsFinishedSucceeded = max(p.st.Succeeded-oldSucceeded, 0)
	}
	p.res.PodsFinishedFailed = max(p.st.Failed-oldFailed, 0)
	p.res.MoreWork = p.res.MoreWork || capped
	p.addConditions(capped)
}

// countRemovedFinalizers moves uncounted UIDs whose pod is gone or no longer carries
// the finalizer into the counters. A pod whose removal is in flight still carries it
// in the cache and stays listed, so a failed removal can never lead to a double count.
func (p *pass) countRemovedFinalizers() {
	withFinalizer := sets.New[types.UID]()
	for _, pod := range p.in.Pods {
		if jobpod.HasFinalizer(pod) {
			withFinalizer.Insert(pod.UID)
		}
	}
	u := p.st.UncountedTerminatedPods
	var moved int
	u.Succeeded, moved = keepOnly(u.Succeeded, withFinalizer)
	p.st.Succeeded += int32(moved)
	u.Failed, moved = keepOnly(u.Failed, withFinalizer)
	p.st.Failed += int32(moved)
}

func keepOnly(uids []types.UID, keep sets.Set[types.UID]) ([]types.UID, int) {
	var out []types.UID
	for _, uid := range uids {
		if keep.Has(uid) {
			out = append(out, uid)
		}
	}
	return out, len(uids) - len(out)
}

// recordFinishedPods records finished pods and lists the finalizers to release. It
// returns the newly completed indexes and whether the per-pass cap stopped it.
func (p *pass) recordFinishedPods() (newIx []int, capped bool) {
	pods := p.in.Pods
	if p.indexed {
		// Record completed indexes in order.
		pods = slices.Clone(pods)
		slices.SortStableFunc(pods, func(a, b *corev1.Pod) int { return cmp.Compare(jobpod.Index(a), jobpod.Index(b)) })
	}
	u := p.st.UncountedTerminatedPods
	failing := p.decision != nil && p.decision.Type != v1alpha1.JobSuccessCriteriaMet
	for _, pod := range pods {
		if !p.tracked(pod) {
			continue
		}
		failed := p.isFailed(pod)
		if !p.canRemoveFinalizer(pod, failed) {
			continue
		}
		p.res.RemoveFinalizers = append(p.res.RemoveFinalizers, pod)
		switch {
		case pod.Status.Phase == corev1.PodSucceeded && !p.uncFail.Has(pod.UID):
			if p.indexed {
				if ix := jobpod.Index(pod); p.validIndex(pod) && !p.ix.prevSucceeded.Has(ix) {
					newIx = append(newIx, ix)
				}
			} else if !p.uncSucc.Has(pod.UID) {
				u.Succeeded = append(u.Succeeded, pod.UID)
			}
		case failed || failing:
			// When the job fails, every pod still running counts as failed. A pod already
			// recorded as succeeded stays so: its status may still turn Failed (the API
			// server allows it), and a UID in both lists is a status no write can store.
			if !p.uncFail.Has(pod.UID) && !p.uncSucc.Has(pod.UID) && (!p.indexed || p.validIndex(pod)) && p.countFailure(pod) {
				u.Failed = append(u.Failed, pod.UID)
				if failed {
					p.noteFailure(pod)
				}
			}
		}
		if len(newIx)+len(u.Succeeded)+len(u.Failed) >= maxUncountedPods || len(p.res.RemoveFinalizers) >= maxUncountedPods {
			return newIx, true
		}
	}
	return newIx, false
}

// countFailure applies the pod failure policy: Ignore drops the failure.
func (p *pass) countFailure(pod *corev1.Pod) bool {
	if p.job.Spec.PodFailurePolicy == nil {
		return true
	}
	m := p.match(pod)
	if m.Action != nil {
		if p.res.FailurePolicyActions == nil {
			p.res.FailurePolicyActions = map[v1alpha1.PodFailurePolicyAction]int32{}
		}
		p.res.FailurePolicyActions[*m.Action]++
	}
	return m.CountFailed
}

// canRemoveFinalizer: always when the job is being deleted or finishing, or the pod
// succeeded; for a failed pod unless it is its index's last failure awaiting a
// replacement; never for a pod still running.
func (p *pass) canRemoveFinalizer(pod *corev1.Pod, failed bool) bool {
	if p.job.DeletionTimestamp != nil || p.decision != nil || pod.Status.Phase == corev1.PodSucceeded {
		return true
	}
	if !failed {
		return false
	}
	if d, ok := p.ix.delayed[jobpod.Index(pod)]; ok && d.UID == pod.UID {
		return false
	}
	return true
}

// addConditions writes the interim condition of a finish decision, and the terminal one
// once nothing is uncounted or terminating and no pod of the job keeps the tracking
// finalizer: upstream's contract is that a job seen Complete or Failed has none left.
// When only this pass's releases stand in the way, afterRelease plans the write that
// follows them.
func (p *pass) addConditions(capped bool) {
	if p.decision == nil {
		return
	}
	if p.decision.Type == v1alpha1.JobSuccessCriteriaMet {
		if trueCondition(p.st, v1alpha1.JobSuccessCriteriaMet) == nil {
			p.st.Conditions = append(p.st.Conditions, *p.decision)
		}
	} else if !p.carried {
		p.st.Conditions = append(p.st.Conditions, *p.decision)
	}
	u := p.st.UncountedTerminatedPods
	if capped || len(u.Succeeded)+len(u.Failed) > 0 || p.terminating > 0 || p.anyFinalizer() {
		return
	}
	p.finish(p.st, &p.res)
	p.requeueAfter(ttlAfterFinishing(p.job, !p.res.Finished.Succeeded))
}

// finish adds the terminal condition of the decision to st, and records in res what
// follows from it: the finish and its events.
func (p *pass) finish(st *v1alpha1.BatchJobStatus, res *Result) {
	terminal := *p.decision
	terminal.LastProbeTime, terminal.LastTransitionTime = p.now, p.now
	terminal.Type = v1alpha1.JobFailed
	if p.decision.Type == v1alpha1.JobSuccessCriteriaMet {
		terminal.Type = v1alpha1.JobComplete
	}
	ensureCondition(st, terminal)
	res.Finished = &Finish{Succeeded: terminal.Type == v1alpha1.JobComplete, Reason: terminal.Reason}
	if terminal.Type != v1alpha1.JobComplete {
		res.addEvent(corev1.EventTypeWarning, terminal.Reason, terminal.Message)
		return
	}
	t := p.now
	st.CompletionTime = &t
	if c := p.job.Spec.Completions; c != nil && st.Succeeded > *c {
		res.addEvent(corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
	}
	res.addEvent(corev1.EventTypeNormal, "Completed", "Job completed")
}

// afterRelease plans the write that follows this pass's finalizer removals when they are
// all that keeps a decided job from its terminal condition: the released pods move from
// the uncounted lists into the counters and the job finishes, in the same pass, as
// upstream's flushUncountedAndRemoveFinalizers and enactJobFinished do in one sync. The
// controller makes it only if every removal succeeded. Releases that do not finish the
// job are counted by a later pass as before, folded into its write.
func (p *pass) afterRelease() *Result {
	if p.decision == nil || p.res.Finished != nil || p.res.MoreWork || len(p.res.RemoveFinalizers) == 0 ||
		len(p.res.Create) > 0 || len(p.res.Delete) > 0 || p.terminating > 0 {
		return nil
	}
	released := sets.New[types.UID]()
	for _, pod := range p.res.RemoveFinalizers {
		released.Insert(pod.UID)
	}
	for _, pod := range p.in.Pods {
		if jobpod.HasFinalizer(pod) && !released.Has(pod.UID) {
			return nil
		}
	}
	// Every UID still uncounted is a pod that keeps its finalizer (countRemovedFinalizers)
	// or one recorded in this pass, so all of them are being released.
	st := p.res.Status.DeepCopy()
	u := st.UncountedTerminatedPods
	rel := &Result{StatusChanged: true, Backoff: p.res.Backoff, PodsFinishedFailed: int32(len(u.Failed))}
	if !p.indexed {
		rel.PodsFinishedSucceeded = int32(len(u.Succeeded))
		st.Succeeded += rel.PodsFinishedSucceeded
	}
	st.Failed += rel.PodsFinishedFailed
	u.Succeeded, u.Failed = nil, nil
	p.finish(st, rel)
	p.setPrintFields(st)
	rel.Status = *st
	rel.RequeueAfter = ttlAfterFinishing(p.job, !rel.Finished.Succeeded)
	return rel
}

// anyFinalizer reports whether a pod of the job still carries the tracking finalizer
// (including pods whose removal is in flight).
func (p *pass) anyFinalizer() bool {
	return slices.ContainsFunc(p.in.Pods, jobpod.HasFinalizer)
}
