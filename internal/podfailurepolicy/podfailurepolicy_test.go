package podfailurepolicy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func exitRule(action v1alpha1.PodFailurePolicyAction, op v1alpha1.PodFailurePolicyOnExitCodesOperator, container *string, codes ...int32) v1alpha1.PodFailurePolicyRule {
	return v1alpha1.PodFailurePolicyRule{Action: action, OnExitCodes: &v1alpha1.PodFailurePolicyOnExitCodesRequirement{
		ContainerName: container, Operator: op, Values: codes,
	}}
}

func condRule(action v1alpha1.PodFailurePolicyAction, t corev1.PodConditionType, s corev1.ConditionStatus) v1alpha1.PodFailurePolicyRule {
	return v1alpha1.PodFailurePolicyRule{Action: action, OnPodConditions: []v1alpha1.PodFailurePolicyOnPodConditionsPattern{{Type: t, Status: s}}}
}

func act(a v1alpha1.PodFailurePolicyAction) *v1alpha1.PodFailurePolicyAction { return &a }

func TestEvaluate(t *testing.T) {
	const (
		failJob   = v1alpha1.PodFailurePolicyActionFailJob
		failIndex = v1alpha1.PodFailurePolicyActionFailIndex
		ignore    = v1alpha1.PodFailurePolicyActionIgnore
		count     = v1alpha1.PodFailurePolicyActionCount
		in        = v1alpha1.PodFailurePolicyOnExitCodesOpIn
		notIn     = v1alpha1.PodFailurePolicyOnExitCodesOpNotIn
	)
	failed := func() *testutil.PodWrapper { return testutil.MakePod("p", "ns").Phase(corev1.PodFailed) }
	cases := map[string]struct {
		rules []v1alpha1.PodFailurePolicyRule
		nilP  bool
		pod   *corev1.Pod
		want  Match
	}{
		"no policy counts": {nilP: true, pod: failed().Exited("main", 5, t0).Obj(), want: Match{CountFailed: true}},
		"no rule matches counts": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(failJob, in, nil, 1, 2)},
			pod:   failed().Exited("main", 5, t0).Obj(), want: Match{CountFailed: true},
		},
		"FailJob on exit code": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(ignore, in, nil, 1), exitRule(failJob, in, nil, 5, 42)},
			pod:   failed().Exited("main", 42, t0).Obj(),
			want: Match{Action: act(failJob), CountFailed: true,
				FailJobMessage: "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"},
		},
		"NotIn matches other codes": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(count, notIn, nil, 1)},
			pod:   failed().Exited("main", 3, t0).Obj(), want: Match{Action: act(count), CountFailed: true},
		},
		"NotIn ignores exit 0": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(failJob, notIn, nil, 1)},
			pod:   failed().Exited("main", 0, t0).Obj(), want: Match{CountFailed: true},
		},
		"container name restricts": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(failJob, in, ptr.To("side"), 5)},
			pod:   failed().Exited("main", 5, t0).Exited("side", 1, t0).Obj(), want: Match{CountFailed: true},
		},
		"container name matches second container": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(failJob, in, ptr.To("side"), 5)},
			pod:   failed().Exited("main", 5, t0).Exited("side", 5, t0).Obj(),
			want: Match{Action: act(failJob), CountFailed: true,
				FailJobMessage: "Container side for pod ns/p failed with exit code 5 matching FailJob rule at index 0"},
		},
		"init container after containers": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(failJob, in, nil, 7)},
			pod:   failed().InitExited("init", 7, t0).Obj(),
			want: Match{Action: act(failJob), CountFailed: true,
				FailJobMessage: "Container init for pod ns/p failed with exit code 7 matching FailJob rule at index 0"},
		},
		"negative exit code": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(ignore, in, nil, -1)},
			pod:   failed().Exited("main", -1, t0).Obj(), want: Match{Action: act(ignore)},
		},
		"Ignore on disruption": {
			rules: []v1alpha1.PodFailurePolicyRule{condRule(ignore, corev1.DisruptionTarget, corev1.ConditionTrue)},
			pod:   failed().PodCondition(corev1.DisruptionTarget, corev1.ConditionTrue, t0).Obj(),
			want:  Match{Action: act(ignore)},
		},
		"condition status must match": {
			rules: []v1alpha1.PodFailurePolicyRule{condRule(ignore, corev1.DisruptionTarget, corev1.ConditionTrue)},
			pod:   failed().PodCondition(corev1.DisruptionTarget, corev1.ConditionFalse, t0).Obj(),
			want:  Match{CountFailed: true},
		},
		"FailJob on condition": {
			rules: []v1alpha1.PodFailurePolicyRule{condRule(failJob, "ConfigIssue", corev1.ConditionTrue)},
			pod:   failed().PodCondition("ConfigIssue", corev1.ConditionTrue, t0).Obj(),
			want: Match{Action: act(failJob), CountFailed: true,
				FailJobMessage: "Pod ns/p has condition ConfigIssue matching FailJob rule at index 0"},
		},
		"FailIndex counts": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(failIndex, in, nil, 3)},
			pod:   failed().Exited("main", 3, t0).Obj(), want: Match{Action: act(failIndex), CountFailed: true},
		},
		"unknown action skipped": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule("Retry", in, nil, 3), exitRule(ignore, in, nil, 3)},
			pod:   failed().Exited("main", 3, t0).Obj(), want: Match{Action: act(ignore)},
		},
		"running container has no exit code": {
			rules: []v1alpha1.PodFailurePolicyRule{exitRule(failJob, notIn, nil, 1)},
			pod:   failed().Restarts("main", 2).Obj(), want: Match{CountFailed: true},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var policy *v1alpha1.PodFailurePolicy
			if !tc.nilP {
				policy = &v1alpha1.PodFailurePolicy{Rules: tc.rules}
			}
			if diff := cmp.Diff(tc.want, Evaluate(policy, tc.pod)); diff != "" {
				t.Errorf("Evaluate (-want,+got):\n%s", diff)
			}
		})
	}
}
