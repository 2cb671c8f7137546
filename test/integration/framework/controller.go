package framework

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/batchjob-dev/batchjob/internal/controller"
	"github.com/batchjob-dev/batchjob/internal/kueue"
)

// ControllerOptions configures one in-process controller manager.
type ControllerOptions struct {
	// Namespaces narrows the manager's caches; empty means all namespaces.
	Namespaces []string
	// PodFailureBackoff replaces the 10s base of the pod re-creation backoff; zero keeps it.
	PodFailureBackoff time.Duration
	// SyncBatchPeriod is how often a busy BatchJob is synced for pod events (upstream's
	// SyncJobBatchPeriod); zero means off, as the binary's default.
	SyncBatchPeriod time.Duration
	// StatusBatchPeriod is how often a busy BatchJob's bookkeeping-only status changes are
	// written; zero keeps the binary's default (1 s), negative writes every change at once.
	StatusBatchPeriod time.Duration
	// Clock is the controller's clock; nil means the real clock.
	Clock clock.Clock
	// Workers is the number of concurrent BatchJob reconciles; zero means 5.
	Workers int
	// WrapConfig, when set, adjusts a copy of the rest config the manager uses (for
	// example a WrapTransport that delays some requests).
	WrapConfig func(*rest.Config)
	// CacheTransform, when set, is applied to every object entering the manager's cache,
	// after the controller's own (upstream's tests use an informer transform to delay Job
	// events).
	CacheTransform toolscache.TransformFunc
	// Kueue runs the Kueue integration in the manager, as --kueue does (Kueue's CRDs must
	// be installed and Kueue's types in the Env's scheme).
	Kueue bool
}

// StartController starts the real manager, wired as main wires it, and waits for its
// caches to sync. The returned stop cancels it and waits until it has stopped, so a test
// can start another one (a controller restart); calling stop twice is harmless.
func (e *Env) StartController(opts ControllerOptions) (stop func(), err error) {
	cfg := rest.CopyConfig(e.Config)
	if opts.WrapConfig != nil {
		opts.WrapConfig(cfg)
	}
	cacheOpts := controller.CacheOptions(opts.Namespaces)
	if extra, strip := opts.CacheTransform, cacheOpts.DefaultTransform; extra != nil {
		cacheOpts.DefaultTransform = func(obj any) (any, error) {
			obj, err := strip(obj)
			if err != nil {
				return nil, err
			}
			return extra(obj)
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 e.Scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Restarting the manager in one process re-registers the same controller names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	c := opts.Clock
	if c == nil {
		c = clock.RealClock{}
	}
	// Wired as main wires the flags, with the defaults the binary ships with.
	statusBatchPeriod := controller.DefaultStatusBatchPeriod
	if opts.StatusBatchPeriod != 0 {
		statusBatchPeriod = opts.StatusBatchPeriod // negative: off, as the budget treats it
	}
	r := controller.NewReconciler(mgr, controller.Options{
		Clock:             c,
		PodFailureBackoff: opts.PodFailureBackoff,
		SyncBatchPeriod:   opts.SyncBatchPeriod,
		StatusBatchPeriod: statusBatchPeriod,
	})
	workers := opts.Workers
	if workers == 0 {
		workers = 5
	}
	if err := r.SetupWithManager(mgr, workers); err != nil {
		return nil, err
	}
	if opts.Kueue {
		if err := kueue.NewReconciler(mgr).SetupWithManager(mgr); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			fmt.Println("manager:", err)
		}
	}
	syncCtx, cancelSync := context.WithTimeout(ctx, time.Minute)
	defer cancelSync()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		stop()
		return nil, fmt.Errorf("caches did not sync")
	}
	return stop, nil
}
