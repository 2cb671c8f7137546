package beyond

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestTTLSecondsAfterFailure: with ttlSecondsAfterFinished 1 and ttlSecondsAfterFailure
// 3600, a completed BatchJob goes at once and a failed one stays; lowering the failure TTL
// of the failed one (it is mutable) deletes it. The CRD rejects a negative value.
func TestTTLSecondsAfterFailure(t *testing.T) {
	ns := env.NewNamespace(t, "ttl-after-failure")
	wantRejected(t, newJob(ns, "neg", func(s *v1alpha1.BatchJobSpec) { s.TTLSecondsAfterFailure = ptr.To[int32](-1) }),
		"spec.ttlSecondsAfterFailure")
	spec := func(s *v1alpha1.BatchJobSpec) {
		s.BackoffLimit = ptr.To[int32](0)
		s.TTLSecondsAfterFinished, s.TTLSecondsAfterFailure = ptr.To[int32](1), ptr.To[int32](3600)
	}
	ok := env.CreateJob(t, newJob(ns, "ok", spec))
	bad := env.CreateJob(t, newJob(ns, "bad", spec))
	env.SetPodPhase(t, &env.WaitForActivePods(t, ok, 1)[0], corev1.PodSucceeded, 0)
	env.SetPodPhase(t, &env.WaitForActivePods(t, bad, 1)[0], corev1.PodFailed, 1)
	env.WaitForCondition(t, bad, v1alpha1.JobFailed, v1alpha1.ReasonBackoffLimitExceeded)
	waitForDeletion(t, ok)
	framework.Consistently(t, 2*time.Second, "the failed job kept", func() (bool, string) {
		return !deletionRequested(t, bad), "deleted"
	})
	env.MustUpdateJob(t, bad, func(j *v1alpha1.BatchJob) { j.Spec.TTLSecondsAfterFailure = ptr.To[int32](0) })
	waitForDeletion(t, bad)
}

// deletionRequested reports whether the job is gone or its (foreground) deletion was
// requested: no garbage collector runs in envtest to finish it.
func deletionRequested(t *testing.T, job *v1alpha1.BatchJob) bool {
	got := &v1alpha1.BatchJob{}
	err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(job), got)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("Getting %s: %v", job.Name, err)
	}
	return err != nil || got.DeletionTimestamp != nil
}

func waitForDeletion(t *testing.T, job *v1alpha1.BatchJob) {
	t.Helper()
	framework.Eventually(t, fmt.Sprintf("%s deleted by its TTL", job.Name), func() (bool, string) {
		return deletionRequested(t, job), "not deleted"
	})
}
