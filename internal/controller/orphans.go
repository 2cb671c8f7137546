package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// orphanReconciler strips the tracking finalizer from pods that no BatchJob will ever count,
// so that nothing stays stuck Terminating: pods whose controller BatchJob is gone, and pods
// without a controller that no BatchJob would adopt. Pods of an existing BatchJob are left
// alone: those of a job managed by another controller are not ours, and the BatchJob
// reconciler releases those of a finished or deleting job itself.
type orphanReconciler struct {
	client    client.Client
	apiReader client.Reader
}

func (o *orphanReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	pod := &corev1.Pod{}
	if err := o.client.Get(ctx, req.NamespacedName, pod); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !jobpod.HasFinalizer(pod) {
		return reconcile.Result{}, nil
	}
	strip, err := o.shouldStrip(ctx, pod)
	if err != nil || !strip {
		return reconcile.Result{}, err
	}
	if err := stripFinalizer(ctx, o.client, pod); err != nil {
		return reconcile.Result{}, err
	}
	ctrl.LoggerFrom(ctx).V(4).Info("Removed tracking finalizer from orphan pod")
	return reconcile.Result{}, nil
}

func (o *orphanReconciler) shouldStrip(ctx context.Context, pod *corev1.Pod) (bool, error) {
	ref := controllerRefOf(pod)
	if ref == nil {
		if hasAnyController(pod) {
			return false, nil // someone else's pod; not ours to touch
		}
		for _, job := range matchingJobs(ctx, o.client, pod) {
			if job.IsManagedByThisController() && job.DeletionTimestamp == nil && !job.Status.IsFinished() {
				return false, nil // that job will adopt it
			}
		}
		return true, nil
	}
	key := types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}
	job := &v1alpha1.BatchJob{}
	err := o.client.Get(ctx, key, job)
	if err == nil && job.UID != ref.UID || apierrors.IsNotFound(err) {
		// The cache says gone; confirm with the API server before acting on it.
		err = o.apiReader.Get(ctx, key, job)
	}
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, err
	default:
		return job.UID != ref.UID, nil
	}
}

// jobPodsHandler enqueues, for the orphan reconciler, the pods of a deleted BatchJob that
// still carry the tracking finalizer.
func (o *orphanReconciler) jobPodsHandler() handler.TypedEventHandler[client.Object, reconcile.Request] {
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		DeleteFunc: func(ctx context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
			if job, ok := e.Object.(*v1alpha1.BatchJob); ok {
				o.enqueuePods(ctx, job, q)
			}
		},
	}
}

// Whatever the deleted job's managedBy was: once it is gone nobody will count its pods,
// as upstream strips them after a Job delete (JC:649, JC:836-861).
func (o *orphanReconciler) enqueuePods(ctx context.Context, job *v1alpha1.BatchJob, q queue) {
	var pods corev1.PodList
	if err := o.client.List(ctx, &pods, client.InNamespace(job.Namespace),
		client.MatchingFields{PodControllerUIDIndex: string(job.UID)}); err != nil {
		return
	}
	for i := range pods.Items {
		if jobpod.HasFinalizer(&pods.Items[i]) {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pods.Items[i])})
		}
	}
}
