package controller

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/plan"
	"github.com/batchjob-dev/batchjob/internal/podbuilder"
)

// claimPods carries out plan.ClaimPods: it releases the job's pods that no longer match
// its selector, checks pods that left the cache, adopts matching orphans after checking on
// the API server that the job may adopt, and returns the pods the job controls.
func (r *Reconciler) claimPods(ctx context.Context, job *v1alpha1.BatchJob) ([]*corev1.Pod, error) {
	owned, orphans, err := r.listCandidates(ctx, job)
	if err != nil {
		return nil, err
	}
	c := plan.ClaimPods(job, owned, orphans)
	if c.SelectorErr != nil {
		ctrl.LoggerFrom(ctx).Info("Invalid selector", "err", c.SelectorErr)
	}
	errs := make([]error, 0, len(c.Release)+1)
	for _, pod := range c.Release {
		errs = append(errs, r.release(ctx, job, pod))
	}
	if c.ReleaseLeftCache {
		errs = append(errs, r.releasePodsLeftCache(ctx, job, c.Selector))
	}
	claimed := c.Claimed
	if len(c.Adopt) == 0 {
		return claimed, joinErrors(errs...)
	}
	// A job that is gone or going adopts nothing, and that is no error.
	if ok, err := r.checkAdoptable(ctx, job); err != nil || !ok {
		return claimed, joinErrors(append(errs, err)...)
	}
	for _, pod := range c.Adopt {
		adopted, err := r.adopt(ctx, job, pod)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if adopted != nil {
			claimed = append(claimed, adopted)
		}
	}
	return claimed, joinErrors(errs...)
}

// listCandidates lists, from the cache, the pods controlled by job (by UID index) and the
// pods of its namespace without a controller. The pods share their fields with the cache
// (no deep copy: a busy job lists all its finished pods on every pass), so they are
// read-only: plan.Plan never mutates pods, and every write starts from a DeepCopy.
func (r *Reconciler) listCandidates(ctx context.Context, job *v1alpha1.BatchJob) (owned, orphans []*corev1.Pod, err error) {
	var list corev1.PodList
	if err := r.Client.List(ctx, &list, client.InNamespace(job.Namespace), client.UnsafeDisableDeepCopy,
		client.MatchingFields{PodControllerUIDIndex: string(job.UID)}); err != nil {
		return nil, nil, err
	}
	for i := range list.Items {
		owned = append(owned, &list.Items[i])
	}
	var orphanList corev1.PodList
	if err := r.Client.List(ctx, &orphanList, client.InNamespace(job.Namespace), client.UnsafeDisableDeepCopy,
		client.MatchingFields{PodControllerUIDIndex: noController}); err != nil {
		return nil, nil, err
	}
	for i := range orphanList.Items {
		orphans = append(orphans, &orphanList.Items[i])
	}
	return owned, orphans, nil
}

// checkAdoptable reports whether job still exists with its UID and is not being deleted.
func (r *Reconciler) checkAdoptable(ctx context.Context, job *v1alpha1.BatchJob) (bool, error) {
	fresh := &v1alpha1.BatchJob{}
	err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(job), fresh)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	if fresh.UID != job.UID || fresh.DeletionTimestamp != nil {
		ctrl.LoggerFrom(ctx).V(2).Info("Not adopting: the BatchJob was re-created or is being deleted",
			"uid", fresh.UID, "deleting", fresh.DeletionTimestamp != nil)
		return false, nil
	}
	return true, nil
}

// adopt makes job the controller of pod and adds the tracking finalizer in one patch that
// fails if the pod changed since it was read (someone else may have adopted it). It returns
// the patched pod, or nil if it vanished.
func (r *Reconciler) adopt(ctx context.Context, job *v1alpha1.BatchJob, pod *corev1.Pod) (*corev1.Pod, error) {
	patched := pod.DeepCopy()
	patched.OwnerReferences = append(patched.OwnerReferences, podbuilder.OwnerRef(job))
	if !jobpod.HasFinalizer(patched) {
		patched.Finalizers = append(patched.Finalizers, v1alpha1.JobTrackingFinalizer)
	}
	err := r.Client.Patch(ctx, patched, client.MergeFromWithOptions(pod, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adopting pod %s: %w", klog.KObj(pod), err)
	}
	ctrl.LoggerFrom(ctx).V(4).Info("Adopted pod", "pod", klog.KObj(pod))
	return patched, nil
}

// release removes job's ownerReference and the tracking finalizer from pod: it no longer
// matches the selector, so it is not the job's to count.
func (r *Reconciler) release(ctx context.Context, job *v1alpha1.BatchJob, pod *corev1.Pod) error {
	patched := pod.DeepCopy()
	patched.OwnerReferences = slices.DeleteFunc(patched.OwnerReferences, func(ref metav1.OwnerReference) bool {
		return ref.UID == job.UID
	})
	patched.Finalizers = slices.DeleteFunc(patched.Finalizers, func(f string) bool {
		return f == v1alpha1.JobTrackingFinalizer
	})
	err := r.Client.Patch(ctx, patched, client.MergeFromWithOptions(pod, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("releasing pod %s: %w", klog.KObj(pod), err)
	}
	ctrl.LoggerFrom(ctx).V(4).Info("Released pod", "pod", klog.KObj(pod))
	return nil
}

// releasePodsLeftCache reads from the API server the pods of job that dropped out of the
// label-filtered pod cache, and releases those it still controls that no longer match the
// selector (upstream, watching every pod, releases them in its normal claim). A pod that
// still matches (a manualSelector not based on our label) is left as it is: it is owned,
// but invisible to this controller until it carries the controller-uid label again.
func (r *Reconciler) releasePodsLeftCache(ctx context.Context, job *v1alpha1.BatchJob, sel labels.Selector) error {
	var errs []error
	for _, name := range r.mem.takePodsLeftCache(job.UID) {
		pod := &corev1.Pod{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: name}, pod)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			r.mem.podLeftCache(job.UID, name) // try again next pass
			errs = append(errs, err)
			continue
		}
		if !plan.Releasable(job, sel, pod) {
			continue
		}
		if err := r.release(ctx, job, pod); err != nil {
			r.mem.podLeftCache(job.UID, name)
			errs = append(errs, err)
		}
	}
	return joinErrors(errs...)
}
