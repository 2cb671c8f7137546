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

// Options configure a Reconciler. The zero value is upstream's behaviour with the real
// clock and no coalescing.
type Options struct {
	// Clock drives decisions and expectation timeouts; the real clock when nil.
	Clock clock.Clock
	// QueueClock times the token buckets, whose delays the work queue waits out on the wall
	// clock whatever Clock is; the real clock when nil.
	QueueClock clock.PassiveClock
	// PodFailureBackoff is the delay after the first pod failure; zero means upstream's 10s.
	PodFailureBackoff time.Duration
	// SyncBatchPeriod is how often a busy BatchJob is synced for pod events (a quiet one is
	// synced at once); zero or less syncs on every event.
	SyncBatchPeriod time.Duration
	// StatusBatchPeriod is how often a busy BatchJob's bookkeeping-only status changes are
	// written (see plan.Deferrable); zero or less writes every change at once. The flag's
	// default is DefaultStatusBatchPeriod.
	StatusBatchPeriod time.Duration
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

	// mem is everything remembered about jobs between passes, keyed by UID.
	mem *jobMemory
}

// NewReconciler returns a Reconciler using the manager's clients; SetupWithManager gives
// it its event recorder unless one is set.
func NewReconciler(mgr ctrl.Manager, opts Options) *Reconciler {
	c := opts.Clock
	if c == nil {
		c = clock.RealClock{}
	}
	var queueClock clock.PassiveClock = clock.RealClock{}
	if opts.QueueClock != nil {
		queueClock = opts.QueueClock
	}
	return &Reconciler{
		Client:            mgr.GetClient(),
		APIReader:         mgr.GetAPIReader(),
		Clock:             c,
		Plan:              plan.Plan,
		PodFailureBackoff: opts.PodFailureBackoff,
		mem:               newJobMemory(c, queueClock, opts.SyncBatchPeriod, opts.StatusBatchPeriod),
	}
}

// Reconcile runs one pass for the BatchJob named by req.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	start := r.Clock.Now()
	job := &v1alpha1.BatchJob{}
	if err := r.Client.Get(ctx, req.NamespacedName, job); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone: forget what was remembered about it. Its pods' finalizers are stripped
			// by the orphan reconciler.
			r.mem.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	r.mem.begin(req.NamespacedName, job.UID)
	action, res, err := r.sync(ctx, job)
	res, err = quietErrors(ctx, res, err)
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
	route := plan.RouteOf(job)
	if route == plan.RouteForeign {
		log.V(4).Info("Skipping BatchJob managed by another controller", "managedBy", *job.Spec.ManagedBy)
		res, err := r.enforceTTL(ctx, job)
		return metrics.ActionReconciling, res, err
	}
	// Memory is read before pods are listed: a pod seen after this point can only make the
	// list newer than what the expectations assume.
	mem := r.mem.snapshot(job.UID, job.ResourceVersion, job.Status.IsFinished())
	if mem.stale {
		log.V(4).Info("Skipping pass on a cached BatchJob older than the controller's last write")
		return metrics.ActionReconciling, ctrl.Result{RequeueAfter: staleRecheck}, nil
	}
	switch route {
	case plan.RouteWriteSelector:
		return metrics.ActionReconciling, ctrl.Result{}, r.writeGeneratedSelector(ctx, job)
	case plan.RouteNoSelector:
		log.Info("BatchJob has manualSelector but no selector; not reconciling")
		return metrics.ActionReconciling, ctrl.Result{}, nil
	}
	pods, err := r.claimPods(ctx, job)
	if err != nil {
		return metrics.ActionReconciling, ctrl.Result{}, err
	}
	// The job comes from the cache as a copy of its own; Plan defaults its own copy, and
	// act reads only fields that need no defaults.
	in := plan.Input{
		Job:                     job,
		Pods:                    pods,
		Now:                     r.Clock.Now(),
		ExpectationsSatisfied:   mem.satisfied,
		FinalizerRemovalPending: mem.finalizerRemovalPending,
		Backoff:                 mem.backoff,
		PodFailureBackoff:       r.PodFailureBackoff,
	}
	out := r.Plan(in)
	log.V(4).Info("Planned pass", "pods", len(pods), "create", len(out.Create), "delete", len(out.Delete),
		"removeFinalizers", len(out.RemoveFinalizers), "statusChanged", out.StatusChanged,
		"satisfied", mem.satisfied, "requeueAfter", out.RequeueAfter, "more", out.MoreWork)
	res, err := r.act(ctx, job, &out)
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

// quietErrors turns the errors of a normal life into what they mean, so that they are
// not logged as controller errors with a stack trace: the job was deleted under the pass
// (kubectl delete, --cascade=orphan included) — nothing left to do; a write met a newer
// copy of the job — the cache is behind, look again (the watch event of that copy also
// brings the job back).
func quietErrors(ctx context.Context, res ctrl.Result, err error) (ctrl.Result, error) {
	var status apierrors.APIStatus
	if err == nil || !errors.As(err, &status) || len(unwrapAll(err)) > 1 {
		return res, err
	}
	switch {
	case apierrors.IsNotFound(err):
		ctrl.LoggerFrom(ctx).V(2).Info("BatchJob is gone", "err", err)
		return ctrl.Result{}, nil
	case apierrors.IsConflict(err):
		ctrl.LoggerFrom(ctx).V(2).Info("BatchJob changed under the pass; looking again", "err", err)
		return ctrl.Result{Requeue: true}, nil
	}
	return res, err
}

// unwrapAll lists the errors joined in err (err itself when it joins none).
func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
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
