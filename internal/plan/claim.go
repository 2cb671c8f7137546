package plan

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Claim is what a pass does with the candidate pods of a job before planning, as
// upstream's ControllerRefManager.ClaimPods decides it: the job's own pods that match its
// selector are its pods; its own pods that no longer match are released; pods without a
// controller that match are adopted.
type Claim struct {
	// Claimed are the job's own pods that match the selector.
	Claimed []*corev1.Pod
	// Release are the job's own pods that no longer match: the controller removes its
	// ownerReference and the tracking finalizer. They are not the job's to count.
	Release []*corev1.Pod
	// Adopt are pods without a controller that match: the controller first checks on the
	// API server (not the cache) that the job still exists with its UID and is not being
	// deleted, then adds its ownerReference and the tracking finalizer, and the adopted
	// pods join Claimed.
	Adopt []*corev1.Pod
	// ReleaseLeftCache is true when the pods that dropped out of the label-filtered cache
	// are to be read from the API server and released with Releasable.
	ReleaseLeftCache bool
	// Selector is the job's selector, labels.Nothing() when it does not parse.
	Selector labels.Selector
	// SelectorErr is why the selector did not parse (validation rejects such selectors;
	// the pass acts as if it matched nothing).
	SelectorErr error
}

// ClaimPods decides the claim over owned (pods whose controller is job) and orphans (pods
// of its namespace without a controller). A job being deleted, or finished, neither adopts
// nor releases; an empty selector adopts nothing; pods being deleted are never adopted.
func ClaimPods(job *v1alpha1.BatchJob, owned, orphans []*corev1.Pod) Claim {
	c := Claim{Selector: labels.Nothing()}
	if job.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
		if err != nil {
			c.SelectorErr = err
		} else {
			c.Selector = sel
		}
	}
	frozen := job.DeletionTimestamp != nil || job.Status.IsFinished()
	for _, pod := range owned {
		switch {
		case c.Selector.Matches(labels.Set(pod.Labels)):
			c.Claimed = append(c.Claimed, pod)
		case !frozen:
			c.Release = append(c.Release, pod)
		}
	}
	c.ReleaseLeftCache = !frozen
	if frozen || c.Selector.Empty() {
		return c
	}
	for _, pod := range orphans {
		if pod.DeletionTimestamp == nil && c.Selector.Matches(labels.Set(pod.Labels)) {
			c.Adopt = append(c.Adopt, pod)
		}
	}
	return c
}

// Releasable reports whether pod, read from the API server after it dropped out of the
// cache, is to be released by job: job still controls it, it is not being deleted, and it
// no longer matches sel. A pod that still matches (a manualSelector not based on the
// controller-uid label) stays owned, invisible to the cache until it carries that label again.
func Releasable(job *v1alpha1.BatchJob, sel labels.Selector, pod *corev1.Pod) bool {
	ref := metav1.GetControllerOfNoCopy(pod)
	return ref != nil && ref.UID == job.UID && pod.DeletionTimestamp == nil && !sel.Matches(labels.Set(pod.Labels))
}
