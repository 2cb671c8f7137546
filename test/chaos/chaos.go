// Package chaos runs a mixed BatchJob workload on a local kwokctl cluster while it kills
// the controller at random moments, fails the leader over, restarts kube-apiserver and
// deletes pods by hand, and checks with an independent watcher (checker.go, verify.go)
// that no pod was over-created, lost or counted twice and that every job ends as it must.
//
// `make chaos` runs the full version (cmd/chaos, results in RESULTS.md); test/e2e's
// TestChaos runs a two-minute version of it.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

const (
	namespace      = "chaos"
	leaseNamespace = "chaos-system"
	// leaseName is the controller's leader-election ID (cmd/batchjob-controller).
	leaseName = "batchjob-controller.batchjob.dev"
)

// Config sizes a run.
type Config struct {
	Root        string // repository root (bin/, hack/)
	ClusterName string
	ClusterPort int // kube-apiserver on 127.0.0.1; kwokctl uses the five ports above it
	ProbePort   int // first controller health-probe port (one per replica)
	WorkDir     string

	MinPods         int           // keep submitting jobs until this many pods exist
	Size            int           // completions of the big jobs of each cycle
	MaxJobsInFlight int           // unfinished jobs at most
	Kills           int           // SIGKILLs of the single controller at random moments
	KillMin         time.Duration // uptime before a kill: uniform in [KillMin, KillMax)
	KillMax         time.Duration
	LeaderKills     int // SIGKILLs of the leader of two replicas
	APIRestarts     int // kube-apiserver restarts, spread over the kill phase
	APIDowntime     time.Duration
	DeleteEvery     time.Duration // mean interval of hand deletions of running pods
	SettleTimeout   time.Duration // after the chaos, for every job to finish
	Timeout         time.Duration // the whole run
	KeepCluster     bool
	Log             io.Writer
	Command         string // recorded in the report
}

// FullConfig is `make chaos`: ≥5,000 pods, 50 kills, 5 leader kills, 2 API restarts.
func FullConfig(root string) Config {
	return Config{
		Root: root, ClusterName: "batchjob-chaos", ClusterPort: 16843, ProbePort: 16881,
		WorkDir: filepath.Join(root, "tmp", "chaos"),
		MinPods: 5000, Size: 40, MaxJobsInFlight: 24,
		Kills: 50, KillMin: time.Second, KillMax: 9 * time.Second,
		LeaderKills: 5, APIRestarts: 2, APIDowntime: 3 * time.Second,
		DeleteEvery: 2 * time.Second, SettleTimeout: 5 * time.Minute, Timeout: 60 * time.Minute,
		Log: os.Stderr,
	}
}

// ShortConfig is the two-minute version run by `make test-e2e`.
func ShortConfig(root string) Config {
	return Config{
		Root: root, ClusterName: "batchjob-chaos-e2e", ClusterPort: 16943, ProbePort: 16981,
		WorkDir: filepath.Join(root, "tmp", "chaos-e2e"),
		MinPods: 300, Size: 20, MaxJobsInFlight: 14,
		Kills: 10, KillMin: time.Second, KillMax: 5 * time.Second,
		LeaderKills: 1, APIRestarts: 1, APIDowntime: 2 * time.Second,
		DeleteEvery: 2 * time.Second, SettleTimeout: 2 * time.Minute, Timeout: 8 * time.Minute,
		Log: os.Stderr,
	}
}

type driver struct {
	cfg     Config
	c       client.Client
	ck      *Checker
	tl      *Timeline
	cl      *cluster
	sup     *supervisor
	mu      sync.Mutex
	report  *Report
	wg      sync.WaitGroup
	logFile *os.File
	// apiRestarting pauses the control-plane watchdog during a kube-apiserver restart.
	apiRestarting atomic.Bool
}

// Run runs the chaos test and returns its report. An error means the run itself could
// not be carried out (cluster, binaries); violations are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	logDir := filepath.Join(cfg.WorkDir, "logs")
	evidenceDir := filepath.Join(cfg.WorkDir, "evidence")
	_ = os.RemoveAll(cfg.WorkDir)
	for _, dir := range []string{logDir, evidenceDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	bin := filepath.Join(cfg.Root, "bin", "batchjob-controller")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("controller binary: %w (run `make build`)", err)
	}
	logFile, err := os.Create(filepath.Join(logDir, "cluster.log"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }()
	tl := newTimeline(cfg.Log)
	defer func() { _ = tl.write(filepath.Join(cfg.WorkDir, "timeline.txt")) }()
	d := &driver{cfg: cfg, tl: tl, logFile: logFile,
		report: &Report{Command: cfg.Command, Started: time.Now(), LogDir: cfg.WorkDir}}
	d.cl = &cluster{root: cfg.Root, name: cfg.ClusterName, dir: filepath.Join(cfg.Root, "tmp", "clusters", cfg.ClusterName), port: cfg.ClusterPort, tl: tl}
	tl.add("starting cluster %s on 127.0.0.1:%d (log %s)", cfg.ClusterName, cfg.ClusterPort, logFile.Name())
	if err := d.cl.up(ctx, logFile); err != nil {
		_ = d.cl.down(logFile)
		return nil, err
	}
	if !cfg.KeepCluster {
		defer func() {
			if err := d.cl.down(logFile); err != nil {
				tl.add("deleting the cluster: %v", err)
			}
		}()
	}
	d.sup = &supervisor{bin: bin, logDir: logDir, kubeconfig: d.cl.kubeconfig(), tl: tl}
	// Every controller is stopped by PID when Run returns, whatever happened.
	defer d.sup.stopAll()
	if err := d.run(ctx, evidenceDir); err != nil {
		return d.report, err
	}
	return d.report, nil
}

func (d *driver) run(ctx context.Context, evidenceDir string) error {
	cfg, tl := d.cfg, d.tl
	restCfg, err := d.cl.restConfig()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), v1alpha1.AddToScheme(scheme)); err != nil {
		return err
	}
	if d.c, err = client.New(restCfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	for _, ns := range []string{namespace, leaseNamespace} {
		if err := d.createNamespace(ctx, ns); err != nil {
			return err
		}
	}
	d.ck = newChecker(namespace, tl)
	watcher, err := client.NewWithWatch(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	checkerCtx, stopChecker := context.WithCancel(ctx)
	defer stopChecker()
	if err := d.ck.run(checkerCtx, watcher); err != nil {
		return err
	}

	watchdogCtx, stopWatchdog := context.WithCancel(ctx)
	defer stopWatchdog()
	go d.cl.watchdog(watchdogCtx, d.logFile, d.apiRestarting.Load, func(name string) {
		d.count(func(r *Report) { r.ComponentRestarts = append(r.ComponentRestarts, name) })
	})

	single := d.sup.startSlot(ctx, cfg.ProbePort, false)
	stopChaos := make(chan struct{})
	submitErr := make(chan error, 1)
	go func() { submitErr <- d.submitter(ctx, stopChaos) }()
	d.wg.Go(func() { d.deleter(ctx, stopChaos) })

	chaosErr := d.killPhase(ctx, single)
	if chaosErr == nil {
		single.stop(10 * time.Second)
		chaosErr = d.leaderPhase(ctx)
	}
	close(stopChaos)
	tl.add("chaos over; waiting for the workload to be submitted")
	if err := errors.Join(chaosErr, <-submitErr); err != nil {
		d.wg.Wait()
		d.finish(evidenceDir) // what was seen so far, as evidence
		return err
	}
	d.wg.Wait()
	d.report.Settled = d.settle(ctx)
	tl.add("settled: %v", d.report.Settled)
	d.finish(evidenceDir)
	return nil
}

func (d *driver) createNamespace(ctx context.Context, name string) error {
	return retry(ctx, 2*time.Minute, func(ctx context.Context) error {
		err := d.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		// Pod admission needs the namespace's default ServiceAccount.
		return d.c.Get(ctx, client.ObjectKey{Namespace: name, Name: "default"}, &corev1.ServiceAccount{})
	})
}

// killPhase SIGKILLs the single controller Kills times, each after a random uptime, and
// restarts kube-apiserver APIRestarts times spread over the phase.
func (d *driver) killPhase(ctx context.Context, sl *slot) error {
	cfg := d.cfg
	restartAt := map[int]bool{}
	for i := 1; i <= cfg.APIRestarts; i++ {
		restartAt[i*cfg.Kills/(cfg.APIRestarts+1)] = true
	}
	for i := 0; i < cfg.Kills; i++ {
		if restartAt[i] {
			d.apiRestarting.Store(true)
			down, err := d.cl.restartAPIServer(ctx, cfg.APIDowntime, d.logFile)
			d.apiRestarting.Store(false)
			if err != nil {
				return fmt.Errorf("restarting kube-apiserver: %w", err)
			}
			d.count(func(r *Report) { r.APIServerRestarts++; r.APIDowntime = append(r.APIDowntime, down) })
		}
		wait := cfg.KillMin + rand.N(cfg.KillMax-cfg.KillMin)
		if !d.sleep(ctx, wait) {
			return ctx.Err()
		}
		pid, err := sl.kill(ctx)
		if err != nil {
			return fmt.Errorf("kill %d: %w", i+1, err)
		}
		d.count(func(r *Report) { r.ControllerKills++ })
		pods, unfinished := d.ck.counts()
		d.tl.add("SIGKILL %d/%d: controller pid %d after %v (pods so far %d, unfinished jobs %d)", i+1, cfg.Kills, pid, wait.Round(time.Millisecond), pods, unfinished)
	}
	return nil
}

// leaderPhase runs two replicas with leader election and SIGKILLs the leader LeaderKills
// times, measuring each failover: leader killed → first controller write accepted after
// another replica acquired the Lease.
func (d *driver) leaderPhase(ctx context.Context) error {
	cfg := d.cfg
	slots := []*slot{d.sup.startSlot(ctx, cfg.ProbePort+1, true), d.sup.startSlot(ctx, cfg.ProbePort+2, true)}
	for i := 0; i < cfg.LeaderKills; i++ {
		leader, err := d.waitLeader(ctx, slots, 2*time.Minute)
		if err != nil {
			return err
		}
		// Let the new leader work a while, so it is killed in the middle of things.
		if !d.sleep(ctx, 3*time.Second+rand.N(4*time.Second)) {
			return ctx.Err()
		}
		holder, _, _ := d.ck.leaseHolder()
		killedAt := time.Now()
		pid, err := leader.kill(ctx)
		if err != nil {
			return fmt.Errorf("leader kill %d: %w", i+1, err)
		}
		d.count(func(r *Report) { r.LeaderKills++ })
		d.tl.add("leader SIGKILL %d/%d: pid %d (slot %d, lease holder %q)", i+1, cfg.LeaderKills, pid, leader.id, holder)
		// A one-pod job, so that the new leader has something to do at once.
		if err := d.submit(ctx, fmt.Sprintf("probe-%d", i), kinds(1, 0)["probe"]); err != nil {
			return err
		}
		acquired, write, err := d.waitFailover(ctx, holder, 2*time.Minute)
		if err != nil {
			d.count(func(r *Report) {
				r.Violations = append(r.Violations, Violation{Invariant: InvFailover, Job: "-", Detail: err.Error()})
			})
			continue
		}
		d.count(func(r *Report) {
			r.LeaseAcquired = append(r.LeaseAcquired, acquired.Sub(killedAt))
			r.Failovers = append(r.Failovers, write.Sub(killedAt))
		})
		d.tl.add("failover %d: lease taken after %v, first write after %v", i+1, acquired.Sub(killedAt).Round(time.Millisecond), write.Sub(killedAt).Round(time.Millisecond))
	}
	return nil
}

func (d *driver) waitLeader(ctx context.Context, slots []*slot, timeout time.Duration) (*slot, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, sl := range slots {
			if sl.isLeader() {
				return sl, nil
			}
		}
		if !d.sleep(ctx, 250*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("no replica became leader within %v", timeout)
}

// waitFailover waits until the Lease has a holder other than old, and then for the first
// controller write with a higher resourceVersion than that acquisition.
func (d *driver) waitFailover(ctx context.Context, old string, timeout time.Duration) (acquired, write time.Time, err error) {
	deadline := time.Now().Add(timeout)
	for {
		holder, rv, at := d.ck.leaseHolder()
		if holder != old && holder != "" {
			select {
			case write = <-d.ck.waitWrite(rv):
				return at, write, nil
			case <-time.After(time.Until(deadline)):
				return at, time.Time{}, fmt.Errorf("lease taken by %q but no controller write within %v", holder, timeout)
			case <-ctx.Done():
				return at, time.Time{}, ctx.Err()
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, time.Time{}, fmt.Errorf("lease still held by %q %v after the leader was killed", old, timeout)
		}
		if !d.sleep(ctx, 50*time.Millisecond) {
			return time.Time{}, time.Time{}, ctx.Err()
		}
	}
}

// settle waits until every job is finished (TTL jobs deleted) and no pod keeps the
// tracking finalizer, or SettleTimeout passes.
func (d *driver) settle(ctx context.Context) bool {
	deadline := time.Now().Add(d.cfg.SettleTimeout)
	for time.Now().Before(deadline) {
		if d.ck.settled() {
			return true
		}
		if !d.sleep(ctx, time.Second) {
			return false
		}
	}
	return false
}

func (d *driver) finish(evidenceDir string) {
	vs, outcomes, unverifiable := d.ck.verify(evidenceDir)
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.report
	r.Violations = append(r.Violations, vs...)
	r.JobsByOutcome, r.Unverifiable = outcomes, unverifiable
	r.Pods, _ = d.ck.counts()
	d.ck.mu.Lock()
	r.ControllerWrites = d.ck.writes
	d.ck.mu.Unlock()
	d.sup.mu.Lock()
	r.UnexpectedExits = d.sup.unexpectedExits
	for _, sl := range d.sup.slots {
		sl.mu.Lock()
		r.ControllerStarts += sl.starts
		sl.mu.Unlock()
	}
	d.sup.mu.Unlock()
	r.Duration = time.Since(r.Started)
}
