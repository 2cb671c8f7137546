package upstream

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// validateNoOrphanPodsWithFinalizers waits until no pod matching the job's selector keeps
// the tracking finalizer (the job itself may be gone).
func validateNoOrphanPodsWithFinalizers(t testing.TB, jobObj *v1alpha1.BatchJob) {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(jobObj.Spec.Selector)
	if err != nil {
		t.Fatalf("Job selector: %v", err)
	}
	framework.Eventually(t, "pods freed from the tracking finalizer", func() (bool, string) {
		var list corev1.PodList
		if err := env.Client.List(ctx, &list, client.InNamespace(jobObj.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return false, err.Error()
		}
		orphanPods := 0
		for i := range list.Items {
			if jobpod.HasFinalizer(&list.Items[i]) {
				orphanPods++
			}
		}
		return orphanPods == 0, fmt.Sprintf("%d orphan pods with the finalizer", orphanPods)
	})
}
