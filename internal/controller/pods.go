package controller

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	"github.com/batchjob-dev/batchjob/internal/plan"
)

// deletePods deletes the planned pods concurrently. Scale-down and suspend deletions strip
// the tracking finalizer first, so those pods are never counted. NotFound is success.
func (r *Reconciler) deletePods(ctx context.Context, job *v1alpha1.BatchJob, dels []plan.Deletion) error {
	errs := parallel(len(dels), func(i int) error {
		pod := dels[i].Pod
		err := r.deletePod(ctx, pod, dels[i].StripFinalizerFirst)
		if err != nil {
			r.mem.deletionObserved(job.UID, pod.UID) // will not be observed
			if apierrors.IsConflict(err) {
				return err // it finished meanwhile: the next pass counts it
			}
			r.Recorder.Eventf(job, pod, corev1.EventTypeWarning, "FailedDelete", "DeletePod", "Error deleting: %v", err)
			return fmt.Errorf("deleting pod %s: %w", klog.KObj(pod), err)
		}
		r.Recorder.Eventf(job, pod, corev1.EventTypeNormal, "SuccessfulDelete", "DeletePod", "Deleted pod: %s", pod.Name)
		return nil
	})
	return joinErrors(errs...)
}

func (r *Reconciler) deletePod(ctx context.Context, pod *corev1.Pod, stripFirst bool) error {
	if stripFirst && jobpod.HasFinalizer(pod) {
		if err := StripFinalizerIfUnfinished(ctx, r.Client, pod); err != nil {
			return err
		}
	}
	// The UID precondition keeps a pod re-created under the same name safe.
	err := r.Client.Delete(ctx, pod.DeepCopy(), client.Preconditions{UID: &pod.UID})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// createPods creates pods in slow-start batches of 1, 2, 4, ... so that a systematic
// failure (quota, admission) costs one API call, not hundreds. When a create fails, the
// rest of the batch still completes but later batches are skipped; their expectations are
// lowered. It returns how many pods were not created, and the first error.
func (r *Reconciler) createPods(ctx context.Context, job *v1alpha1.BatchJob, pods []*corev1.Pod, reason string) (int, error) {
	for start, batch := 0, 1; start < len(pods); start, batch = start+batch, batch*2 {
		n := min(batch, len(pods)-start)
		errs := parallel(n, func(i int) error { return r.createPod(ctx, job, pods[start+i], reason) })
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
			}
		}
		if failed > 0 {
			skipped := len(pods) - start - n
			r.mem.creationObserved(job.UID, failed+skipped)
			if skipped > 0 {
				ctrl.LoggerFrom(ctx).V(2).Info("Slow-start skipped pod creations after a failure", "skipped", skipped)
			}
			return failed + skipped, joinErrors(errs...)
		}
	}
	return 0, nil
}

// createPod creates one planned pod. A timeout is treated as success, as upstream does: the
// pod was probably created and the informer will tell; its expectation stays.
func (r *Reconciler) createPod(ctx context.Context, job *v1alpha1.BatchJob, planned *corev1.Pod, reason string) error {
	// The plan's pods are complete (internal/podbuilder: namespace, labels the pod cache is
	// filtered on, ownerReference, tracking finalizer).
	pod := planned.DeepCopy()
	err := r.Client.Create(ctx, pod)
	switch {
	case err == nil:
		metrics.PodsCreationTotal.WithLabelValues(reason, metrics.ResultSucceeded).Inc()
		r.Recorder.Eventf(job, pod, corev1.EventTypeNormal, "SuccessfulCreate", "CreatePod", "Created pod: %s", pod.Name)
		return nil
	case apierrors.IsTimeout(err):
		ctrl.LoggerFrom(ctx).Info("Pod creation timed out; waiting for the informer", "err", err)
		return nil
	default:
		metrics.PodsCreationTotal.WithLabelValues(reason, metrics.ResultFailed).Inc()
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			r.Recorder.Eventf(job, nil, corev1.EventTypeWarning, "FailedCreate", "CreatePod", "Error creating: %v", err)
		}
		return fmt.Errorf("creating pod: %w", err)
	}
}

// markStartupFailures sets the BatchJobPodStartupFailed condition on each pod that
// spec.podStartupPolicy fails, with a strategic merge patch of its status (the conditions
// merge by type, so the kubelet's own stay). A pod that already has it, or is gone, needs
// nothing.
func (r *Reconciler) markStartupFailures(ctx context.Context, fs []plan.StartupFailure) error {
	errs := parallel(len(fs), func(i int) error {
		f := fs[i]
		for _, c := range f.Pod.Status.Conditions {
			if c.Type == v1alpha1.PodStartupFailedCondition && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		cond := corev1.PodCondition{
			Type: v1alpha1.PodStartupFailedCondition, Status: corev1.ConditionTrue,
			Reason: f.Reason, Message: f.Message, LastTransitionTime: f.Time,
		}
		patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{cond}}})
		if err != nil {
			return err
		}
		err = r.Client.Status().Patch(ctx, f.Pod.DeepCopy(), client.RawPatch(types.StrategicMergePatchType, patch))
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("setting %s on pod %s: %w", v1alpha1.PodStartupFailedCondition, klog.KObj(f.Pod), err)
		}
		return nil
	})
	return joinErrors(errs...)
}
