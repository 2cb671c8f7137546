// Command batchjob-controller runs the BatchJob controller: one controller-runtime manager
// with the BatchJob reconciler, metrics, health probes and leader election.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/controller"
	"github.com/batchjob-dev/batchjob/internal/cronjob"
	"github.com/batchjob-dev/batchjob/internal/kueue"
)

// Set with -ldflags "-X main.version=... -X main.commit=..." by `make build`.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	var (
		o           options
		showVersion bool
	)
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", "Address of the HTTPS metrics endpoint (authenticated and authorized); 0 disables it.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of /healthz and /readyz; 0 disables them.")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "Address of the net/http/pprof endpoints (e.g. 127.0.0.1:6060); 0 disables them.")
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader through a Lease so that only one replica reconciles.")
	flag.StringVar(&o.leaderNS, "leader-election-namespace", "", "Namespace of the leader-election Lease (default: the pod's namespace).")
	flag.StringVar(&o.leaderElectionID, "leader-election-id", defaultLeaderElectionID,
		"Name of the leader-election Lease; replicas with the same name and namespace elect one leader (the Helm chart derives it from the release name).")
	flag.DurationVar(&o.gracefulShutdownTimeout, "graceful-shutdown-timeout", defaultGracefulShutdownTimeout,
		"How long the manager waits on shutdown for reconciles to finish before it releases the Lease and exits; "+
			"keep it below the pod's terminationGracePeriodSeconds.")
	flag.Float64Var(&o.qps, "kube-api-qps", 50, "Requests per second to the API server, all clients together (one token bucket for pods, BatchJobs, events, leases and discovery).")
	flag.IntVar(&o.burst, "kube-api-burst", 100, "Burst of requests to the API server, all clients together.")
	flag.IntVar(&o.concurrentSyncs, "concurrent-syncs", 5, "BatchJobs reconciled in parallel.")
	// Off by default: measured with `make bench` on an idle machine, coalescing at 500 ms
	// halved throughput (24.5 vs 49.3 pods/s) and saved no status writes (0.81 per pod both).
	flag.DurationVar(&o.syncBatchPeriod, "sync-batch-period", 0,
		"How often a busy BatchJob is synced for pod events (a quiet one is synced at once), e.g. "+
			controller.DefaultSyncBatchPeriod.String()+"; 0 syncs on every pod event.")
	flag.DurationVar(&o.statusBatchPeriod, "status-batch-period", controller.DefaultStatusBatchPeriod,
		"How often a busy BatchJob's bookkeeping-only status changes (successes recorded or counted, "+
			"active/ready counts) are written; conditions and failures are always written at once; 0 writes every change at once.")
	flag.StringVar(&o.namespaces, "namespaces", "", "Comma-separated namespaces to watch; empty watches all.")
	flag.BoolVar(&o.kueue, "kueue", false, "Queue BatchJobs labelled kueue.x-k8s.io/queue-name with Kueue: each gets a Kueue Workload "+
		"and runs only while Kueue admits it (needs Kueue's CRDs, and BatchJob.v1alpha1.batchjob.dev in Kueue's integrations.externalFrameworks).")
	flag.BoolVar(&showVersion, "version", false, "Print the version and exit.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if showVersion {
		fmt.Printf("batchjob-controller %s (commit %s)\n", version, commit)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(o); err != nil {
		ctrl.Log.Error(err, "Controller stopped")
		os.Exit(1)
	}
}

// Defaults of --leader-election-id and --graceful-shutdown-timeout. The chart's and
// config/manager's terminationGracePeriodSeconds (40) exceed the shutdown timeout, so that a
// slow shutdown still ends with the Lease released rather than with SIGKILL.
const (
	defaultLeaderElectionID        = "batchjob-controller.batchjob.dev"
	defaultGracefulShutdownTimeout = 25 * time.Second
)

type options struct {
	metricsAddr, probeAddr, pprofAddr, leaderNS, namespaces string
	leaderElectionID                                        string
	leaderElect, kueue                                      bool
	qps                                                     float64
	burst, concurrentSyncs                                  int
	syncBatchPeriod                                         time.Duration
	statusBatchPeriod                                       time.Duration
	gracefulShutdownTimeout                                 time.Duration
}

func run(o options) error {
	log := ctrl.Log.WithName("setup")
	log.Info("Starting batchjob-controller", "version", version, "commit", commit)
	mgr, err := newManager(o)
	if err != nil {
		return err
	}
	if err := addControllers(mgr, o); err != nil {
		return err
	}
	if o.probeAddr != "0" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return err
		}
		if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
			return err
		}
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}

// newScheme holds the types the manager reads and writes: built-in ones, ours, and with
// --kueue Kueue's.
func newScheme(withKueue bool) (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if withKueue {
		if err := kueue.AddToScheme(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}

// newManager builds the manager from the flags: one client budget, caches narrowed to
// --namespaces, metrics, probes, pprof and leader election.
func newManager(o options) (ctrl.Manager, error) {
	scheme, err := newScheme(o.kueue)
	if err != nil {
		return nil, err
	}
	base, err := ctrl.GetConfig()
	if err != nil {
		return nil, err
	}
	cfg, err := clientConfig(base, o.qps, o.burst)
	if err != nil {
		return nil, err
	}
	metricsOpts := metricsserver.Options{BindAddress: o.metricsAddr}
	if o.metricsAddr != "0" {
		metricsOpts.SecureServing = true
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   controller.CacheOptions(splitList(o.namespaces)),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  o.probeAddr,
		PprofBindAddress:        o.pprofAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        o.leaderElectionID,
		LeaderElectionNamespace: o.leaderNS,
		GracefulShutdownTimeout: &o.gracefulShutdownTimeout,
		// The process exits right after the manager stops, so it may give up the Lease at
		// once and let a standby take over without waiting for the lease to expire.
		LeaderElectionReleaseOnCancel: true,
	})
}

// addControllers adds the BatchJob and BatchCronJob controllers, and with --kueue the
// Kueue integration.
func addControllers(mgr ctrl.Manager, o options) error {
	r := controller.NewReconciler(mgr, controller.Options{
		Clock:             clock.RealClock{},
		SyncBatchPeriod:   o.syncBatchPeriod,
		StatusBatchPeriod: o.statusBatchPeriod,
	})
	if err := r.SetupWithManager(mgr, o.concurrentSyncs); err != nil {
		return err
	}
	if err := cronjob.NewReconciler(mgr, cronjob.Options{Clock: clock.RealClock{}}).SetupWithManager(mgr); err != nil {
		return err
	}
	if o.kueue {
		return kueue.NewReconciler(mgr).SetupWithManager(mgr)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
