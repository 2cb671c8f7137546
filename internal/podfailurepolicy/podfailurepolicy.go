// Package podfailurepolicy matches a failed pod against spec.podFailurePolicy (upstream matchPodFailurePolicy).
package podfailurepolicy

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Match is the outcome for one failed pod.
type Match struct {
	// Action is the action of the first matching rule, nil when no rule matched.
	Action *v1alpha1.PodFailurePolicyAction
	// CountFailed is false only for Ignore: the failure does not count toward
	// status.failed, backoffLimit or backoffLimitPerIndex.
	CountFailed bool
	// FailJobMessage is the FailureTarget message when the action is FailJob.
	FailJobMessage string
}

// Evaluate applies the rules in order to a failed pod; the first matching rule with a
// known action decides. Without a policy or a match the failure is simply counted.
func Evaluate(policy *v1alpha1.PodFailurePolicy, pod *corev1.Pod) Match {
	if policy == nil {
		return Match{CountFailed: true}
	}
	for i, rule := range policy.Rules {
		var why string
		switch {
		case rule.OnExitCodes != nil:
			cs := matchExitCodes(&pod.Status, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			why = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v matching %v rule at index %d",
				cs.Name, pod.Namespace, pod.Name, cs.State.Terminated.ExitCode, rule.Action, i)
		case rule.OnPodConditions != nil:
			c := matchConditions(&pod.Status, rule.OnPodConditions)
			if c == nil {
				continue
			}
			why = fmt.Sprintf("Pod %s/%s has condition %v matching %v rule at index %d",
				pod.Namespace, pod.Name, c.Type, rule.Action, i)
		default:
			continue
		}
		if m, ok := matchFor(rule.Action, why); ok {
			return m
		}
	}
	return Match{CountFailed: true}
}

func matchFor(action v1alpha1.PodFailurePolicyAction, why string) (Match, bool) {
	a := action
	switch action {
	case v1alpha1.PodFailurePolicyActionIgnore:
		return Match{Action: &a}, true
	case v1alpha1.PodFailurePolicyActionFailIndex, v1alpha1.PodFailurePolicyActionCount:
		return Match{Action: &a, CountFailed: true}, true
	case v1alpha1.PodFailurePolicyActionFailJob:
		return Match{Action: &a, CountFailed: true, FailJobMessage: why}, true
	}
	// An action this controller does not know (a newer API) is skipped, as upstream does.
	return Match{}, false
}

// matchExitCodes looks at regular containers first, then init containers.
func matchExitCodes(st *corev1.PodStatus, req *v1alpha1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	if cs := matchExitCodesIn(st.ContainerStatuses, req); cs != nil {
		return cs
	}
	return matchExitCodesIn(st.InitContainerStatuses, req)
}

func matchExitCodesIn(statuses []corev1.ContainerStatus, req *v1alpha1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for i := range statuses {
		cs := &statuses[i]
		term := cs.State.Terminated
		if term == nil || term.ExitCode == 0 {
			continue
		}
		if req.ContainerName != nil && *req.ContainerName != cs.Name {
			continue
		}
		in := slices.Contains(req.Values, term.ExitCode)
		if (req.Operator == v1alpha1.PodFailurePolicyOnExitCodesOpIn && in) ||
			(req.Operator == v1alpha1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
			return cs
		}
	}
	return nil
}

func matchConditions(st *corev1.PodStatus, patterns []v1alpha1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range st.Conditions {
		for _, p := range patterns {
			if st.Conditions[i].Type == p.Type && st.Conditions[i].Status == p.Status {
				return &st.Conditions[i]
			}
		}
	}
	return nil
}
