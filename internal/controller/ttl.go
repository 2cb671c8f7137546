package controller

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	"github.com/batchjob-dev/batchjob/internal/plan"
)

// enforceTTL deletes a finished job whose TTL ran out, or looks again when it will.
func (r *Reconciler) enforceTTL(ctx context.Context, job *v1alpha1.BatchJob) (ctrl.Result, error) {
	left, expired := plan.TTLDue(job, r.Clock.Now())
	if expired {
		return ctrl.Result{}, r.deleteExpired(ctx, job)
	}
	return ctrl.Result{RequeueAfter: left}, nil
}

// deleteExpired re-reads job from the API server (the cache may hold an old TTL or a
// re-created job), re-checks the expiry and deletes it in the foreground with a UID
// precondition, so that the pods go first and a newer job of the same name is never hit.
func (r *Reconciler) deleteExpired(ctx context.Context, job *v1alpha1.BatchJob) error {
	log := ctrl.LoggerFrom(ctx)
	fresh := &v1alpha1.BatchJob{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(job), fresh); err != nil {
		return client.IgnoreNotFound(err)
	}
	if fresh.UID != job.UID || fresh.DeletionTimestamp != nil {
		return nil
	}
	now := r.Clock.Now()
	expireAt, ok := plan.TTLExpireAt(fresh)
	if !ok || expireAt.After(now) {
		// The TTL changed meanwhile; the update event brings the job back.
		return nil
	}
	err := r.Client.Delete(ctx, fresh, client.Preconditions{UID: &fresh.UID},
		client.PropagationPolicy(metav1.DeletePropagationForeground))
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or a different job now has the name
	}
	if err != nil {
		return err
	}
	metrics.TTLDeletionDuration.Observe(sinceOrZero(now, expireAt).Seconds())
	log.V(2).Info("Deleted finished BatchJob after its TTL", "expiredAt", expireAt)
	return nil
}
