// Package kueue runs BatchJobs under Kueue end to end on local kwokctl clusters: Kueue's
// own manager (bin/kueue) and bin/batchjob-controller --kueue as separate processes on each
// cluster, pods run by KWOK's stages (config/kwok/stages).
//
// TestMain starts two clusters with hack/cluster.sh, each on its own name, ports and
// workdir: "worker", where queued BatchJobs run (the single-cluster tests use it too), and
// "manager", whose Kueue runs MultiKueue with the worker as its one worker cluster, the
// way the README's "Beyond one cluster" sets it up. Everything is stopped by PID at the
// end; E2E_KEEP_CLUSTER=1 leaves the clusters up for debugging.
package kueue

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/kueue"
	"github.com/batchjob-dev/batchjob/test/util"
	"github.com/batchjob-dev/batchjob/test/util/kueuetest"
)

// cluster is one local cluster with Kueue and our controller on it.
type cluster struct {
	name, port, probeAddr string
	dir, kubeconfig       string
	client                client.Client
	config                *rest.Config
	// extraKueueConfig is appended to its Kueue's Configuration.
	extraKueueConfig string
	stops            []func()
}

var (
	root   = util.RepoRoot()
	logDir = filepath.Join(root, "tmp", "e2e-kueue")
	worker = &cluster{name: "batchjob-e2e-worker", port: "17143", probeAddr: "127.0.0.1:17181"}
	// manager's Kueue dispatches BatchJobs whose spec.managedBy is MultiKueue's through
	// Kueue's generic adapter for custom jobs (feature MultiKueueAdaptersForCustomJobs,
	// on by default since Kueue 0.15).
	manager = &cluster{name: "batchjob-e2e-manager", port: "17243", probeAddr: "127.0.0.1:17281",
		extraKueueConfig: fmt.Sprintf("multiKueue:\n  externalFrameworks:\n  - name: %s\n", kueue.ExternalFramework)}
	// missing says why the suite cannot run (bin/kueue not built).
	missing string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	if missing = kueuetest.Missing(); missing != "" {
		return m.Run()
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		for _, c := range []*cluster{manager, worker} {
			c.stop()
		}
	}()
	for _, c := range []*cluster{worker, manager} {
		start := time.Now()
		if err := c.start(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e-kueue: cluster %s: %v\n", c.name, err)
			return 1
		}
		fmt.Printf("cluster %s with Kueue and the controller ready in %v\n", c.name, time.Since(start).Round(time.Second))
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e-kueue: logs in %s\n", logDir)
	}
	return code
}

// start brings the cluster up (a fresh one: a leftover from an interrupted run is removed
// first), installs Kueue's CRDs and config/kueue, and starts Kueue and the controller.
func (c *cluster) start() error {
	c.dir = filepath.Join(root, "tmp", "clusters", c.name)
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	_ = c.script(2*time.Minute, "down")
	if err := c.script(10*time.Minute, "up"); err != nil {
		return err
	}
	if os.Getenv("E2E_KEEP_CLUSTER") == "" {
		c.stops = append(c.stops, func() { _ = c.script(2*time.Minute, "down") })
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, kueue.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	if c.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	c.config = cfg
	if err := kueuetest.InstallCRDs(cfg); err != nil {
		return err
	}
	if out, err := c.kubectl("apply", "--server-side", "-k", filepath.Join(root, "config", "kueue")); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	stopKueue, err := kueuetest.Start(kueuetest.Options{Config: cfg, Client: c.client, Kubeconfig: c.kubeconfig,
		ExtraConfig: c.extraKueueConfig, LogFile: filepath.Join(logDir, c.name+"-kueue.log")})
	if err != nil {
		return err
	}
	c.stops = append(c.stops, stopKueue)
	return c.startController()
}

func (c *cluster) stop() {
	for i := len(c.stops) - 1; i >= 0; i-- {
		c.stops[i]()
	}
	c.stops = nil
}

// script runs hack/cluster.sh for this cluster.
func (c *cluster) script(timeout time.Duration, verb string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "cluster.sh"), verb)
	cmd.Env = append(os.Environ(), "CLUSTER_NAME="+c.name, "CLUSTER_PORT="+c.port, "CLUSTER_DIR="+c.dir, "KUBECONFIG=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func (c *cluster) kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(root, "bin", "kubectl"), append([]string{"--kubeconfig", c.kubeconfig}, args...)...).CombinedOutput()
	return string(out), err
}

// startController starts bin/batchjob-controller --kueue against the cluster and waits
// until its readiness probe answers.
func (c *cluster) startController() error {
	bin := filepath.Join(root, "bin", "batchjob-controller")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("controller binary: %w (run `make build`)", err)
	}
	logFile, err := os.Create(filepath.Join(logDir, c.name+"-controller.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--kueue", "--metrics-bind-address=0", "--health-probe-bind-address="+c.probeAddr, "--zap-devel")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the controller: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	c.stops = append(c.stops, func() {
		util.Terminate(cmd.Process, done, 15*time.Second)
		_ = logFile.Close()
	})
	if err := util.WaitReady("http://"+c.probeAddr+"/readyz", time.Minute, done); err != nil {
		return fmt.Errorf("the controller: %w; see %s", err, logFile.Name())
	}
	return nil
}
