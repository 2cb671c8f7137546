package api

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// batch/v1 defaults an onPodConditions status given as "" to True (SetDefaults_Job), as it
// does an absent one; a CRD schema default fills only absent fields, so an explicit ""
// would meet the enum and be rejected. The batchjob-defaults policy defaults it first.
func TestOnPodConditionsEmptyStatusDefaultsToTrue(t *testing.T) {
	name := uniqueName("empty-status")
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": bj.GroupVersion.String(), "kind": "BatchJob",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never",
				"containers":    []any{map[string]any{"name": "main", "image": "busybox"}},
			}},
			"podFailurePolicy": map[string]any{"rules": []any{
				map[string]any{"action": "Ignore", "onExitCodes": map[string]any{"operator": "In", "values": []any{int64(3)}}},
				map[string]any{"action": "FailJob", "onPodConditions": []any{
					map[string]any{"type": "DisruptionTarget", "status": "False"},
					map[string]any{"type": "Custom", "status": ""},
				}},
				map[string]any{"action": "Ignore", "onPodConditions": []any{
					map[string]any{"type": "DisruptionTarget", "status": ""},
				}},
			}},
		},
	}}
	if err := k8sClient.Create(ctxT(t), u); err != nil {
		t.Fatalf("Creating a BatchJob with onPodConditions status \"\": %v", err)
	}
	got := &bj.BatchJob{}
	if err := k8sClient.Get(ctxT(t), client.ObjectKeyFromObject(u), got); err != nil {
		t.Fatal(err)
	}
	var statuses []corev1.ConditionStatus
	for _, r := range got.Spec.PodFailurePolicy.Rules {
		for _, c := range r.OnPodConditions {
			statuses = append(statuses, c.Status)
		}
	}
	want := []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionTrue}
	if len(statuses) != len(want) || statuses[0] != want[0] || statuses[1] != want[1] || statuses[2] != want[2] {
		t.Errorf("stored statuses %v, want %v", statuses, want)
	}
}
