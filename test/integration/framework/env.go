// Package framework starts what the integration suites share: a real etcd and
// kube-apiserver with the BatchJob CRD and admission policies (envtest), and the real
// controller manager in-process, which a test can stop and start again (controller
// restarts) and narrow to its own namespaces (isolation between tests); and the helpers
// the suites share: namespaces (jobs.go), pod listing (pods.go), the kubelet-playing
// status writers (kubelet.go), waits (wait.go), status checks (status.go), events and
// metrics. The suites' TestMain is RunSuite (suite.go).
package framework

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/util"
)

// Env is a running API server with the BatchJob CRD installed.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme

	testEnv *envtest.Environment
	shared  shared
}

// StartEnv starts etcd and kube-apiserver (util.StartEnv) and waits until BatchJobs can
// be created. Logs of the controllers go to stderr when BATCHJOB_TEST_LOG is set.
func StartEnv() (*Env, error) {
	if os.Getenv("BATCHJOB_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapcore.Level(-4))))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	testEnv, cfg, err := util.StartEnv()
	if err != nil {
		return nil, err
	}
	// Tests create and update pods in bursts; the default 5 QPS would dominate runtime.
	cfg.QPS, cfg.Burst = 1000, 2000
	e := &Env{Config: cfg, Scheme: scheme, testEnv: testEnv}
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		_ = testEnv.Stop()
		return nil, err
	}
	if err := e.waitForCRD(); err != nil {
		_ = testEnv.Stop()
		return nil, err
	}
	return e, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error { return e.testEnv.Stop() }

// waitForCRD waits until a BatchJob can be created (dry run) and the mutating admission
// policy defaults it: the policies need the CRD's OpenAPI schema, which the API server
// publishes a little after the CRD is established; until then creates fail with "Resource
// kind ... not found". A create can also pass before the policy is active and fail once it
// is (its type check not yet resolved), so it waits for three defaulted creates in a row.
func (e *Env) waitForCRD() error {
	probe := &v1alpha1.BatchJob{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"},
		Spec: v1alpha1.BatchJobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
		}}},
	}
	var last error
	inARow := 0
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			created := probe.DeepCopy()
			last = e.Client.Create(ctx, created, client.DryRunAll)
			switch {
			case last != nil:
				inARow = 0
			case created.Spec.BackoffLimit == nil:
				inARow, last = 0, fmt.Errorf("the defaulting admission policy is not active yet")
			default:
				inARow++
			}
			return inARow == 3, nil
		})
	if err != nil {
		return fmt.Errorf("BatchJobs cannot be created: %w", last)
	}
	return nil
}
