package kueue

import (
	"context"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/util"
)

// The samples of config/samples/kueue, as a user applies them (in a namespace of the test
// rather than default): the queued BatchJob is created suspended, admitted, runs 3 pods at
// a time and completes its 6 completions; its Workload ends Finished.
func TestSamples(t *testing.T) {
	requireKueue(t)
	ctx := context.Background()
	ns := env.NewNamespace(t, "kueue-samples")
	var objs []*unstructured.Unstructured
	for _, f := range []string{"queues.yaml", "queued-job.yaml"} {
		o, err := util.ReadObjects(filepath.Join(util.RepoRoot(), "config", "samples", "kueue", f))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	var job *v1alpha1.BatchJob
	for _, o := range objs {
		if o.GetNamespace() != "" {
			o.SetNamespace(ns)
		}
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("Creating %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if o.GetNamespace() == "" {
			t.Cleanup(func() { _ = env.Client.Delete(ctx, o) })
		}
		if o.GetKind() == "BatchJob" {
			job = &v1alpha1.BatchJob{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), job); err != nil {
				t.Fatal(err)
			}
		}
	}
	if job.Spec.Suspend == nil || !*job.Spec.Suspend {
		t.Fatalf("The queued sample was created with suspend=%v, want true", job.Spec.Suspend)
	}
	for range 2 {
		env.WaitForActivePods(t, job, 3)
		succeed(t, job, 3)
	}
	waitFinished(t, job, 6)
}
