// Package controller tests the BatchJob controller end to end against a real etcd and
// kube-apiserver (envtest), with the real manager started in-process and shared by the
// tests (test/integration/framework). No kubelet, scheduler or garbage collector runs: the
// tests play the kubelet by writing pod status through the status subresource, and assert
// that deletions were requested rather than completed.
package controller

import (
	"os"
	"testing"

	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var env *framework.Env

// sharedControllerOptions shortens the pod failure backoff as upstream's tests do, so a
// replaced pod does not cost 10s; TestBackoffDelaysReplacement runs with the real one.
var sharedControllerOptions = framework.ControllerOptions{PodFailureBackoff: framework.FastPodFailureBackoff}

func TestMain(m *testing.M) {
	os.Exit(framework.RunSuite(m, func(e *framework.Env) error {
		env = e
		return env.StartShared(sharedControllerOptions)
	}))
}
