package controller

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// RBAC for exactly what the controllers and the manager do.
// +kubebuilder:rbac:groups=batchjob.dev,resources=batchjobs,verbs=get;list;watch;patch;delete
// +kubebuilder:rbac:groups=batchjob.dev,resources=batchjobs/status,verbs=update
// +kubebuilder:rbac:groups=batchjob.dev,resources=batchjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete;patch
// +kubebuilder:rbac:groups="",resources=pods/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

const (
	// PodControllerUIDIndex indexes pods by the UID of their controller BatchJob, or
	// noController for pods without a controller (adoption candidates). Indexing by UID,
	// never by name, keeps a re-created BatchJob from seeing its predecessor's pods.
	PodControllerUIDIndex = "batchjob.dev/controller-uid"
	noController          = "<none>"
	// OrphanControllerName names the controller that strips stray tracking finalizers.
	OrphanControllerName = "batchjob-orphan-pods"
)

// CacheOptions narrows the pod informer to pods that carry the controller-uid label, so the
// cache grows with BatchJob pods, not with every pod of the cluster. Pods the controller
// creates always carry it. Trade-off: with manualSelector, orphan pods that lack the label
// are invisible, so they are neither adopted nor cleaned up.
//
// Cached objects are kept without their managedFields, as kube-controller-manager's
// informers keep them: nothing here reads them, they are a large part of each object, and a
// status write of an object without them sends less (the API server keeps the stored ones
// when a write omits them). Cached pods also keep only the part of their spec the
// controller reads (trimPodSpec).
func CacheOptions(namespaces []string) cache.Options {
	req, err := labels.NewRequirement(v1alpha1.ControllerUIDLabel, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant key; cannot fail
	}
	opts := cache.Options{
		DefaultTransform: trimForCache,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Label: labels.NewSelector().Add(*req)},
		},
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

// trimForCache drops what the controller never reads from an object entering the cache.
func trimForCache(obj any) (any, error) {
	obj, err := stripManagedFields(obj)
	if pod, ok := obj.(*corev1.Pod); ok && err == nil {
		trimPodSpec(pod)
	}
	return obj, err
}

var stripManagedFields = cache.TransformStripManagedFields()

// trimPodSpec keeps of a pod's spec only what the controller reads: the node (failure
// records, avoiding failed nodes) and each container's name, resources (the memory of a
// replacement after an OOM kill) and restart policy (sidecars, in deletion order and
// finish times). The rest of the spec (volumes, images, commands, environment, mounts,
// probes, tolerations, ...) is most of a pod's memory, and a controller holding every
// finished pod of every job pays for it per pod. Pods are only ever written with patches
// that name their own fields, never from a cached copy.
func trimPodSpec(pod *corev1.Pod) {
	pod.Spec = corev1.PodSpec{
		NodeName:       pod.Spec.NodeName,
		InitContainers: trimContainers(pod.Spec.InitContainers),
		Containers:     trimContainers(pod.Spec.Containers),
	}
}

func trimContainers(in []corev1.Container) []corev1.Container {
	if in == nil {
		return nil
	}
	out := make([]corev1.Container, len(in))
	for i := range in {
		out[i] = corev1.Container{Name: in[i].Name, Resources: in[i].Resources, RestartPolicy: in[i].RestartPolicy}
	}
	return out
}

// SetupWithManager registers the field index, the BatchJob reconciler and the orphan-pod
// reconciler with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	if r.Recorder == nil {
		rec, err := newEventRecorder(mgr)
		if err != nil {
			return err
		}
		r.Recorder = newSimilarEvents(rec, r.Clock)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &corev1.Pod{}, PodControllerUIDIndex, indexPodController); err != nil {
		return err
	}
	pods := &podHandler{client: r.Client, mem: r.mem}
	err := ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1alpha1.BatchJob{}, builder.WithPredicates(notStatusOnly)).
		Watches(&v1alpha1.BatchJob{}, &jobStatusHandler{pods: pods}).
		Watches(&corev1.Pod{}, pods).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		WithLogConstructor(logConstructor(mgr.GetLogger(), ControllerName)).
		Complete(r)
	if err != nil {
		return err
	}
	orphans := &orphanReconciler{client: r.Client, apiReader: r.APIReader}
	return ctrl.NewControllerManagedBy(mgr).
		Named(OrphanControllerName).
		For(&corev1.Pod{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			pod, ok := o.(*corev1.Pod)
			return ok && jobpod.HasFinalizer(pod)
		}))).
		Watches(&v1alpha1.BatchJob{}, orphans.jobPodsHandler()).
		WithOptions(controller.Options{MaxConcurrentReconciles: 1}).
		WithLogConstructor(logConstructor(mgr.GetLogger(), OrphanControllerName)).
		Complete(orphans)
}

func indexPodController(obj client.Object) []string {
	ref := controllerRefOf(obj)
	if ref == nil {
		if hasAnyController(obj) {
			return nil // controlled by something else: never ours
		}
		return []string{noController}
	}
	return []string{string(ref.UID)}
}

// logConstructor gives every pass one key naming its object, as klog.KObj would.
func logConstructor(base logr.Logger, name string) func(*reconcile.Request) logr.Logger {
	key := "batchjob"
	if name == OrphanControllerName {
		key = "pod"
	}
	return func(req *reconcile.Request) logr.Logger {
		log := base.WithValues("controller", name)
		if req != nil {
			log = log.WithValues(key, klog.KRef(req.Namespace, req.Name))
		}
		return log
	}
}
