// Package controller tests the BatchJob controller end to end against a real etcd and
// kube-apiserver (envtest), with the real manager started in-process and shared by the
// tests (test/integration/framework), with upstream's test-shortened pod failure backoff
// (TestBackoffDelaysReplacement swaps in the production one). No kubelet, scheduler or garbage collector runs: the
// tests play the kubelet by writing pod status through the status subresource, and assert
// that deletions were requested rather than completed.
package controller

import (
	"os"
	"testing"

	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	os.Exit(framework.RunSuite(m, framework.WithSharedController(&env)))
}
