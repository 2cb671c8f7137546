// Package upstream ports Kubernetes' own Job integration tests
// (k8s.io/kubernetes test/integration/job/job_test.go, v1.37.2) to BatchJob: same steps,
// same expected counters, conditions and reasons. Each test runs in its own namespace with
// its own in-process controller manager, narrowed to that namespace, which the test may
// stop and start again as upstream restarts its Job controller. No kubelet, scheduler or
// garbage collector runs; tests play the kubelet through the pods' status subresource
// (test/integration/framework). Upstream's label, annotation and finalizer names are
// replaced by ours (API.md).
package upstream

import (
	"os"
	"testing"

	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	os.Exit(framework.RunSuite(m, func(e *framework.Env) error { env = e; return nil }))
}
