package plan

import (
	"cmp"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/backoff"
	"github.com/batchjob-dev/batchjob/internal/indexset"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/podbuilder"
)

// succeededIndexes returns the completed indexes stored in status (clipped to the
// current completions, so a scale-down forgets the ones beyond) and that set plus the
// indexes of succeeded pods still holding the finalizer.
func (p *pass) succeededIndexes() (prev, all indexset.Set) {
	prev = indexset.Parse(p.st.CompletedIndexes, p.completions)
	var fresh []int
	for _, pod := range p.in.Pods {
		if pod.Status.Phase == corev1.PodSucceeded && p.validIndex(pod) && jobpod.HasFinalizer(pod) {
			fresh = append(fresh, jobpod.Index(pod))
		}
	}
	return prev, prev.With(fresh...)
}

// failedIndexes is status.failedIndexes plus the indexes failed by pods not yet counted.
// A pod whose finalizer removal is in flight was already processed: when the job fails,
// the pods it kills are counted as failed, yet (as upstream, where their finalizers are
// gone by the next sync) they must not mark their indexes failed on a later pass.
func (p *pass) failedIndexes() indexset.Set {
	var prev indexset.Set
	if p.st.FailedIndexes != nil {
		prev = indexset.Parse(*p.st.FailedIndexes, p.completions)
	}
	var fresh []int
	for _, pod := range p.in.Pods {
		if p.validIndex(pod) && p.tracked(pod) && p.isIndexFailed(pod) {
			fresh = append(fresh, jobpod.Index(pod))
		}
	}
	return prev.With(fresh...)
}

// isIndexFailed: the pod matched a FailIndex rule, or it is a counted failure and its
// index already used up backoffLimitPerIndex.
func (p *pass) isIndexFailed(pod *corev1.Pod) bool {
	if !p.isFailed(pod) {
		return false
	}
	m := p.match(pod)
	if m.Action != nil && *m.Action == v1alpha1.PodFailurePolicyActionFailIndex {
		return true
	}
	return m.CountFailed && jobpod.FailureCount(pod) >= *p.job.Spec.BackoffLimitPerIndex
}

// podsWithDelayedRemoval picks, for each index still to run that has no active pod, its
// latest failed pod. That pod keeps its finalizer (and stays uncounted) until its
// replacement exists, so the replacement can inherit the failure count.
func (p *pass) podsWithDelayedRemoval(succeeded, failed indexset.Set) map[int]*corev1.Pod {
	activeIx := indexesOf(p.active)
	out := map[int]*corev1.Pod{}
	for _, pod := range p.in.Pods {
		if !p.tracked(pod) || !p.validIndex(pod) || !p.isFailed(pod) {
			continue
		}
		ix := jobpod.Index(pod)
		if succeeded.Has(ix) || failed.Has(ix) || activeIx.Has(ix) {
			continue
		}
		if last, ok := out[ix]; !ok || laterFailure(pod, last) {
			out[ix] = pod
		}
	}
	return out
}

// laterFailure reports whether a is at least as far along its index as b.
func laterFailure(a, b *corev1.Pod) bool {
	abs := func(p *corev1.Pod) int32 { return jobpod.FailureCount(p) + jobpod.IgnoredFailureCount(p) }
	return abs(b) <= abs(a) && !backoff.FinishTime(a).Before(backoff.FinishTime(b))
}

func indexesOf(pods []*corev1.Pod) indexset.Set {
	var ixs []int
	for _, pod := range pods {
		if ix := jobpod.Index(pod); ix != jobpod.NoIndex {
			ixs = append(ixs, ix)
		}
	}
	return indexset.FromIndexes(ixs)
}

// pendingIndexes returns up to count of the lowest indexes that are neither succeeded,
// failed, held by an active pod nor (podReplacementPolicy Failed) by a terminating one.
func (p *pass) pendingIndexes(count int) []int {
	taken := p.ix.succeeded.Union(indexesOf(p.active))
	if p.onlyReplaceFailed {
		var terminating []*corev1.Pod
		for _, pod := range p.in.Pods {
			if jobpod.IsTerminating(pod) {
				terminating = append(terminating, pod)
			}
		}
		taken = taken.Union(indexesOf(terminating))
	}
	if p.ix.failed != nil {
		taken = taken.Union(*p.ix.failed)
	}
	// Indexes spec.completionIndexes leaves out are never run.
	taken = taken.Union(p.unselected)
	return taken.Missing(count, p.completions)
}

// readyToCreate keeps the indexes whose per-index backoff expired; when none did, it
// returns the shortest remaining wait.
func (p *pass) readyToCreate(ixs []int) (now []int, wait time.Duration) {
	var minLeft time.Duration
	policy := p.backoffPolicy()
	for _, ix := range ixs {
		left := policy.RemainingForIndex(p.ix.delayed[ix], p.in.Now)
		if left == 0 {
			now = append(now, ix)
		} else if minLeft == 0 || left < minLeft {
			minLeft = left
		}
	}
	return now, minLeft
}

// failureCounts are the annotations of the pod replacing the index's last failure.
func (p *pass) failureCounts(ix int) *podbuilder.FailureCounts {
	last := p.ix.delayed[ix]
	if last == nil {
		return &podbuilder.FailureCounts{}
	}
	c := &podbuilder.FailureCounts{Counted: jobpod.FailureCount(last), Ignored: jobpod.IgnoredFailureCount(last)}
	if p.match(last).CountFailed {
		c.Counted++
	} else {
		c.Ignored++
	}
	return c
}

// podsForRemoval picks active pods to delete: for Indexed jobs every pod without a
// valid index, beyond completions, or duplicating an index (keeping the most advanced
// one), then — if fewer than rmAtLeast — more in deletion order.
func (p *pass) podsForRemoval(rmAtLeast int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if p.indexed {
		rm, left = p.badIndexPods()
	} else {
		left = slices.Clone(p.active)
	}
	if len(rm) < rmAtLeast {
		jobpod.SortForDeletion(left)
		rm = append(rm, left[:rmAtLeast-len(rm)]...)
	}
	return rm
}

func (p *pass) badIndexPods() (rm, left []*corev1.Pod) {
	pods := slices.Clone(p.active)
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int { return cmp.Compare(jobpod.Index(a), jobpod.Index(b)) })
	for start := 0; start < len(pods); {
		ix := jobpod.Index(pods[start])
		if ix >= p.completions {
			return append(rm, pods[start:]...), left
		}
		end := start + 1
		for end < len(pods) && jobpod.Index(pods[end]) == ix {
			end++
		}
		group := pods[start:end]
		switch {
		case ix == jobpod.NoIndex:
			rm = append(rm, group...)
		case len(group) == 1:
			left = append(left, group[0])
		default:
			jobpod.SortForDeletion(group)
			rm = append(rm, group[:len(group)-1]...)
			left = append(left, group[len(group)-1])
		}
		start = end
	}
	return rm, left
}
