// Package api tests the BatchJob API as the API server serves it: the CRD schema, its CEL
// validation rules, the admission policies of config/admission and the printer columns,
// against a real etcd and kube-apiserver (envtest).
package api

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchjobv1alpha1 "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/util"
)

var (
	cfg *rest.Config
	// etcdURL is the test etcd's client URL, for seeding objects the API would refuse.
	etcdURL   string
	k8sClient client.Client
	scheme    = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := batchjobv1alpha1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
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
	etcdURL = env.ControlPlane.Etcd.URL.String()
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := waitForAdmissionPolicies(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// waitForAdmissionPolicies waits until the API server enforces the policies of
// config/admission: they take effect asynchronously after they are created.
func waitForAdmissionPolicies() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		defaulted := testutil.MakeBareBatchJob("admission-probe", ns).Obj()
		if err := k8sClient.Create(ctx, defaulted, client.DryRunAll); err != nil || defaulted.Spec.BackoffLimit == nil {
			return false, nil
		}
		invalid := testutil.MakeBareBatchJob("admission-probe", ns).PodFailurePolicy(withContainer(
			testutil.ExitCodes(batchjobv1alpha1.PodFailurePolicyActionFailJob, batchjobv1alpha1.PodFailurePolicyOnExitCodesOpIn, 1), "nope")).Obj()
		return k8sClient.Create(ctx, invalid, client.DryRunAll) != nil, nil
	})
}
