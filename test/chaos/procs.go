package chaos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// slot is one controller replica: the supervisor keeps a process running in it, restarting
// it after every exit (our SIGKILLs and any crash), until the slot is stopped.
type slot struct {
	id      int
	args    []string
	mu      sync.Mutex
	cmd     *exec.Cmd
	logPath string
	started time.Time
	done    chan struct{} // closed when the current process has exited
	killed  bool          // the current process was killed by us
	stopped bool
	starts  int
	exited  chan struct{} // closed when the slot's loop has ended
}

// supervisor runs controller replicas from bin/batchjob-controller, each in its own slot,
// and kills them by PID only.
type supervisor struct {
	bin, logDir, kubeconfig string
	tl                      *Timeline
	unexpectedExits         int
	mu                      sync.Mutex
	slots                   []*slot
}

// startSlot starts a replica whose health probe listens on port id.
func (s *supervisor) startSlot(ctx context.Context, id int, leaderElect bool) *slot {
	args := []string{
		"--metrics-bind-address=0",
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", id),
		"--zap-log-level=info",
	}
	if leaderElect {
		args = append(args, "--leader-elect", "--leader-election-namespace="+leaseNamespace)
	}
	sl := &slot{id: id, args: args, exited: make(chan struct{})}
	s.mu.Lock()
	s.slots = append(s.slots, sl)
	s.mu.Unlock()
	go s.loop(ctx, sl)
	return sl
}

func (s *supervisor) loop(ctx context.Context, sl *slot) {
	defer close(sl.exited)
	for {
		sl.mu.Lock()
		if sl.stopped || ctx.Err() != nil {
			sl.mu.Unlock()
			return
		}
		sl.starts++
		sl.logPath = filepath.Join(s.logDir, fmt.Sprintf("controller-%d-%03d.log", sl.id, sl.starts))
		f, err := os.Create(sl.logPath)
		if err != nil {
			sl.mu.Unlock()
			s.tl.add("slot %d: %v", sl.id, err)
			return
		}
		cmd := exec.Command(s.bin, sl.args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig)
		cmd.Stdout, cmd.Stderr = f, f
		// Its own process group, so a Ctrl-C of the driver reaches the driver only and the
		// driver stops every controller itself, by PID.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			sl.mu.Unlock()
			_ = f.Close()
			s.tl.add("slot %d: starting the controller: %v", sl.id, err)
			return
		}
		sl.cmd, sl.started, sl.killed, sl.done = cmd, time.Now(), false, make(chan struct{})
		done := sl.done
		s.tl.add("slot %d: controller started, pid %d", sl.id, cmd.Process.Pid)
		sl.mu.Unlock()

		err = cmd.Wait()
		_ = f.Close()
		sl.mu.Lock()
		close(done)
		pause := 100 * time.Millisecond
		if !sl.killed && !sl.stopped {
			pause = time.Second // e.g. no API server to talk to: do not spin
			s.mu.Lock()
			s.unexpectedExits++
			s.mu.Unlock()
			s.tl.add("slot %d: controller pid %d exited by itself: %v (log %s)", sl.id, cmd.Process.Pid, err, sl.logPath)
		}
		sl.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// kill sends SIGKILL to the slot's current process and waits until it has exited; the
// slot's loop then starts a new one. It returns the PID killed.
func (sl *slot) kill(ctx context.Context) (int, error) {
	sl.mu.Lock()
	if !sl.aliveLocked() {
		sl.mu.Unlock()
		return 0, fmt.Errorf("slot %d has no running process", sl.id)
	}
	sl.killed = true
	pid, done := sl.cmd.Process.Pid, sl.done
	err := sl.cmd.Process.Signal(syscall.SIGKILL)
	sl.mu.Unlock()
	if err != nil {
		return pid, err
	}
	select {
	case <-done:
		return pid, nil
	case <-ctx.Done():
		return pid, ctx.Err()
	}
}

// aliveLocked reports whether the slot has a live process; sl.mu is held.
func (sl *slot) aliveLocked() bool {
	if sl.cmd == nil {
		return false
	}
	select {
	case <-sl.done:
		return false
	default:
		return true
	}
}

// isLeader reports whether the slot's current process has logged that it acquired the
// leader-election Lease (client-go's leaderelection logs it through klog to stderr).
func (sl *slot) isLeader() bool {
	sl.mu.Lock()
	path := sl.logPath
	alive := sl.aliveLocked()
	sl.mu.Unlock()
	if !alive {
		return false
	}
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(bytes.ToLower(b), []byte("successfully acquired lease"))
}

// stop ends the slot: SIGTERM to its process, SIGKILL after grace, and no restart.
func (sl *slot) stop(grace time.Duration) {
	sl.mu.Lock()
	sl.stopped = true
	var done chan struct{}
	if sl.aliveLocked() {
		_ = sl.cmd.Process.Signal(syscall.SIGTERM)
		done = sl.done
	}
	sl.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-time.After(grace):
			sl.mu.Lock()
			sl.killed = true
			_ = sl.cmd.Process.Signal(syscall.SIGKILL)
			sl.mu.Unlock()
			<-done
		}
	}
	<-sl.exited
}

// stopAll stops every slot (used at the end, also on failure).
func (s *supervisor) stopAll() {
	s.mu.Lock()
	slots := append([]*slot(nil), s.slots...)
	s.mu.Unlock()
	for _, sl := range slots {
		sl.stop(10 * time.Second)
	}
}
