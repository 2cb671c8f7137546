package controller

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// writeGeneratedSelector does for a BatchJob what kube-apiserver does for a batch/v1 Job at
// creation: unless manualSelector, the selector is {controller-uid: UID} and the template
// carries the job-name and controller-uid labels. A CRD cannot generate it (the UID is not
// known to admission before the object exists), so the first pass writes it in one Update
// and returns; the watch event of that Update starts the next pass. No pod can exist before.
func (r *Reconciler) writeGeneratedSelector(ctx context.Context, job *v1alpha1.BatchJob) error {
	log := ctrl.LoggerFrom(ctx)
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		// Validation requires a selector with manualSelector; nothing sensible to do.
		log.Info("BatchJob has manualSelector but no selector; not reconciling")
		return nil
	}
	updated := job.DeepCopy()
	labels := updated.Spec.Template.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range map[string]string{
		v1alpha1.JobNameLabel:             job.Name,
		v1alpha1.LegacyJobNameLabel:       job.Name,
		v1alpha1.ControllerUIDLabel:       string(job.UID),
		v1alpha1.LegacyControllerUIDLabel: string(job.UID),
	} {
		if _, ok := labels[k]; !ok {
			labels[k] = v
		}
	}
	updated.Spec.Template.Labels = labels
	updated.Spec.Selector = &metav1.LabelSelector{
		MatchLabels: map[string]string{v1alpha1.ControllerUIDLabel: string(job.UID)},
	}
	// A merge patch, not an Update: a full object from Go structs carries empty structs
	// (containers[].resources: {}) that the stored template lacks, and the CRD's
	// template-immutability rule would reject that as a template change.
	if err := r.Client.Patch(ctx, updated, client.MergeFromWithOptions(job, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	log.V(4).Info("Wrote the generated selector")
	r.mem.wrote(job.UID, updated.ResourceVersion, false, nil)
	return nil
}
