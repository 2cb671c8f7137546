package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// batchJobKind is the ownerReference kind of the pods a BatchJob controls.
const batchJobKind = "BatchJob"

// removeFinalizerPatch removes only the tracking finalizer, whatever other finalizers the
// pod has and whatever its resourceVersion: a strategic-merge directive needs no read.
var removeFinalizerPatch = client.RawPatch(types.StrategicMergePatchType,
	fmt.Appendf(nil, `{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q]}}`, v1alpha1.JobTrackingFinalizer))

// controllerRefOf returns pod's controller ownerReference if it names a BatchJob.
func controllerRefOf(pod client.Object) *metav1.OwnerReference {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != batchJobKind {
		return nil
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil || gv.Group != v1alpha1.GroupVersion.Group {
		return nil
	}
	return ref
}

// stripFinalizer removes the tracking finalizer from pod. A pod that is already gone is fine.
func stripFinalizer(ctx context.Context, c client.Client, pod *corev1.Pod) error {
	if err := c.Patch(ctx, pod.DeepCopy(), removeFinalizerPatch); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// completionMode is the label value for metrics (defaulted: NonIndexed).
func completionMode(job *v1alpha1.BatchJob) string {
	if job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == v1alpha1.IndexedCompletion {
		return string(v1alpha1.IndexedCompletion)
	}
	return string(v1alpha1.NonIndexedCompletion)
}

// hasAnyController reports whether obj has a controller ownerReference of any kind.
func hasAnyController(obj metav1.Object) bool {
	return metav1.GetControllerOfNoCopy(obj) != nil
}
