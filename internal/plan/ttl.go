package plan

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// TTLExpireAt is when a finished job becomes eligible for deletion: the transition time
// of its first true Complete or Failed condition plus its TTL (ttlFor). ok is false when
// the job has no TTL, is not finished, or is already being deleted.
func TTLExpireAt(job *v1alpha1.BatchJob) (time.Time, bool) {
	if job.DeletionTimestamp != nil {
		return time.Time{}, false
	}
	for _, c := range job.Status.Conditions {
		if (c.Type == v1alpha1.JobComplete || c.Type == v1alpha1.JobFailed) && c.Status == corev1.ConditionTrue {
			ttl := ttlFor(job, c.Type == v1alpha1.JobFailed)
			if ttl == nil || c.LastTransitionTime.IsZero() {
				return time.Time{}, false
			}
			return c.LastTransitionTime.Add(time.Duration(*ttl) * time.Second), true
		}
	}
	return time.Time{}, false
}

// ttlFor is the TTL of a job that finished (failed or not): ttlSecondsAfterFailure
// overrides ttlSecondsAfterFinished for a failed one; nil when none applies.
func ttlFor(job *v1alpha1.BatchJob, failed bool) *int32 {
	if failed && job.Spec.TTLSecondsAfterFailure != nil {
		return job.Spec.TTLSecondsAfterFailure
	}
	return job.Spec.TTLSecondsAfterFinished
}

// planFinished handles a finished job: its counters are final, so the only work is to
// release pods still holding the tracking finalizer (without counting them) and the TTL.
func planFinished(job *v1alpha1.BatchJob, in Input) Result {
	res := Result{Status: *job.Status.DeepCopy()}
	for _, pod := range in.Pods {
		if jobpod.HasFinalizer(pod) && !in.FinalizerRemovalPending.Has(pod.UID) {
			if len(res.RemoveFinalizers) == maxUncountedPods {
				res.MoreWork = true
				break
			}
			res.RemoveFinalizers = append(res.RemoveFinalizers, pod)
		}
	}
	res.RequeueAfter, res.TTLExpired = TTLDue(job, in.Now)
	return res
}

// TTLDue says whether a finished job's TTL has run out at now, or else how long is left
// (zero when the job has no TTL or is not finished).
func TTLDue(job *v1alpha1.BatchJob, now time.Time) (left time.Duration, expired bool) {
	at, ok := TTLExpireAt(job)
	if !ok {
		return 0, false
	}
	if left = at.Sub(now); left > 0 {
		return left, false
	}
	return 0, true
}

// ttlAfterFinishing is the timer for a job finished (failed or not) in this pass; the
// status write that records the finish also triggers a pass, this is the safety net.
func ttlAfterFinishing(job *v1alpha1.BatchJob, failed bool) time.Duration {
	ttl := ttlFor(job, failed)
	if ttl == nil {
		return 0
	}
	return max(time.Duration(*ttl)*time.Second, minRequeue)
}
