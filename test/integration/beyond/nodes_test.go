package beyond

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestAvoidFailedNodes: a pod bound to node-a fails; its replacement carries a required
// node anti-affinity to node-a, added to the template's own nodeSelectorTerm.
func TestAvoidFailedNodes(t *testing.T) {
	ns := env.NewNamespace(t, "avoid-nodes")
	zone := corev1.NodeSelectorRequirement{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}
	job := env.CreateJob(t, newJob(ns, "avoid", func(s *v1alpha1.BatchJobSpec) {
		s.BackoffLimit = ptr.To[int32](3)
		s.RetryPolicy = &v1alpha1.RetryPolicy{AvoidFailedNodes: ptr.To(true)}
		s.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchExpressions: []corev1.NodeSelectorRequirement{zone}}}}}}
	}))
	first := env.WaitForActivePods(t, job, 1)[0]
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: first.Name, Namespace: ns},
		Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"}}
	if err := env.Client.SubResource("binding").Create(context.Background(), &first, binding); err != nil {
		t.Fatalf("Binding %s: %v", first.Name, err)
	}
	env.SetPodPhase(t, &first, corev1.PodFailed, 1)
	var replacement corev1.Pod
	framework.Eventually(t, "a replacement pod", func() (bool, string) {
		active := framework.ActivePods(env.JobPods(t, job))
		if len(active) == 1 {
			replacement = active[0]
		}
		return len(active) == 1, fmt.Sprintf("%d active", len(active))
	})
	want := []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{zone,
		{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"node-a"}}}}}
	got := replacement.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replacement's nodeSelectorTerms (-want,+got):\n%s", diff)
	}
}
