package kueue

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	kueueapi "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// The RBAC this integration needs on top of the controller's is in
// config/kueue/rbac.yaml and the Helm chart's templates/kueue/rbac.yaml (rendered with
// kueue.enabled); it has no kubebuilder markers, so that `make manifests` keeps it out of
// the always-on role.

// ControllerName names the controller and its event reporter.
const ControllerName = "batchjob-kueue"

// ownerIndex indexes Workloads by the name of their controlling BatchJob, to find them once
// the job is gone.
const ownerIndex = "batchjob.dev/kueue-owner"

// AddToScheme adds Kueue's API types, which the integration reads and writes.
func AddToScheme(s *runtime.Scheme) error { return kueueapi.AddToScheme(s) }

// Reconciler runs the Workload protocol (Decide) for BatchJobs with a queue-name label.
type Reconciler struct {
	client.Client
	// APIReader reads the cluster-scoped ResourceFlavors and priority classes, which are read
	// only when a job is admitted or its Workload created, without caching them.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
}

// NewReconciler returns a Reconciler on the manager's clients.
func NewReconciler(mgr ctrl.Manager) *Reconciler {
	return &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder(ControllerName),
		Clock:     clock.RealClock{},
	}
}

// SetupWithManager registers the owner index and the controller: BatchJobs, and the
// Workloads they own.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &kueueapi.Workload{}, ownerIndex, func(o client.Object) []string {
		for _, ref := range o.GetOwnerReferences() {
			if ptr.Deref(ref.Controller, false) && ref.Kind == GVK.Kind && ref.APIVersion == GVK.GroupVersion().String() {
				return []string{ref.Name}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1alpha1.BatchJob{}).
		Watches(&kueueapi.Workload{}, handler.EnqueueRequestsFromMapFunc(r.jobsOfWorkload)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(r)
}

// jobsOfWorkload maps a Workload to the BatchJob that controls it and to the BatchJobs whose
// PrebuiltWorkloadLabel names it (waiting for it, or about to adopt it).
func (r *Reconciler) jobsOfWorkload(ctx context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, ref := range o.GetOwnerReferences() {
		if ptr.Deref(ref.Controller, false) && ref.Kind == GVK.Kind && ref.APIVersion == GVK.GroupVersion().String() {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.Name}})
		}
	}
	var jobs v1alpha1.BatchJobList
	if err := r.List(ctx, &jobs, client.InNamespace(o.GetNamespace()), client.MatchingLabels{PrebuiltWorkloadLabel: o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing the BatchJobs of a prebuilt Workload", "workload", klog.KObj(o))
		return reqs
	}
	for i := range jobs.Items {
		key := client.ObjectKeyFromObject(&jobs.Items[i])
		if len(reqs) == 0 || reqs[0].NamespacedName != key {
			reqs = append(reqs, reconcile.Request{NamespacedName: key})
		}
	}
	return reqs
}

// Reconcile makes one step of the protocol for the job req names.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	job := &v1alpha1.BatchJob{}
	if err := r.Get(ctx, req.NamespacedName, job); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.releaseWorkloads(ctx, req.NamespacedName, "")
		}
		return ctrl.Result{}, err
	}
	if job.DeletionTimestamp != nil {
		return ctrl.Result{}, r.releaseWorkloads(ctx, req.NamespacedName, job.UID)
	}
	if QueueName(job) == "" {
		return ctrl.Result{}, nil
	}
	wl, err := r.workloadOf(ctx, job)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := Decide(job, wl)
	if d.Action == None {
		return ctrl.Result{}, nil
	}
	ctrl.LoggerFrom(ctx).V(2).Info("Kueue step", "action", d.Action, "reason", d.Reason, "workload", klog.KObj(wl))
	err = r.act(ctx, job, wl, d)
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		// A write based on a stale cache: the next pass sees the newer object.
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, err
}

// workloadOf returns the job's Workload: the one named WorkloadName(job) and controlled by
// the job, nil when there is none. For a job with a PrebuiltWorkloadLabel it is the Workload
// the label names, controlled by the job or by nothing yet (Decide adopts it); one another
// object controls is not the job's, as in jobframework's ensureOneWorkload.
func (r *Reconciler) workloadOf(ctx context.Context, job *v1alpha1.BatchJob) (*kueueapi.Workload, error) {
	name, prebuilt := WorkloadName(job), PrebuiltWorkload(job)
	if prebuilt != "" {
		name = prebuilt
	}
	wl := &kueueapi.Workload{}
	err := r.Get(ctx, types.NamespacedName{Namespace: job.Namespace, Name: name}, wl)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	uid := ownerOf(wl)
	switch {
	case uid != nil && *uid == job.UID:
		return wl, nil
	case prebuilt != "" && uid == nil:
		return wl, nil
	case prebuilt != "":
		ctrl.LoggerFrom(ctx).V(2).Info("The prebuilt Workload is controlled by another object", "workload", klog.KObj(wl), "controller", *uid)
		return nil, nil
	}
	return nil, fmt.Errorf("workload %s exists and is not controlled by this BatchJob", klog.KObj(wl))
}

// adoptWorkload makes the job the controller of its prebuilt Workload and labels the
// Workload with the job's UID, as jobframework's EnsurePrebuiltWorkloadOwnership does.
func (r *Reconciler) adoptWorkload(ctx context.Context, job *v1alpha1.BatchJob, wl *kueueapi.Workload) error {
	nw := wl.DeepCopy()
	nw.OwnerReferences = append(nw.OwnerReferences, *metav1.NewControllerRef(job, GVK))
	if len(string(job.UID)) <= 63 {
		if nw.Labels == nil {
			nw.Labels = map[string]string{}
		}
		nw.Labels[JobUIDLabel] = string(job.UID)
	}
	return r.Update(ctx, nw, client.FieldOwner(FieldManager))
}

func ownerOf(wl *kueueapi.Workload) *types.UID {
	for _, ref := range wl.OwnerReferences {
		if ptr.Deref(ref.Controller, false) {
			return &ref.UID
		}
	}
	return nil
}

// releaseWorkloads drops the finalizer of the Workloads of a deleted job (all of them when
// uid is empty, the job being gone), as jobframework does; the garbage collector then
// deletes them.
func (r *Reconciler) releaseWorkloads(ctx context.Context, key types.NamespacedName, uid types.UID) error {
	var list kueueapi.WorkloadList
	if err := r.List(ctx, &list, client.InNamespace(key.Namespace), client.MatchingFields{ownerIndex: key.Name}); err != nil {
		return err
	}
	var errs []error
	for i := range list.Items {
		wl := &list.Items[i]
		if owner := ownerOf(wl); uid != "" && (owner == nil || *owner != uid) {
			continue
		}
		if hasFinalizer(wl) {
			errs = append(errs, client.IgnoreNotFound(r.removeFinalizer(ctx, wl)))
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) act(ctx context.Context, job *v1alpha1.BatchJob, wl *kueueapi.Workload, d Decision) error {
	switch d.Action {
	case CreateWorkload:
		return r.createWorkload(ctx, job)
	case AdoptWorkload:
		return r.adoptWorkload(ctx, job, wl)
	case UpdateWorkload, UpdateQueueName, UpdatePriority:
		return r.updateWorkload(ctx, job, wl, d.Action)
	case Start:
		return r.start(ctx, job, wl, d)
	case Suspend:
		return r.suspend(ctx, job, wl, d)
	case Restore:
		nj := job.DeepCopy()
		if info, ok := restoreInfo(wl); ok {
			RestoreTemplate(nj, info)
		}
		delete(nj.Annotations, StoppingAnnotation)
		return r.patchJob(ctx, job, nj)
	case ClearAdmission:
		return r.patchWorkloadStatus(ctx, wl, func(w *kueueapi.Workload) {
			ClearAdmissionStatus(w, d.Reason, d.Message, r.Clock.Now())
		})
	case Finish:
		if err := r.patchWorkloadStatus(ctx, wl, func(w *kueueapi.Workload) {
			SetFinished(w, d.Reason, d.Message, r.Clock.Now())
		}); err != nil {
			return err
		}
		r.event(job, corev1.EventTypeNormal, "FinishedWorkload", "Workload '%s' is declared finished", klog.KObj(wl))
		return nil
	case RemoveFinalizer:
		return r.removeFinalizer(ctx, wl)
	}
	return nil
}

// createWorkload creates the job's Workload with its priority.
func (r *Reconciler) createWorkload(ctx context.Context, job *v1alpha1.BatchJob) error {
	ref, prio, err := r.priority(ctx, job)
	if err != nil {
		return err
	}
	nw := NewWorkload(job, ref, prio)
	if err := r.Create(ctx, nw, client.FieldOwner(FieldManager)); err != nil {
		return err
	}
	r.event(job, corev1.EventTypeNormal, "CreatedWorkload", "Created Workload: %s", klog.KObj(nw))
	return nil
}

// updateWorkload rewrites the Workload from the job: the queue name (UpdateQueueName), the
// pod sets and priority too (UpdateWorkload), or the priority alone (UpdatePriority).
func (r *Reconciler) updateWorkload(ctx context.Context, job *v1alpha1.BatchJob, wl *kueueapi.Workload, action Action) error {
	nw := wl.DeepCopy()
	if action != UpdatePriority {
		nw.Spec.QueueName = kueueapi.LocalQueueName(QueueName(job))
	}
	if action != UpdateQueueName {
		ref, prio, err := r.priority(ctx, job)
		if err != nil {
			return err
		}
		nw.Spec.PriorityClassRef, nw.Spec.Priority = ref, ptr.To(prio)
	}
	if action == UpdateWorkload {
		nw.Spec.PodSets = PodSets(job)
	}
	if err := r.Update(ctx, nw, client.FieldOwner(FieldManager)); err != nil {
		return err
	}
	if action == UpdatePriority {
		r.event(job, corev1.EventTypeNormal, "UpdatedWorkload", "Updated workload priority class: %s", klog.KObj(wl))
	}
	return nil
}

// start resumes the job with its admission applied to the template; an admission that can
// never apply ends the Workload (FailedToStart), as Kueue ends it.
func (r *Reconciler) start(ctx context.Context, job *v1alpha1.BatchJob, wl *kueueapi.Workload, d Decision) error {
	info, err := r.admittedInfo(ctx, wl)
	nj := job.DeepCopy()
	if err == nil {
		err = ApplyAdmission(nj, info)
	}
	var perm permanentError
	if errors.As(err, &perm) {
		r.event(job, corev1.EventTypeWarning, "FailedToStart", "%v", err)
		return r.patchWorkloadStatus(ctx, wl, func(w *kueueapi.Workload) {
			SetFinished(w, "FailedToStart", err.Error(), r.Clock.Now())
		})
	}
	if err != nil {
		return err
	}
	if err := r.patchJob(ctx, job, nj); err != nil {
		return err
	}
	r.event(job, corev1.EventTypeNormal, "Started", "%s", d.Message)
	return nil
}

// suspend suspends the job and, when it has a Workload, marks the stop in progress so that
// the template is restored once its pods are gone.
func (r *Reconciler) suspend(ctx context.Context, job *v1alpha1.BatchJob, wl *kueueapi.Workload, d Decision) error {
	nj := job.DeepCopy()
	nj.Spec.Suspend = ptr.To(true)
	if wl != nil {
		if nj.Annotations == nil {
			nj.Annotations = map[string]string{}
		}
		nj.Annotations[StoppingAnnotation] = "true"
	}
	if err := r.patchJob(ctx, job, nj); err != nil {
		return err
	}
	r.event(job, corev1.EventTypeNormal, "Stopped", "%s", d.Message)
	return nil
}

// patchJob writes the spec and metadata changes from job to nj, failing on a conflict
// rather than overwriting a change it did not see.
func (r *Reconciler) patchJob(ctx context.Context, job, nj *v1alpha1.BatchJob) error {
	return r.Patch(ctx, nj, client.MergeFromWithOptions(job, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager))
}

func (r *Reconciler) patchWorkloadStatus(ctx context.Context, wl *kueueapi.Workload, mutate func(*kueueapi.Workload)) error {
	nw := wl.DeepCopy()
	mutate(nw)
	return r.Status().Patch(ctx, nw, client.MergeFromWithOptions(wl, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager))
}

func (r *Reconciler) removeFinalizer(ctx context.Context, wl *kueueapi.Workload) error {
	nw := wl.DeepCopy()
	nw.Finalizers = nil
	for _, f := range wl.Finalizers {
		if f != kueueapi.ResourceInUseFinalizerName {
			nw.Finalizers = append(nw.Finalizers, f)
		}
	}
	return r.Patch(ctx, nw, client.MergeFromWithOptions(wl, client.MergeFromWithOptimisticLock{}), client.FieldOwner(FieldManager))
}

// admittedInfo reads the flavors of the Workload's admission and returns AdmittedInfo.
func (r *Reconciler) admittedInfo(ctx context.Context, wl *kueueapi.Workload) (PodSetInfo, error) {
	flavors := map[kueueapi.ResourceFlavorReference]Flavor{}
	if adm := wl.Status.Admission; adm != nil {
		for _, as := range adm.PodSetAssignments {
			for _, name := range as.Flavors {
				if _, ok := flavors[name]; ok {
					continue
				}
				rf := &kueueapi.ResourceFlavor{}
				if err := r.APIReader.Get(ctx, types.NamespacedName{Name: string(name)}, rf); err != nil {
					return PodSetInfo{}, fmt.Errorf("reading ResourceFlavor %s: %w", name, err)
				}
				flavors[name] = Flavor{NodeLabels: rf.Spec.NodeLabels, Tolerations: rf.Spec.Tolerations}
			}
		}
	}
	return AdmittedInfo(wl, flavors)
}

// priority resolves the job's priority as jobframework's ExtractPriority does: the
// WorkloadPriorityClass named by the priority-class label, else the pod template's
// PriorityClass, else none (priority 0). Unlike Kueue, a cluster's globalDefault
// PriorityClass is not looked up.
func (r *Reconciler) priority(ctx context.Context, job *v1alpha1.BatchJob) (*kueueapi.PriorityClassRef, int32, error) {
	if name := job.Labels[PriorityClassLabel]; name != "" {
		wpc := &kueueapi.WorkloadPriorityClass{}
		if err := r.APIReader.Get(ctx, types.NamespacedName{Name: name}, wpc); err != nil {
			return nil, 0, fmt.Errorf("reading WorkloadPriorityClass %s: %w", name, err)
		}
		return kueueapi.NewWorkloadPriorityClassRef(name), wpc.Value, nil
	}
	if name := job.Spec.Template.Spec.PriorityClassName; name != "" {
		pc := &schedulingv1.PriorityClass{}
		if err := r.APIReader.Get(ctx, types.NamespacedName{Name: name}, pc); err != nil {
			return nil, 0, fmt.Errorf("reading PriorityClass %s: %w", name, err)
		}
		return kueueapi.NewPodPriorityClassRef(name), pc.Value, nil
	}
	return nil, 0, nil
}

func (r *Reconciler) event(job *v1alpha1.BatchJob, typ, reason, note string, args ...any) {
	r.Recorder.Eventf(job, nil, typ, reason, reason, note, args...)
}
