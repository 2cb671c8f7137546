package controller

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/indexset"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	"github.com/batchjob-dev/batchjob/internal/plan"
)

// act carries out out for job in the order the plan contract prescribes: startup-failure
// pod conditions, deletions,
// creations, one status write, finalizer removals, events. A failed deletion aborts the pass
// before the status write (the plan may have assumed it succeeded); a failed creation only
// lowers `active` and is returned after the rest, for a rate-limited retry. A busy job's
// bookkeeping-only write (plan.Deferrable) waits, with its finalizer removals, for the
// job's next write token.
func (r *Reconciler) act(ctx context.Context, job *v1alpha1.BatchJob, out *plan.Result) (ctrl.Result, error) {
	// A pod spec.podStartupPolicy fails carries its condition before it is deleted, so that
	// the pass counting it (and podFailurePolicy) sees why. A failed patch stops the pass.
	if err := r.markStartupFailures(ctx, out.StartupFailures); err != nil {
		return ctrl.Result{}, err
	}
	deleteUIDs := make([]types.UID, 0, len(out.Delete))
	for _, d := range out.Delete {
		deleteUIDs = append(deleteUIDs, d.Pod.UID)
	}
	r.mem.expect(job.UID, len(out.Create), deleteUIDs)
	if err := r.deletePods(ctx, job, out.Delete); err != nil {
		r.mem.creationObserved(job.UID, len(out.Create)) // never issued
		return ctrl.Result{}, err
	}
	notCreated, createErr := r.createPods(ctx, job, out.Create, out.CreateReason)

	status, changed := plan.WithoutCreations(job, out, notCreated)
	if createErr == nil && changed && plan.Deferrable(job, out) {
		if wait := r.mem.writeDelay(job.UID); wait > 0 {
			// A busy job's bookkeeping: fold it, and its finalizer removals, into the next
			// write, at the latest when the next token is due.
			ctrl.LoggerFrom(ctx).V(4).Info("Deferring bookkeeping status write", "wait", wait)
			metrics.StatusWritesDeferredTotal.Inc()
			return ctrl.Result{RequeueAfter: earliest(out.RequeueAfter, wait)}, nil
		}
	}
	stored, err := r.writeStatus(ctx, job, status, changed, out)
	if err != nil {
		return ctrl.Result{}, joinErrors(createErr, err)
	}
	finalizerErr := r.removeFinalizers(ctx, job, out.RemoveFinalizers)
	r.record(job, out.Events)
	requeue := out.RequeueAfter
	if rel := out.AfterRelease; rel != nil && createErr == nil && finalizerErr == nil {
		// Every release succeeded and they were all that kept the job from finishing:
		// count them and finish it now rather than in a pass of its own.
		if _, err := r.writeStatus(ctx, stored, &rel.Status, true, rel); err != nil {
			return ctrl.Result{}, err
		}
		r.record(job, rel.Events)
		requeue = earliest(requeue, rel.RequeueAfter)
	}
	var ttlErr error
	if out.TTLExpired {
		ttlErr = r.deleteExpired(ctx, job)
	}
	err = joinErrors(createErr, finalizerErr, ttlErr)
	if err == nil && out.MoreWork {
		// The pass hit a per-pass cap: carry on at once (rate limited by the work queue).
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{RequeueAfter: requeue}, err
}

// record emits a pass's events on job.
func (r *Reconciler) record(job *v1alpha1.BatchJob, events []plan.Event) {
	for _, ev := range events {
		r.Recorder.Eventf(job, nil, ev.Type, ev.Reason, "Sync", "%s", ev.Message)
	}
}

// writeStatus stores status with one full update of the status subresource, optimistic on
// the cached resourceVersion: a conflict means the cache was stale, and the pass is retried.
// Only after it succeeded (or none was needed) are the backoff record, the finished mark and
// the per-pass metrics kept. It returns the job as now stored.
func (r *Reconciler) writeStatus(ctx context.Context, job *v1alpha1.BatchJob, status *v1alpha1.BatchJobStatus, changed bool, out *plan.Result) (*v1alpha1.BatchJob, error) {
	stored := job
	if changed {
		updated := job.DeepCopy()
		updated.Status = *status
		r.mem.takeWrite(job.UID)
		if err := r.Client.Status().Update(ctx, updated); err != nil {
			return nil, err
		}
		stored = updated
		ctrl.LoggerFrom(ctx).V(4).Info("Updated status", "active", status.Active,
			"succeeded", status.Succeeded, "failed", status.Failed)
	}
	finished := changed && out.Finished != nil
	r.mem.wrote(job.UID, stored.ResourceVersion, finished, out.Backoff)
	r.mem.setNearEnd(job.UID, nearEnd(job, status))
	mode := completionMode(job)
	if finished {
		result, log := metrics.ResultFailed, ctrl.LoggerFrom(ctx)
		if out.Finished.Succeeded {
			result = metrics.ResultSucceeded
		}
		metrics.JobsFinishedTotal.WithLabelValues(mode, result, out.Finished.Reason).Inc()
		log.V(2).Info("BatchJob finished", "result", result, "reason", out.Finished.Reason)
	}
	if changed {
		metrics.PodsFinishedTotal.WithLabelValues(mode, metrics.ResultSucceeded).Add(float64(out.PodsFinishedSucceeded))
		metrics.PodsFinishedTotal.WithLabelValues(mode, metrics.ResultFailed).Add(float64(out.PodsFinishedFailed))
		recordFinishedIndexes(job, status)
	}
	// As upstream (trackJobStatusAndRemoveFinalizers), matched rules are recorded whether or not the pass wrote
	// status: an ignored failure changes no counter, yet it was handled by the policy.
	for action, n := range out.FailurePolicyActions {
		metrics.PodFailuresHandledByFailurePolicy.WithLabelValues(string(action)).Add(float64(n))
	}
	return stored, nil
}

// recordFinishedIndexes counts the indexes that became completed or failed with this
// write, as upstream's job_finished_indexes_total: only for Indexed jobs,
// failed indexes only with backoffLimitPerIndex; indexes beyond completions do not count.
func recordFinishedIndexes(job *v1alpha1.BatchJob, status *v1alpha1.BatchJobStatus) {
	if completionMode(job) != string(v1alpha1.IndexedCompletion) || job.Spec.Completions == nil {
		return
	}
	completions := int(*job.Spec.Completions)
	count := func(s *string) int {
		if s == nil {
			return 0
		}
		return indexset.Parse(*s, completions).Total()
	}
	label := "global"
	if job.Spec.BackoffLimitPerIndex != nil {
		label = "perIndex"
	}
	succeeded := count(&status.CompletedIndexes) - count(&job.Status.CompletedIndexes)
	metrics.FinishedIndexesTotal.WithLabelValues(metrics.ResultSucceeded, label).Add(float64(max(succeeded, 0)))
	if job.Spec.BackoffLimitPerIndex != nil {
		if failed := count(status.FailedIndexes) - count(job.Status.FailedIndexes); failed > 0 {
			metrics.FinishedIndexesTotal.WithLabelValues(metrics.ResultFailed, label).Add(float64(failed))
		}
	}
}

// removeFinalizers drops the tracking finalizer of pods now recorded in status, registering
// them as pending first so that no pass counts them again before the cache shows it.
func (r *Reconciler) removeFinalizers(ctx context.Context, job *v1alpha1.BatchJob, pods []*corev1.Pod) error {
	if len(pods) == 0 {
		return nil
	}
	uids := make([]types.UID, 0, len(pods))
	for _, p := range pods {
		uids = append(uids, p.UID)
	}
	r.mem.expectFinalizerRemovals(job.UID, uids)
	errs := parallel(len(pods), func(i int) error {
		err := stripFinalizer(ctx, r.Client, pods[i])
		if err != nil {
			r.mem.finalizerRemovalObserved(job.UID, pods[i].UID) // not removed; retry later
		}
		return err
	})
	return joinErrors(errs...)
}

// maxInFlight bounds the requests one pass has in flight at once. A pass writes at most
// a few hundred pods (plan's per-pass caps); the client's rate limiter paces them anyway,
// so more goroutines would only wait, each holding its pod.
const maxInFlight = 32

// parallel runs f(0..n-1) on at most maxInFlight goroutines and returns their errors. A
// panic in f becomes that call's error: these goroutines are outside controller-runtime's
// panic recovery, and one bad pod must not take the process down.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, maxInFlight) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = recovered(i, f)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

func recovered(i int, f func(i int) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return f(i)
}

// earliest is the shorter of two timers, where zero means none.
func earliest(a, b time.Duration) time.Duration {
	if a == 0 || (b > 0 && b < a) {
		return b
	}
	return a
}

// sinceOrZero is now - t, or zero when t is in the future.
func sinceOrZero(now, t time.Time) time.Duration {
	return max(now.Sub(t), 0)
}
