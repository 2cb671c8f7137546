package beyond

import (
	"context"
	"strings"
	"testing"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// waitForState waits until status.state is want.
func waitForState(t *testing.T, job *v1alpha1.BatchJob, want string) *v1alpha1.BatchJob {
	t.Helper()
	var got *v1alpha1.BatchJob
	framework.Eventually(t, "status.state "+want, func() (bool, string) {
		got = env.GetJob(t, job)
		return got.Status.State == want, "state " + got.Status.State
	})
	return got
}

// wantRejected creates job and expects the API server to refuse it with a message that
// contains every part of want.
func wantRejected(t *testing.T, job *v1alpha1.BatchJob, want ...string) {
	t.Helper()
	err := env.Client.Create(context.Background(), job.DeepCopy())
	if err == nil {
		t.Fatalf("created %s; want it rejected with %q", job.Name, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// newJob is a one-container ("main") BatchJob with restartPolicy Never in ns
// (testutil.MakeBareBatchJob), with spec, if not nil, applied.
func newJob(ns, name string, spec func(*v1alpha1.BatchJobSpec)) *v1alpha1.BatchJob {
	w := testutil.MakeBareBatchJob(name, ns)
	if spec != nil {
		w.WithSpec(spec)
	}
	return w.Obj()
}
