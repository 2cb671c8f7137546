package controller

import (
	"context"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/metrics"
)

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

// podHandler maps pod events to the BatchJob that controls the pod (or, for orphans, to the
// BatchJobs whose selector matches) and records what the events prove about expectations.
// A quiet job's pass is enqueued at once; a busy job's is delayed by its pass budget so that
// many pod updates fold into one pass (upstream delays every pod-triggered sync by 1 s).
type podHandler struct {
	client client.Reader
	mem    *jobMemory
}

// enqueue adds a pass of the job key, whose UID the event names, now or, for a busy job,
// when its budget allows. A pass for an event that moves the job towards its end (progress:
// a pod finished, deleted, or its tracking finalizer gone) goes ahead of the queue when the
// job's last write left it near its end (nearEndPriority). Other events (a pod created,
// running or ready, the job's own status writes) keep their place, so that they fold into
// the pass a later event brings ahead instead of each costing a pass of their own.
//
// An event about a pod of an older job of the same name (deleted and re-created) is not the
// live job's business: its pods are listed by UID, and the orphan reconciler strips the
// finalizers of pods whose job is gone.
func (h *podHandler) enqueue(q queue, key types.NamespacedName, uid types.UID, progress bool) {
	if !h.mem.isLive(key, uid) {
		return
	}
	addPass(q, reconcile.Request{NamespacedName: key}, h.mem.passDelay(uid), progress && h.mem.isNearEnd(uid))
}

func (h *podHandler) Create(ctx context.Context, e event.TypedCreateEvent[client.Object], q queue) {
	pod, ok := e.Object.(*corev1.Pod)
	if !ok {
		return
	}
	recordTrackingFinalizer(nil, pod)
	if ref := controllerRefOf(pod); ref != nil {
		key := types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}
		h.mem.creationObserved(ref.UID, 1)
		if pod.DeletionTimestamp != nil {
			h.mem.deletionObserved(ref.UID, pod.UID)
		}
		h.enqueue(q, key, ref.UID, false)
		return
	}
	h.enqueueMatchingJobs(ctx, pod, q)
}

func (h *podHandler) Update(ctx context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	oldPod, ok1 := e.ObjectOld.(*corev1.Pod)
	newPod, ok2 := e.ObjectNew.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	recordTrackingFinalizer(oldPod, newPod)
	oldRef, newRef := controllerRefOf(oldPod), controllerRefOf(newPod)
	if newRef != nil {
		key := types.NamespacedName{Namespace: newPod.Namespace, Name: newRef.Name}
		if newPod.DeletionTimestamp != nil && oldPod.DeletionTimestamp == nil {
			h.mem.deletionObserved(newRef.UID, newPod.UID)
		}
		if !jobpod.HasFinalizer(newPod) {
			h.mem.finalizerRemovalObserved(newRef.UID, newPod.UID)
		}
		progress := (!jobpod.IsTerminal(oldPod) && jobpod.IsTerminal(newPod)) ||
			(jobpod.HasFinalizer(oldPod) && !jobpod.HasFinalizer(newPod))
		h.enqueue(q, key, newRef.UID, progress)
	}
	if oldRef != nil && (newRef == nil || oldRef.UID != newRef.UID) {
		// Released or re-parented: the old owner must recount, and its pending removal
		// for this pod can never be observed through it any more.
		key := types.NamespacedName{Namespace: oldPod.Namespace, Name: oldRef.Name}
		h.mem.finalizerRemovalObserved(oldRef.UID, oldPod.UID)
		h.mem.deletionObserved(oldRef.UID, oldPod.UID)
		h.enqueue(q, key, oldRef.UID, false)
	}
	if newRef == nil && metav1.GetControllerOfNoCopy(newPod) == nil {
		h.enqueueMatchingJobs(ctx, newPod, q)
		if !labels.Equals(oldPod.Labels, newPod.Labels) {
			h.enqueueMatchingJobs(ctx, oldPod, q)
		}
	}
}

func (h *podHandler) Delete(ctx context.Context, e event.TypedDeleteEvent[client.Object], q queue) {
	pod, ok := e.Object.(*corev1.Pod)
	if !ok {
		return
	}
	recordTrackingFinalizer(pod, nil)
	ref := controllerRefOf(pod)
	if ref == nil {
		h.enqueueMatchingJobs(ctx, pod, q)
		return
	}
	key := types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}
	if pod.DeletionTimestamp == nil {
		// Maybe not a deletion: a pod that loses the label the cache is filtered on is
		// reported deleted too (in its previous state, labels included). Only an immediate
		// deletion also comes without a deletionTimestamp; the next pass tells the two apart
		// with one GET and releases a pod that still exists but no longer matches.
		h.mem.podLeftCache(ref.UID, pod.Name)
	}
	h.mem.deletionObserved(ref.UID, pod.UID)
	h.mem.finalizerRemovalObserved(ref.UID, pod.UID)
	h.enqueue(q, key, ref.UID, true)
}

func (h *podHandler) Generic(context.Context, event.TypedGenericEvent[client.Object], queue) {}

// enqueueMatchingJobs enqueues every BatchJob of pod's namespace whose selector matches the
// orphan pod, so it can adopt it.
func (h *podHandler) enqueueMatchingJobs(ctx context.Context, pod *corev1.Pod, q queue) {
	jobs, err := matchingJobs(ctx, h.client, pod)
	if err != nil {
		// The cache answers lists from memory; this only fails before it is synced, and
		// the initial list of BatchJobs brings every job for a pass anyway.
		ctrl.LoggerFrom(ctx).Error(err, "Listing BatchJobs that may adopt a pod", "pod", klog.KObj(pod))
		return
	}
	for _, job := range jobs {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: job.Namespace, Name: job.Name}})
	}
}

// matchingJobs lists the cached BatchJobs of pod's namespace whose selector matches pod.
func matchingJobs(ctx context.Context, c client.Reader, pod *corev1.Pod) ([]*v1alpha1.BatchJob, error) {
	var list v1alpha1.BatchJobList
	if err := c.List(ctx, &list, client.InNamespace(pod.Namespace)); err != nil {
		return nil, err
	}
	var out []*v1alpha1.BatchJob
	for i := range list.Items {
		job := &list.Items[i]
		if job.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, job)
	}
	return out, nil
}

// recordTrackingFinalizer counts terminal pods gaining or losing the tracking finalizer.
func recordTrackingFinalizer(oldPod, newPod *corev1.Pod) {
	was := oldPod != nil && jobpod.IsTerminal(oldPod) && jobpod.HasFinalizer(oldPod)
	is := newPod != nil && jobpod.IsTerminal(newPod) && jobpod.HasFinalizer(newPod)
	switch {
	case is && !was:
		metrics.TerminatedPodsTrackingFinalizerTotal.WithLabelValues(metrics.EventAdd).Inc()
	case was && !is:
		metrics.TerminatedPodsTrackingFinalizerTotal.WithLabelValues(metrics.EventDelete).Inc()
	}
}

// statusOnly reports whether an update of a BatchJob changed nothing but its status (and
// resourceVersion or managed fields): mostly the controller's own writes.
func statusOnly(oldObj, newObj client.Object) bool {
	return oldObj.GetGeneration() == newObj.GetGeneration() &&
		oldObj.GetDeletionTimestamp().Equal(newObj.GetDeletionTimestamp()) &&
		maps.Equal(oldObj.GetLabels(), newObj.GetLabels()) &&
		maps.Equal(oldObj.GetAnnotations(), newObj.GetAnnotations()) &&
		slices.Equal(oldObj.GetFinalizers(), newObj.GetFinalizers())
}

// jobStatusHandler enqueues a pass for a status-only update of a BatchJob the way pod
// events are enqueued: at once for a quiet job, on its budget for a busy one. Otherwise
// every status write of a busy job would trigger another immediate pass, and with it
// another status write. Every other BatchJob event is enqueued at once by the For handler
// (see notStatusOnly); this one only moves it ahead for a job near its end.
type jobStatusHandler struct {
	pods *podHandler
}

func (h *jobStatusHandler) Create(context.Context, event.TypedCreateEvent[client.Object], queue) {}
func (h *jobStatusHandler) Delete(context.Context, event.TypedDeleteEvent[client.Object], queue) {}
func (h *jobStatusHandler) Generic(context.Context, event.TypedGenericEvent[client.Object], queue) {
}

func (h *jobStatusHandler) Update(_ context.Context, e event.TypedUpdateEvent[client.Object], q queue) {
	key, uid := client.ObjectKeyFromObject(e.ObjectNew), e.ObjectNew.GetUID()
	if statusOnly(e.ObjectOld, e.ObjectNew) {
		h.pods.enqueue(q, key, uid, false)
		return
	}
	// Enqueued at once by the For handler; moved ahead when the job is near its end (the
	// generated selector of a one-pod job was just written, say).
	if h.pods.mem.isLive(key, uid) && h.pods.mem.isNearEnd(uid) {
		addPass(q, reconcile.Request{NamespacedName: key}, 0, true)
	}
}

// notStatusOnly lets through every BatchJob event but status-only updates.
var notStatusOnly = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool { return !statusOnly(e.ObjectOld, e.ObjectNew) },
}
