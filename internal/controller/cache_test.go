package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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

// Cached pods keep what the controller reads of their spec (the node, and each
// container's name, resources and restart policy) and all of their metadata and status;
// the rest of the spec (volumes, images, environment, tolerations, ...) is dropped, as it
// is most of a pod's memory and nothing here reads it.
func TestCacheTrimsPodSpec(t *testing.T) {
	sidecar := corev1.ContainerRestartPolicyAlways
	res := corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}
	full := corev1.PodSpec{
		NodeName:      "node-1",
		RestartPolicy: corev1.RestartPolicyNever,
		Volumes:       []corev1.Volume{{Name: "kube-api-access"}},
		Tolerations:   []corev1.Toleration{{Key: "node.kubernetes.io/not-ready"}},
		InitContainers: []corev1.Container{{Name: "proxy", Image: "proxy:1", RestartPolicy: &sidecar, Resources: res,
			Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}},
		Containers: []corev1.Container{{Name: "main", Image: "main:1", Command: []string{"run"}, Resources: res,
			VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run"}}}},
	}
	pod := testutil.MakePod("pod", "ns").Label("app", "x").PodSpec(&full).
		Exited("main", 1, time.Unix(100, 0)).Finalizer("f").Obj()
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
	want := pod.DeepCopy()
	want.ManagedFields = nil
	want.Spec = corev1.PodSpec{
		NodeName:       "node-1",
		InitContainers: []corev1.Container{{Name: "proxy", RestartPolicy: &sidecar, Resources: res}},
		Containers:     []corev1.Container{{Name: "main", Resources: res}},
	}

	out, err := CacheOptions(nil).DefaultTransform(pod)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("cached pod (-want +got):\n%s", diff)
	}
}
