package controller

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// The controller caches objects without managedFields (as kube-controller-manager's
// informers do) and writes status from those copies: the API server must keep the stored
// managedFields, the creator's entry and the status writer's.
func TestManagedFieldsKeptOnStatusWrites(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("fields", ns).Parallelism(2).Completions(2).Obj())
	env.WaitForActivePods(t, job, 2)
	if _, err := env.SetJobPodsPhase(job, corev1.PodSucceeded, 2); err != nil {
		t.Fatal(err)
	}
	got := env.WaitForCondition(t, job, v1alpha1.JobComplete, "")
	var spec, status bool
	var entries []string
	for _, mf := range got.ManagedFields {
		entries = append(entries, fmt.Sprintf("%s/%s/%q", mf.Manager, mf.Operation, mf.Subresource))
		spec = spec || (mf.Subresource == "" && mf.FieldsV1 != nil)
		status = status || (mf.Subresource == "status" && mf.FieldsV1 != nil)
	}
	if !spec || !status {
		t.Errorf("managedFields of the finished job: %v; want the creator's entry and the status writer's", entries)
	}
}
