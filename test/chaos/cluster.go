package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster is the run's own kwokctl cluster, started with hack/cluster.sh on the run's
// name, port and workdir (all on 127.0.0.1), so it never touches a developer's or the e2e
// suite's cluster.
type cluster struct {
	root, name, dir string
	port            int
	tl              *Timeline
}

func (c *cluster) kubeconfig() string { return filepath.Join(c.dir, "kubeconfig") }

func (c *cluster) env() []string {
	return append(os.Environ(),
		"CLUSTER_NAME="+c.name, "CLUSTER_PORT="+strconv.Itoa(c.port), "CLUSTER_DIR="+c.dir, "KUBECONFIG=",
		// The pod garbage collector too, as on a real cluster: it fails pods that are
		// deleted before they are scheduled, so they cannot keep a finalizer forever.
		"KCM_CONTROLLERS=garbage-collector-controller,serviceaccount-controller,namespace-controller,pod-garbage-collector-controller",
		// No client-side throttling in the control plane: on two cores the CPU is the limit.
		"DISABLE_QPS_LIMITS=true",
	)
}

func (c *cluster) script(ctx context.Context, timeout time.Duration, verb string, logTo *os.File) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.root, "hack", "cluster.sh"), verb)
	cmd.Env = c.env()
	cmd.Stdout, cmd.Stderr = logTo, logTo
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("hack/cluster.sh %s: %w", verb, err)
	}
	return nil
}

// up starts a fresh cluster (removing a leftover one of the same name first).
func (c *cluster) up(ctx context.Context, logTo *os.File) error {
	_ = c.script(ctx, 2*time.Minute, "down", logTo)
	return c.script(ctx, 10*time.Minute, "up", logTo)
}

// down deletes the cluster; kwokctl stops every component by the PID it recorded.
func (c *cluster) down(logTo *os.File) error {
	return c.script(context.Background(), 2*time.Minute, "down", logTo)
}

func (c *cluster) restConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig())
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	return cfg, nil
}

func (c *cluster) pidFile(component string) string {
	return filepath.Join(c.dir, "clusters", c.name, "pids", component+".pid")
}

func (c *cluster) pid(component string) (int, error) {
	b, err := os.ReadFile(c.pidFile(component))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// restartAPIServer kills kube-apiserver by the PID kwokctl recorded, keeps it down for
// downtime, starts it again through kwokctl and waits until it is ready. It returns how
// long the API was unavailable.
func (c *cluster) restartAPIServer(ctx context.Context, downtime time.Duration, logTo *os.File) (time.Duration, error) {
	pid, err := c.pid("kube-apiserver")
	if err != nil {
		return 0, fmt.Errorf("kube-apiserver PID: %w", err)
	}
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return 0, fmt.Errorf("stopping kube-apiserver (pid %d): %w", pid, err)
	}
	c.tl.add("kube-apiserver pid %d: SIGTERM", pid)
	// Its graceful shutdown drains watches for up to a minute: after 5 s it is killed.
	killed := false
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(pid, 0) == nil; {
		if time.Now().After(deadline) && !killed {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			killed = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.tl.add("kube-apiserver pid %d gone after %v (SIGKILL needed: %v); down for %v more", pid, time.Since(start).Round(time.Millisecond), killed, downtime)
	time.Sleep(downtime)
	if err := c.kwokctl(ctx, time.Minute, logTo, "start", "cluster", "--name", c.name); err != nil {
		return time.Since(start), err
	}
	if err := c.waitReady(ctx, 2*time.Minute); err != nil {
		return time.Since(start), err
	}
	newPID, _ := c.pid("kube-apiserver")
	c.tl.add("kube-apiserver ready again, pid %d", newPID)
	return time.Since(start), nil
}

func (c *cluster) kwokctl(ctx context.Context, timeout time.Duration, logTo *os.File, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bin := filepath.Join(c.root, "bin")
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "kwokctl"), args...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+c.dir, "PATH="+bin+":"+os.Getenv("PATH"), "KUBECONFIG=")
	cmd.Stdout, cmd.Stderr = logTo, logTo
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kwokctl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// waitReady polls kube-apiserver's /readyz until it answers 200.
func (c *cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	cfg, err := c.restConfig()
	if err != nil {
		return err
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	hc.Timeout = 5 * time.Second
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(cfg.Host + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready after %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// components kwokctl runs, by their pid file names.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller"}

// watchdog plays the kubelet of the control plane's static pods: every two seconds it
// checks the components by their recorded PIDs and has kwokctl start those that died
// (kube-scheduler and kube-controller-manager exit when they cannot renew their leader
// Lease while kube-apiserver is down). It returns when ctx ends, after pausing while
// pause() is true (the driver's own kube-apiserver restart).
func (c *cluster) watchdog(ctx context.Context, logTo *os.File, pause func() bool, restarted func(string)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		if pause() {
			continue
		}
		var dead []string
		for _, name := range components {
			pid, err := c.pid(name)
			if err != nil || syscall.Kill(pid, 0) != nil {
				dead = append(dead, name)
			}
		}
		if len(dead) == 0 {
			continue
		}
		c.tl.add("control plane: %v not running; kwokctl start cluster", dead)
		if err := c.kwokctl(ctx, 2*time.Minute, logTo, "start", "cluster", "--name", c.name); err != nil {
			c.tl.add("control plane: %v", err)
			continue
		}
		for _, name := range dead {
			restarted(name)
		}
	}
}
