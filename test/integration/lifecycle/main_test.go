// Package lifecycle tests what the ported upstream suites leave implicit: ownership
// (claim, adopt, release), stray tracking finalizers, deletion of a BatchJob under each
// propagation policy, ttlSecondsAfterFinished, the exact events, and the triggers of a
// pass (the contract in internal/plan/doc.go: expectations, ownership, stray finalizers, TTL, events, deletion). Each test
// runs in its own namespace with its own controller manager narrowed to it. No garbage
// collector runs in envtest, so deletions are asserted as requested (deletionTimestamp,
// finalizers), not as done.
package lifecycle

import (
	"os"
	"testing"

	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	os.Exit(framework.RunSuite(m, func(e *framework.Env) error { env = e; return nil }))
}
