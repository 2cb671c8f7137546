// Package upstream ports Kubernetes' own Job integration tests
// (k8s.io/kubernetes test/integration/job/job_test.go, v1.37.2) to BatchJob: same steps,
// same expected counters, conditions and reasons. Each test runs in its own namespace with
// its own in-process controller manager, narrowed to that namespace, which the test may
// stop and start again as upstream restarts its Job controller. No kubelet, scheduler or
// garbage collector runs; tests play the kubelet through the pods' status subresource.
// Upstream's label, annotation and finalizer names are replaced by ours (API.md).
package upstream

import (
	"fmt"
	"os"
	"testing"

	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if env, err = framework.StartEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	return m.Run()
}
