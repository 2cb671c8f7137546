package controller

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
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
	if err != nil {
		return reconcile.Result{}, err // retried with backoff; nothing is stripped on an error
	}
	if !strip {
		// A live job should adopt (or already counts) it. Look again later in case it
		// never does; BatchJob updates that change the answer requeue it sooner.
		return reconcile.Result{RequeueAfter: orphanRecheck}, nil
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
		if pod.DeletionTimestamp != nil {
			return true, nil // no job adopts a pod being deleted; it would stay Terminating
		}
		jobs, err := matchingJobs(ctx, o.client, pod)
		if err != nil {
			return false, err
		}
		for _, job := range jobs {
			if willAdopt(job) {
				return false, nil
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

// orphanRecheck is how often a pod left to a job that should adopt it is looked at again.
const orphanRecheck = time.Minute

// willAdopt reports whether job would adopt a matching orphan on its next pass.
func willAdopt(job *v1alpha1.BatchJob) bool {
	return job.IsManagedByThisController() && job.DeletionTimestamp == nil && !job.Status.IsFinished()
}

// jobPodsHandler enqueues, for the orphan reconciler, the pods whose fate a BatchJob event
// may decide: those of a deleted BatchJob that still carry the tracking finalizer, and
// orphans with the finalizer that a job stopped being willing to adopt (it finished, is
// being deleted, or was handed to another controller).
func (o *orphanReconciler) jobPodsHandler() handler.TypedEventHandler[client.Object, reconcile.Request] {
	return handler.TypedFuncs[client.Object, reconcile.Request]{
		DeleteFunc: func(ctx context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
			if job, ok := e.Object.(*v1alpha1.BatchJob); ok {
				o.enqueuePods(ctx, job, q)
				o.enqueueOrphans(ctx, job, q)
			}
		},
		UpdateFunc: func(ctx context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
			oldJob, ok1 := e.ObjectOld.(*v1alpha1.BatchJob)
			newJob, ok2 := e.ObjectNew.(*v1alpha1.BatchJob)
			if ok1 && ok2 && willAdopt(oldJob) && !willAdopt(newJob) {
				o.enqueueOrphans(ctx, newJob, q)
			}
		},
	}
}

// enqueueOrphans enqueues the pods without a controller in job's namespace that carry the
// tracking finalizer.
func (o *orphanReconciler) enqueueOrphans(ctx context.Context, job *v1alpha1.BatchJob, q queue) {
	var pods corev1.PodList
	if err := o.client.List(ctx, &pods, client.InNamespace(job.Namespace), client.UnsafeDisableDeepCopy,
		client.MatchingFields{PodControllerUIDIndex: noController}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing orphan pods", "batchjob", klog.KObj(job))
		return
	}
	for i := range pods.Items {
		if jobpod.HasFinalizer(&pods.Items[i]) {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pods.Items[i])})
		}
	}
}

// Whatever the deleted job's managedBy was: once it is gone nobody will count its pods,
// as upstream strips them after a Job delete (Controller.deleteJob and
// Controller.cleanupPodFinalizers).
func (o *orphanReconciler) enqueuePods(ctx context.Context, job *v1alpha1.BatchJob, q queue) {
	var pods corev1.PodList
	if err := o.client.List(ctx, &pods, client.InNamespace(job.Namespace), client.UnsafeDisableDeepCopy,
		client.MatchingFields{PodControllerUIDIndex: string(job.UID)}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing pods of a deleted BatchJob", "batchjob", klog.KObj(job))
		return
	}
	for i := range pods.Items {
		if jobpod.HasFinalizer(&pods.Items[i]) {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&pods.Items[i])})
		}
	}
}
