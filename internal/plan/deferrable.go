package plan

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Deferrable reports whether the status write that out plans for job (as read, with the
// status it stores) is pure bookkeeping of a busy job, which may wait for a later pass
// without changing any decision: successes recorded in uncountedTerminatedPods or moved
// into the counters, and the active, ready and terminating counts, while pods are still
// active. Every later pass recomputes the same bookkeeping from the pods (a deferred write
// is a write that has not happened yet, which the tracking protocol already survives), so
// deferring it together with its finalizer removals loses nothing.
//
// Never deferred: a new or changed condition (finishing, suspending, failure targets),
// startTime or completionTime, a failure (it drives backoff and the failure limits), a pod
// deletion, a pod failure policy match, events, a suspended or idle job.
func Deferrable(job *v1alpha1.BatchJob, out *Result) bool {
	if !out.StatusChanged || out.Finished != nil || out.TTLExpired ||
		len(out.Events) > 0 || len(out.Delete) > 0 || len(out.FailurePolicyActions) > 0 {
		return false
	}
	if ptr.Deref(job.Spec.Suspend, false) || out.Status.Active == 0 {
		return false
	}
	old, now := &job.Status, &out.Status
	return equality.Semantic.DeepEqual(old.Conditions, now.Conditions) &&
		equality.Semantic.DeepEqual(old.StartTime, now.StartTime) &&
		equality.Semantic.DeepEqual(old.CompletionTime, now.CompletionTime) &&
		old.Failed == now.Failed &&
		ptr.Deref(old.FailedIndexes, "") == ptr.Deref(now.FailedIndexes, "") &&
		uncountedFailed(old).Equal(uncountedFailed(now))
}

func uncountedFailed(s *v1alpha1.BatchJobStatus) sets.Set[string] {
	out := sets.New[string]()
	if s.UncountedTerminatedPods != nil {
		for _, uid := range s.UncountedTerminatedPods.Failed {
			out.Insert(string(uid))
		}
	}
	return out
}
