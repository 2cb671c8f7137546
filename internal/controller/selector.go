package controller

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/plan"
)

// writeGeneratedSelector writes plan.GeneratedSelector, the selector and template labels
// kube-apiserver generates for a batch/v1 Job, in one patch (plan.RouteWriteSelector).
func (r *Reconciler) writeGeneratedSelector(ctx context.Context, job *v1alpha1.BatchJob) error {
	updated := job.DeepCopy()
	updated.Spec.Selector, updated.Spec.Template.Labels = plan.GeneratedSelector(job)
	// A merge patch, not an Update: a full object from Go structs carries empty structs
	// (containers[].resources: {}) that the stored template lacks, and the CRD's
	// template-immutability rule would reject that as a template change.
	if err := r.Client.Patch(ctx, updated, client.MergeFromWithOptions(job, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).V(4).Info("Wrote the generated selector")
	r.mem.wrote(job.UID, updated.ResourceVersion, false, nil)
	r.mem.setNearEnd(job.UID, nearEnd(job, &job.Status))
	return nil
}
