// Package controller carries out what internal/plan decides: it observes a BatchJob and its
// pods through the manager's cache, calls plan.Plan, and acts on the result (pods, one status
// write, tracking finalizers, events, TTL deletion). It also strips tracking finalizers from
// pods whose BatchJob is gone or finished.
package controller

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	"github.com/batchjob-dev/batchjob/internal/plan"
)

// ControllerName is the reporting controller of events and the manager's controller name.
const ControllerName = "batchjob-controller"

// staleRecheck is a safety net when a pass is skipped because the cache is older than the
// controller's own write: the watch event of that write normally triggers the next pass.
const staleRecheck = 5 * time.Second

// EventRecorder is the events.k8s.io recorder the manager hands out.
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Reconciler reconciles BatchJobs.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads from the API server directly (adoption and TTL re-checks).
	APIReader client.Reader
	Recorder  EventRecorder
	Clock     clock.Clock
	// Plan is the decision function; plan.Plan unless a test replaces it.
	Plan func(plan.Input) plan.Result
	// PodFailureBackoff is the delay after the first pod failure; zero means upstream's 10s.
	PodFailureBackoff time.Duration
	// SyncBatchPeriod is how often a busy BatchJob is synced for pod events (see
	// tokenBudget); zero (NewReconciler's default) syncs on every event.
	SyncBatchPeriod time.Duration
	// StatusBatchPeriod is how often a busy BatchJob's bookkeeping-only status changes
	// are written (see plan.Deferrable); NewReconciler sets DefaultStatusBatchPeriod, zero
	// writes every change at once.
	StatusBatchPeriod time.Duration

	mem    *expectations
	budget *tokenBudget // pod-event passes
	writes *tokenBudget // status writes
}

// NewReconciler returns a Reconciler using the manager's clients, recorder and c.
func NewReconciler(mgr ctrl.Manager, c clock.Clock) *Reconciler {
	return &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  newSimilarEvents(mgr.GetEventRecorder(ControllerName), c),
		Clock:     c,
		Plan:      plan.Plan,
		// The flags' defaults: pod events at once, bookkeeping batched.
		StatusBatchPeriod: DefaultStatusBatchPeriod,
		mem:               newExpectations(c),
	}
}

// Reconcile runs one pass for the BatchJob named by req.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	start := r.Clock.Now()
	job := &v1alpha1.BatchJob{}
	if err := r.Client.Get(ctx, req.NamespacedName, job); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone: forget its expectations, backoff and finished mark. Its pods' finalizers
			// are stripped by the orphan reconciler.
			r.mem.forget(req.NamespacedName)
			r.budget.forget(req.NamespacedName)
			r.writes.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	r.budget.take(req.NamespacedName)
	action, res, err := r.sync(ctx, job)
	result := metrics.ResultSuccess
	if err != nil {
		result = metrics.ResultError
	}
	mode := completionMode(job)
	metrics.SyncDuration.WithLabelValues(mode, result, action).Observe(r.Clock.Since(start).Seconds())
	metrics.SyncsTotal.WithLabelValues(mode, result, action).Inc()
	return res, err
}

// sync is one pass on a job read from the cache; it returns the metrics action label.
func (r *Reconciler) sync(ctx context.Context, job *v1alpha1.BatchJob) (string, ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	key := client.ObjectKeyFromObject(job)
	if !job.IsManagedByThisController() {
		log.V(4).Info("Skipping BatchJob managed by another controller", "managedBy", *job.Spec.ManagedBy)
		return metrics.ActionReconciling, ctrl.Result{}, nil
	}
	finished := job.Status.IsFinished()
	if r.mem.stale(key, job.UID, job.ResourceVersion, finished) {
		log.V(4).Info("Skipping pass on a cached BatchJob older than the controller's last write")
		return metrics.ActionReconciling, ctrl.Result{RequeueAfter: staleRecheck}, nil
	}
	if job.Spec.Selector == nil {
		return metrics.ActionReconciling, ctrl.Result{}, r.writeGeneratedSelector(ctx, job)
	}
	// Expectations are read before pods are listed: a pod seen after this point can only
	// make the list newer than what the expectations assume.
	satisfied := r.mem.satisfied(key, job.UID)
	pods, err := r.claimPods(ctx, job)
	if err != nil {
		return metrics.ActionReconciling, ctrl.Result{}, err
	}
	working := job.DeepCopy()
	v1alpha1.SetDefaults(working)
	in := plan.Input{
		Job:                     working,
		Pods:                    pods,
		Now:                     r.Clock.Now(),
		ExpectationsSatisfied:   satisfied,
		FinalizerRemovalPending: r.mem.pendingFinalizerRemovals(key, job.UID),
		Backoff:                 r.mem.backoff(key, job.UID),
		PodFailureBackoff:       r.PodFailureBackoff,
	}
	out := r.Plan(in)
	log.V(4).Info("Planned pass", "pods", len(pods), "create", len(out.Create), "delete", len(out.Delete),
		"removeFinalizers", len(out.RemoveFinalizers), "statusChanged", out.StatusChanged,
		"satisfied", satisfied, "requeueAfter", out.RequeueAfter)
	res, err := r.act(ctx, working, &out)
	return actionOf(&out), res, err
}

// actionOf maps a plan to upstream's sync action label.
func actionOf(out *plan.Result) string {
	switch {
	case len(out.Create) > 0:
		return metrics.ActionPodsCreated
	case len(out.Delete) > 0:
		return metrics.ActionPodsDeleted
	default:
		return metrics.ActionTracking
	}
}

// joinErrors is errors.Join that keeps a single error unwrapped for readable logs.
func joinErrors(errs ...error) error {
	var nonNil []error
	for _, err := range errs {
		if err != nil {
			nonNil = append(nonNil, err)
		}
	}
	if len(nonNil) == 1 {
		return nonNil[0]
	}
	return errors.Join(nonNil...)
}
