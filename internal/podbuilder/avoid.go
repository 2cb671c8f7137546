package podbuilder

import (
	corev1 "k8s.io/api/core/v1"
)

// HostnameLabel is the node label the scheduler matches a node's name by.
const HostnameLabel = "kubernetes.io/hostname"

// AvoidNodes requires that pod is not scheduled on any of nodes (spec.retryPolicy.
// avoidFailedNodes): the nodeSelectorTerms of a required node affinity are ORed, so the
// NotIn requirement goes into every term, or into a new term when the template has none.
// The template's own affinity is kept.
func AvoidNodes(pod *corev1.Pod, nodes []string) {
	if len(nodes) == 0 {
		return
	}
	req := corev1.NodeSelectorRequirement{Key: HostnameLabel, Operator: corev1.NodeSelectorOpNotIn, Values: nodes}
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.NodeAffinity == nil {
		pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := pod.Spec.Affinity.NodeAffinity
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
	}
	sel := na.RequiredDuringSchedulingIgnoredDuringExecution
	if len(sel.NodeSelectorTerms) == 0 {
		sel.NodeSelectorTerms = []corev1.NodeSelectorTerm{{}}
	}
	for i := range sel.NodeSelectorTerms {
		t := &sel.NodeSelectorTerms[i]
		t.MatchExpressions = append(t.MatchExpressions, *req.DeepCopy())
	}
}
