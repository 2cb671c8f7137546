package plan

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Route is what a pass does with a BatchJob before it looks at any pod.
type Route int

const (
	// RoutePlan: claim the job's pods and Plan the pass.
	RoutePlan Route = iota
	// RouteForeign: spec.managedBy names another controller. Its pods and status are that
	// controller's; only the TTL of a finished job is enforced, as upstream's
	// TTL-after-finished controller does for any Job.
	RouteForeign
	// RouteWriteSelector: the job has no selector yet. The pass writes GeneratedSelector
	// and stops; the watch event of that write starts the next pass. No pod can exist
	// before it, since pods are only created for a job with a selector.
	RouteWriteSelector
	// RouteNoSelector: manualSelector is set but the selector is not. Validation rejects
	// this; if it is read anyway there is nothing sensible to do, and the pass does nothing.
	RouteNoSelector
)

// RouteOf decides the route of a pass over job (as read, defaults not applied).
func RouteOf(job *v1alpha1.BatchJob) Route {
	switch {
	case !job.IsManagedByThisController():
		return RouteForeign
	case job.Spec.Selector != nil:
		return RoutePlan
	case job.Spec.ManualSelector != nil && *job.Spec.ManualSelector:
		return RouteNoSelector
	default:
		return RouteWriteSelector
	}
}

// GeneratedSelector is what kube-apiserver generates for a batch/v1 Job at creation
// (generateSelector in the Job registry strategy), which a CRD cannot do because the UID
// is not known to admission: the selector {controller-uid: UID}, and the template labels
// with job-name and controller-uid (and their legacy forms) added where the template does
// not set them already. It returns a new map; job is not modified.
func GeneratedSelector(job *v1alpha1.BatchJob) (*metav1.LabelSelector, map[string]string) {
	labels := make(map[string]string, len(job.Spec.Template.Labels)+4)
	for k, v := range job.Spec.Template.Labels {
		labels[k] = v
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
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{v1alpha1.ControllerUIDLabel: string(job.UID)}}
	return sel, labels
}
