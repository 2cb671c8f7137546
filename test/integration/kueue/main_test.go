// Package kueue tests the Kueue integration (--kueue, internal/kueue) against a real etcd and
// kube-apiserver (envtest) with Kueue's CRDs, Kueue's own manager (bin/kueue, built from its
// pinned module by `make tools-kueue`) running as a separate process, and our manager
// in-process with the integration on. As in the other suites no kubelet runs: the tests play
// it by writing pod status.
package kueue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/batchjob-dev/batchjob/internal/kueue"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
	"github.com/batchjob-dev/batchjob/test/util"
	"github.com/batchjob-dev/batchjob/test/util/kueuetest"
)

var (
	env *framework.Env
	// missing says why Kueue is not running (bin/kueue not built); the tests skip with it.
	missing string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run is framework.RunSuite with Kueue's process stopped before the API server.
func run(m *testing.M) int {
	e, err := framework.StartEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env = e
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	if missing = kueuetest.Missing(); missing != "" {
		return m.Run()
	}
	start := time.Now()
	stopKueue, err := setUp(e)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopKueue()
	defer e.StopShared()
	fmt.Printf("Kueue and the controller ready in %v\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// serviceAccount is the controller's identity in config/rbac; the tests' controller runs as
// it, with exactly the RBAC of config/rbac and config/kueue.
const serviceAccount = "system:serviceaccount:batchjob-system:batchjob-controller"

// setUp installs Kueue's CRDs, config/kueue (the admission policy and the integration's
// RBAC) and config/rbac, starts Kueue, and starts the shared controller with the Kueue
// integration as the controller's ServiceAccount.
func setUp(e *framework.Env) (stop func(), err error) {
	if err := kueue.AddToScheme(e.Scheme); err != nil {
		return nil, err
	}
	if err := kueuetest.InstallCRDs(e.Config); err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "batchjob-system"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		return nil, err
	}
	for _, dir := range []string{"rbac", "kueue"} {
		if err := util.ApplyDir(e.Config, filepath.Join(util.RepoRoot(), "config", dir)); err != nil {
			return nil, err
		}
	}
	if stop, err = kueuetest.Start(kueuetest.Options{Config: e.Config, Client: e.Client}); err != nil {
		return nil, err
	}
	err = e.StartShared(framework.ControllerOptions{
		PodFailureBackoff: framework.FastPodFailureBackoff,
		Kueue:             true,
		WrapConfig: func(c *rest.Config) {
			c.Impersonate = rest.ImpersonationConfig{UserName: serviceAccount}
		},
	})
	if err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

func requireKueue(t *testing.T) {
	t.Helper()
	if missing != "" {
		t.Skip(missing)
	}
}
