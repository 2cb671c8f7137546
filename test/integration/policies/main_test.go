// Package policies ports upstream's Job integration tests (test/integration/job/job_test.go
// in k8s.io/kubernetes v1.37.2) for pod failure policies, backoffLimitPerIndex and success
// policies, and runs them against a real etcd and kube-apiserver (envtest) with one real
// manager, shared by the tests, started in-process (test/integration/framework). No
// kubelet, scheduler or garbage collector runs: the tests play the kubelet by writing pod
// status through the status subresource, as upstream does. The other ported tests live in
// test/integration/upstream.
package policies

import (
	"os"
	"testing"

	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	os.Exit(framework.RunSuite(m, framework.WithSharedController(&env)))
}
