package cronjob

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// EventRecorder is the events.k8s.io recorder the manager hands out.
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Reconciler reconciles BatchCronJobs: observe (the BatchCronJob and its BatchJobs from
// the cache), Plan, act (deletions, the creation, one status write, events), and a wake-up
// at the next scheduled time.
type Reconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads from the API server directly, where the cache may lag our writes.
	APIReader client.Reader
	Recorder  EventRecorder
	Clock     clock.PassiveClock
	Local     *time.Location

	wake *wakeups
}

// Reconcile runs one pass for the BatchCronJob named by req.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cj := &v1alpha1.BatchCronJob{}
	if err := r.Client.Get(ctx, req.NamespacedName, cj); err != nil {
		if apierrors.IsNotFound(err) {
			r.wake.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	jobs, err := r.observe(ctx, cj)
	if err != nil {
		return ctrl.Result{}, err
	}
	cj, err = r.freshIfUnlisted(ctx, cj, jobs)
	if err != nil {
		return ctrl.Result{}, err
	}
	res := Plan(Input{CronJob: cj, Jobs: jobs, Now: r.Clock.Now(), Local: r.Local})
	if res.RequeueAfter != nil {
		r.wake.set(req.NamespacedName, *res.RequeueAfter)
	} else {
		r.wake.forget(req.NamespacedName)
	}
	err = r.act(ctx, cj, res)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		// A newer copy of the BatchCronJob, or it is gone: its watch event brings the
		// next pass; not an error.
		ctrl.LoggerFrom(ctx).V(4).Info("Status write met a newer or deleted BatchCronJob", "err", err)
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// observe lists the BatchJobs cj controls from the cache, plus those status.active lists
// that the cache does not show yet but the API server does (upstream's GetJob before it
// declares an active job missing).
func (r *Reconciler) observe(ctx context.Context, cj *v1alpha1.BatchCronJob) ([]*v1alpha1.BatchJob, error) {
	var list v1alpha1.BatchJobList
	if err := r.Client.List(ctx, &list, client.InNamespace(cj.Namespace), client.MatchingFields{jobOwnerIndex: string(cj.UID)}); err != nil {
		return nil, err
	}
	jobs := make([]*v1alpha1.BatchJob, 0, len(list.Items))
	seen := map[types.UID]bool{}
	for i := range list.Items {
		jobs = append(jobs, &list.Items[i])
		seen[list.Items[i].UID] = true
	}
	for _, ref := range cj.Status.Active {
		if seen[ref.UID] {
			continue
		}
		j := &v1alpha1.BatchJob{}
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: cj.Namespace, Name: ref.Name}, j)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, err
		case j.UID == ref.UID:
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// freshIfUnlisted re-reads cj from the API server when the cache shows a running job it
// does not list, as upstream's syncCronJob does: the job's watch event can arrive before
// that of our status write listing it, and that is no UnexpectedJob.
func (r *Reconciler) freshIfUnlisted(ctx context.Context, cj *v1alpha1.BatchCronJob, jobs []*v1alpha1.BatchJob) (*v1alpha1.BatchCronJob, error) {
	listed := map[types.UID]bool{}
	for _, ref := range cj.Status.Active {
		listed[ref.UID] = true
	}
	for _, j := range jobs {
		if finished, _ := finishedCondition(j); finished || listed[j.UID] || j.DeletionTimestamp != nil {
			continue
		}
		fresh := &v1alpha1.BatchCronJob{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cj), fresh); err != nil {
			return nil, err
		}
		return fresh, nil
	}
	return cj, nil
}

// act carries out res: deletions, then the creation, then one status write when the
// status changed, then the events of the pass.
func (r *Reconciler) act(ctx context.Context, cj *v1alpha1.BatchCronJob, res Result) error {
	for _, d := range res.Delete {
		if err := r.deleteJob(ctx, cj, d); err != nil {
			return err
		}
	}
	status := res.Status
	if res.Create != nil {
		ref, err := r.createJob(ctx, cj, res.Create)
		if err != nil {
			return err
		}
		if ref != nil {
			status.Active = append(status.Active, *ref)
		}
		status.ActiveCount = int32(len(status.Active))
	}
	if !equality.Semantic.DeepEqual(status, cj.Status) {
		updated := cj.DeepCopy()
		updated.Status = status
		if err := r.Client.Status().Update(ctx, updated); err != nil {
			return err
		}
	}
	for _, ev := range res.Events {
		r.Recorder.Eventf(cj, nil, ev.Type, ev.Reason, "Sync", "%s", ev.Message)
	}
	return nil
}

// deleteJob is upstream's deleteJob, with a UID precondition so that a job re-created
// under the same name is never the one deleted.
func (r *Reconciler) deleteJob(ctx context.Context, cj *v1alpha1.BatchCronJob, d Deletion) error {
	err := r.Client.Delete(ctx, d.Job, client.PropagationPolicy(d.Propagation), client.Preconditions{UID: &d.Job.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		r.Recorder.Eventf(cj, d.Job, corev1.EventTypeWarning, ReasonFailedDelete, "Delete", "Deleted job: %v", err)
		return err
	}
	r.Recorder.Eventf(cj, d.Job, corev1.EventTypeNormal, ReasonSuccessfulDelete, "Delete", "Deleted job %v", d.Job.Name)
	return nil
}

// createJob creates job and returns its reference for status.active. AlreadyExists means
// an earlier pass created it and its status write was lost (upstream's case): the job is
// ours to list if we control it; a job of that name that we do not control is left alone,
// and its time still counts as handled so the pass does not retry it forever.
func (r *Reconciler) createJob(ctx context.Context, cj *v1alpha1.BatchCronJob, job *v1alpha1.BatchJob) (*corev1.ObjectReference, error) {
	err := r.Client.Create(ctx, job)
	if err == nil {
		r.Recorder.Eventf(cj, job, corev1.EventTypeNormal, ReasonSuccessfulCreate, "Create", "Created job %v", job.Name)
		ref := Reference(job)
		return &ref, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			r.Recorder.Eventf(cj, nil, corev1.EventTypeWarning, ReasonFailedCreate, "Create", "Error creating job: %v", err)
		}
		return nil, err
	}
	existing := &v1alpha1.BatchJob{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(job), existing); err != nil {
		return nil, err
	}
	if !metav1.IsControlledBy(existing, cj) {
		ctrl.LoggerFrom(ctx).Info("A BatchJob with the scheduled job's name exists and is not ours", "batchjob", job.Name)
		return nil, nil
	}
	for _, a := range cj.Status.Active {
		if a.UID == existing.UID {
			return nil, nil
		}
	}
	ref := Reference(existing)
	return &ref, nil
}
