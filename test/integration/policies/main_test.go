// Package policies ports upstream's Job integration tests (test/integration/job/job_test.go
// in k8s.io/kubernetes v1.37.2) for pod failure policies, backoffLimitPerIndex, success
// policies, podReplacementPolicy, elastic Indexed jobs and templates mutable while
// suspended, and runs them against a real etcd and kube-apiserver (envtest) with the real
// manager started in-process. No kubelet, scheduler or garbage collector runs: the tests
// play the kubelet by writing pod status through the status subresource, as upstream does.
package policies

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/controller"
	"github.com/batchjob-dev/batchjob/test/util"
)

var (
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = runtime.NewScheme()

	mgrMu   sync.Mutex
	mgrStop func()
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("BATCHJOB_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapcore.Level(-4))))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	env, c, err := util.StartEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	cfg = c
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := waitForCRD(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := startManager(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopManager()
	return m.Run()
}

// startManager starts the real manager, as main wires it, with the real clock.
func startManager() error {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  controller.CacheOptions(nil),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Restarting the manager in one process re-registers the same controller names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	if err := controller.NewReconciler(mgr, clock.RealClock{}).SetupWithManager(mgr, 5); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	mgrMu.Lock()
	mgrStop = func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}
	mgrMu.Unlock()
	return nil
}

func stopManager() {
	mgrMu.Lock()
	defer mgrMu.Unlock()
	if mgrStop != nil {
		mgrStop()
		mgrStop = nil
	}
}

// restartManager plays upstream's controller restart: the new manager starts with empty
// memory (expectations, backoff records) and a fresh cache.
func restartManager(t *testing.T) {
	t.Helper()
	stopManager()
	if err := startManager(); err != nil {
		t.Fatalf("restarting the manager: %v", err)
	}
}

// waitForCRD waits until a BatchJob can be created (dry run): the mutating admission
// policies need the CRD's OpenAPI schema, published a little after the CRD is established.
func waitForCRD() error {
	probe := &v1alpha1.BatchJob{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"},
		Spec: v1alpha1.BatchJobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
		}}},
	}
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			last = k8sClient.Create(ctx, probe.DeepCopy(), client.DryRunAll)
			return last == nil, nil
		})
	if err != nil {
		return fmt.Errorf("BatchJobs cannot be created: %w", last)
	}
	return nil
}
