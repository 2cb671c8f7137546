// Package e2e runs the BatchJob controller binary against a local kwokctl cluster (real
// etcd, kube-apiserver, kube-controller-manager with the garbage collector, scheduler, and
// KWOK simulating kubelets through config/kwok/stages) and drives it with kubectl, the
// way a user would.
//
// TestMain starts the cluster with hack/cluster.sh on its own name, port and workdir (so it
// never touches a developer's `make run` cluster) and bin/batchjob-controller as a separate
// process; both are stopped by PID at the end. E2E_KEEP_CLUSTER=1 leaves the cluster up
// for debugging (hack/cluster.sh down with the same CLUSTER_NAME removes it).
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/batchjob-dev/batchjob/test/util"
)

const (
	clusterName = "batchjob-e2e"
	clusterPort = "16543"
	probeAddr   = "127.0.0.1:16581"
)

var (
	root       = util.RepoRoot()
	kubectlBin = filepath.Join(root, "bin", "kubectl")
	clusterDir = filepath.Join(root, "tmp", "clusters", clusterName)
	kubeconfig = filepath.Join(clusterDir, "kubeconfig")
	logDir     = filepath.Join(root, "tmp", "e2e")
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The tests mostly wait for the cluster, so they run in parallel well beyond the
	// default of GOMAXPROCS (2 here) unless -test.parallel says otherwise.
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "16")
	}
	// A fresh cluster every run: a leftover one (from an interrupted run) holds old objects.
	_ = clusterScript(2*time.Minute, "down")
	if err := clusterScript(10*time.Minute, "up"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting the cluster: %v\n", err)
		return 1
	}
	if os.Getenv("E2E_KEEP_CLUSTER") == "" {
		defer func() {
			if err := clusterScript(2*time.Minute, "down"); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: stopping the cluster: %v\n", err)
			}
		}()
	}
	controller, err := startController()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	code := m.Run()
	stopByPID(controller, 15*time.Second)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: controller log: %s\n", filepath.Join(logDir, "controller.log"))
	}
	return code
}

// clusterScript runs hack/cluster.sh with this suite's cluster settings.
func clusterScript(timeout time.Duration, verb string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "cluster.sh"), verb)
	cmd.Env = append(os.Environ(),
		"CLUSTER_NAME="+clusterName, "CLUSTER_PORT="+clusterPort, "CLUSTER_DIR="+clusterDir, "KUBECONFIG=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// startController starts bin/batchjob-controller as a separate process and waits until
// its readiness probe answers.
func startController() (*exec.Cmd, error) {
	bin := filepath.Join(root, "bin", "batchjob-controller")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("controller binary: %w (run `make build`)", err)
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(logDir, "controller.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--metrics-bind-address=0", "--health-probe-bind-address="+probeAddr, "--zap-devel")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the controller: %w", err)
	}
	if err := util.WaitReady("http://"+probeAddr+"/readyz", time.Minute, nil); err != nil {
		stopByPID(cmd, 5*time.Second)
		return nil, fmt.Errorf("the controller: %w; see %s", err, logFile.Name())
	}
	return cmd, nil
}

// stopByPID sends SIGTERM to the process and, after grace, SIGKILL.
func stopByPID(cmd *exec.Cmd, grace time.Duration) {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	util.Terminate(cmd.Process, done, grace)
}
