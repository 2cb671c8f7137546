package controller

import (
	"context"
	"fmt"
	"slices"

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

// StripFinalizerIfUnfinished removes the tracking finalizer of a pod about to be deleted
// uncounted (scale-down, suspend) only if the pod is still in the phase the plan saw: a
// pod that succeeded or failed in the meantime must be counted, not released, or its
// success is lost (found by the chaos run: a pod succeeded 69 ms before a suspend stripped
// it). A JSON patch tests the phase and the finalizer's position before removing it; a
// pod that moved on fails the test, which comes back as a Conflict so the pass is planned
// again from the newer pod.
func StripFinalizerIfUnfinished(ctx context.Context, c client.Client, pod *corev1.Pod) error {
	i := slices.Index(pod.Finalizers, v1alpha1.JobTrackingFinalizer)
	if i < 0 {
		return nil
	}
	ops := fmt.Appendf(nil, `[{"op":"test","path":"/status/phase","value":%q},`+
		`{"op":"test","path":"/metadata/finalizers/%d","value":%q},{"op":"remove","path":"/metadata/finalizers/%d"}]`,
		pod.Status.Phase, i, v1alpha1.JobTrackingFinalizer, i)
	err := c.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.JSONPatchType, ops))
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case apierrors.IsInvalid(err), apierrors.IsConflict(err), apierrors.IsBadRequest(err):
		// A failed JSON-patch test: the pod is not what the plan saw.
		return apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, pod.Name,
			fmt.Errorf("pod changed before its tracking finalizer was removed: %w", err))
	default:
		return err
	}
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
