package controller

import (
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// nearEndPriority puts the pass of a job that is near its end (nearEnd) ahead of the other
// passes waiting in the queue (priority 0; controller-runtime gives the initial list -100).
//
// When the client budget is short, every pass waits in the queue. Taken in arrival order,
// a job needs as many trips through the whole backlog as it has passes, and under a steady
// stream of jobs all of them finish late together. Passing the last steps of a job first
// finishes the jobs already started before starting more, which is what kube-controller-
// manager's Job controller gets from doing a job's last steps (the last status write, the
// finalizer removals, the final count) in one sync. It changes the order only: the same
// passes run and send the same requests.
//
// Only a job with at most one pod's work left is passed ahead, so each job gets it for a
// bounded number of passes (its last pod, and its retries), and a stream of them cannot
// keep other jobs out of the queue for long.
const nearEndPriority = 10

// nearEnd reports whether job, whose status after a pass is st, has at most one pod's work
// left: it is not finished, at most one of its pods is active, and at most one completion
// is missing (counting succeeded pods whose finalizer removal is under way). A job without
// completions (work queue) ends with its pods, so one active pod at most is enough.
func nearEnd(job *v1alpha1.BatchJob, st *v1alpha1.BatchJobStatus) bool {
	if st.IsFinished() || st.Active > 1 {
		return false
	}
	if job.Spec.Completions == nil {
		return true
	}
	left := int64(*job.Spec.Completions) - int64(st.Succeeded)
	if u := st.UncountedTerminatedPods; u != nil {
		left -= int64(len(u.Succeeded))
	}
	return left <= 1
}

// addPass adds req to q, after d, and ahead of the passes of priority 0 when ahead is set
// and q is controller-runtime's priority queue (the default). An item already queued keeps
// the higher priority and the earlier time of the two.
func addPass(q queue, req reconcile.Request, d time.Duration, ahead bool) {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok && ahead {
		pq.AddWithOpts(priorityqueue.AddOpts{After: d, Priority: ptr.To(nearEndPriority)}, req)
		return
	}
	if d > 0 {
		q.AddAfter(req, d)
		return
	}
	q.Add(req)
}
