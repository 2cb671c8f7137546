// Package cronjob runs the BatchCronJob controller (internal/cronjob) against a real etcd
// and kube-apiserver (envtest, test/integration/framework) with a fake clock: each test
// starts its own manager, narrowed to the test's namespace, with the BatchCronJob
// controller only, and steps the clock over scheduled times. No BatchJob controller runs:
// the tests play it by writing the created BatchJobs' status (Complete or Failed).
package cronjob

import (
	"os"
	"testing"

	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

var env *framework.Env

func TestMain(m *testing.M) {
	os.Exit(framework.RunSuite(m, func(e *framework.Env) error { env = e; return nil }))
}
