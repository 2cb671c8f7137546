package lifecycle

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/controller"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// A pod deleted uncounted (suspend, scale-down) is released only if it is still in the
// phase the plan saw. The chaos run found a pod that succeeded 69 ms before a suspend
// stripped its finalizer: its success was never counted and the index ran again. Against
// the real API server: a stale copy gets a Conflict and the finalizer stays; the pod's
// current phase lets the strip through.
func TestStripFinalizerOnlyIfUnfinished(t *testing.T) {
	ns := env.NewNamespace(t, "rb-strip")
	fin := []string{"example.com/other", v1alpha1.JobTrackingFinalizer}
	pod := createPod(t, newPod(ns, "p", map[string]string{v1alpha1.ControllerUIDLabel: "x"}, fin))
	t.Cleanup(func() { removePodFinalizers(t, ns, "p") })
	env.SetPodPhase(t, pod, corev1.PodRunning, 0)
	seenRunning := getPod(t, ns, "p")
	env.SetPodPhase(t, seenRunning.DeepCopy(), corev1.PodSucceeded, 0)

	err := controller.StripFinalizerIfUnfinished(ctx, env.Client, seenRunning)
	if !apierrors.IsConflict(err) {
		t.Fatalf("strip of a pod seen Running that has Succeeded: error %v, want a Conflict", err)
	}
	if got := getPod(t, ns, "p"); !jobpod.HasFinalizer(got) {
		t.Fatalf("the finalizer of a succeeded pod was removed uncounted: %v", got.Finalizers)
	}
	if err := controller.StripFinalizerIfUnfinished(ctx, env.Client, getPod(t, ns, "p")); err != nil {
		t.Fatalf("strip with the pod's current phase: %v", err)
	}
	if got := getPod(t, ns, "p"); jobpod.HasFinalizer(got) || len(got.Finalizers) != 1 {
		t.Errorf("finalizers after the strip: %v, want only example.com/other", got.Finalizers)
	}
}
