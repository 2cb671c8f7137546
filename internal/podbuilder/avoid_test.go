package podbuilder

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/testutil"
)

func TestAvoidNodes(t *testing.T) {
	notIn := corev1.NodeSelectorRequirement{Key: HostnameLabel, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"n1", "n2"}}
	zone := corev1.NodeSelectorRequirement{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}
	gpu := corev1.NodeSelectorRequirement{Key: "gpu", Operator: corev1.NodeSelectorOpExists}
	required := func(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	podAffinity := &corev1.PodAffinity{}
	cases := map[string]struct {
		in    *corev1.Affinity
		nodes []string
		want  *corev1.Affinity
	}{
		"no nodes: unchanged":       {in: nil, nodes: nil, want: nil},
		"no affinity: a new term":   {in: nil, nodes: []string{"n1", "n2"}, want: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{notIn}})},
		"into every term (ORed)":    {in: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{zone}}, corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{gpu}}), nodes: []string{"n1", "n2"}, want: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{zone, notIn}}, corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{gpu, notIn}})},
		"other affinities are kept": {in: &corev1.Affinity{PodAffinity: podAffinity}, nodes: []string{"n1", "n2"}, want: &corev1.Affinity{PodAffinity: podAffinity, NodeAffinity: required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{notIn}}).NodeAffinity}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pod := testutil.MakeEmptyPod("", "").PodSpec(&corev1.PodSpec{Affinity: tc.in}).Obj()
			AvoidNodes(pod, tc.nodes)
			if diff := cmp.Diff(tc.want, pod.Spec.Affinity); diff != "" {
				t.Errorf("affinity (-want,+got):\n%s", diff)
			}
		})
	}
}
