// Package beyond tests, against a real etcd and kube-apiserver (envtest) with one real
// manager shared by the tests, the BatchJob fields that go beyond batch/v1 (the "Beyond
// batch/v1" table of the README): each is validated by the CRD, and each does what it
// says when set. No kubelet runs: the tests write pod status as a kubelet would.
package beyond

import (
	"os"
	"testing"

	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	os.Exit(framework.RunSuite(m, framework.WithSharedController(&env)))
}
