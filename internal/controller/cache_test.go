package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// Objects enter the cache without managedFields, as kube-controller-manager's informers
// trim them; everything else is kept.
func TestCacheStripsManagedFields(t *testing.T) {
	transform := CacheOptions(nil).DefaultTransform
	if transform == nil {
		t.Fatal("CacheOptions has no DefaultTransform")
	}
	fields := []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}
	job := testutil.MakeBatchJob("job", "ns").Obj()
	job.ManagedFields = fields
	pod := testutil.MakePod("pod", "ns").Label("app", "x").Obj()
	pod.ManagedFields = fields
	for _, obj := range []client.Object{job, pod} {
		out, err := transform(obj)
		if err != nil {
			t.Fatalf("%T: %v", obj, err)
		}
		o := out.(client.Object)
		if o.GetManagedFields() != nil || o.GetName() != obj.GetName() {
			t.Errorf("%T after the transform: name %q, managedFields %v; want the name kept and no managedFields", obj, o.GetName(), o.GetManagedFields())
		}
	}
	if pod.Labels["app"] != "x" {
		t.Errorf("pod labels %v, want app=x kept", pod.Labels)
	}
}
