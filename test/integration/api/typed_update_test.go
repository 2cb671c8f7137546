package api

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batchjobv1alpha1 "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestTypedUpdateOfManifestCreatedJob: a BatchJob created from a YAML-like manifest (no
// `resources` on its container) and then updated by a Go client, which always serializes
// `resources: {}`, must not be rejected as a template change. Upstream compares Go structs,
// where the two are equal; the CRD gets there through a schema default.
func TestTypedUpdateOfManifestCreatedJob(t *testing.T) {
	ctx := ctxT(t)
	name := uniqueName("typed-update")
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batchjob.dev/v1alpha1",
		"kind":       "BatchJob",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"template": map[string]any{
				"spec": map[string]any{
					"restartPolicy":  "Never",
					"containers":     []any{map[string]any{"name": "main", "image": "busybox"}},
					"initContainers": []any{map[string]any{"name": "init", "image": "busybox"}},
				},
			},
		},
	}}
	if err := k8sClient.Create(ctx, u); err != nil {
		t.Fatalf("creating from a manifest: %v", err)
	}
	job := &batchjobv1alpha1.BatchJob{}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(u), job); err != nil {
		t.Fatal(err)
	}
	job.Spec.Suspend = ptr.To(true)
	job.Spec.Parallelism = ptr.To[int32](2)
	if err := k8sClient.Update(ctx, job); err != nil {
		t.Fatalf("a typed Update changing only suspend and parallelism was rejected: %v", err)
	}
	// A real template change is still refused.
	job.Spec.Template.Spec.Containers[0].Image = "busybox:other"
	expectError(t, k8sClient.Update(ctx, job), "spec.template")
}
