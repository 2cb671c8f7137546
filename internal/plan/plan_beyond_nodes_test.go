package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestPlanAvoidFailedNodes: with spec.retryPolicy.avoidFailedNodes a replacement pod must
// not land on the last 10 nodes where the job's (Indexed: the index's) pods failed.
func TestPlanAvoidFailedNodes(t *testing.T) {
	avoid := func(w *jobW) *jobW {
		return w.RetryPolicy(func(rp *v1alpha1.RetryPolicy) { rp.AvoidFailedNodes = ptr.To(true) }).RetryDelays(0, -1)
	}
	failedOn := func(name, node string, ago_ time.Duration) *podW {
		return pod(name).Phase(corev1.PodFailed).NodeName(node).Exited("main", 1, ago(ago_))
	}
	var many []*podW
	for i := range 12 {
		many = append(many, failedOn(fmt.Sprintf("f%02d", i), fmt.Sprintf("n%02d", i), time.Duration(20-i)*time.Minute))
	}
	cases := map[string]struct {
		job  *v1alpha1.BatchJob
		pods []*podW
		want [][]string // NotIn values per created pod; nil: no affinity
	}{
		"the nodes where pods failed, once each": {
			job:  avoid(job("pi", "ns").BackoffLimit(10)).Obj(),
			pods: []*podW{failedOn("a", "n2", time.Minute), failedOn("b", "n1", 2*time.Minute), failedOn("c", "n2", 3*time.Minute)},
			want: [][]string{{"n1", "n2"}},
		},
		"without the flag: no affinity": {
			job:  job("pi", "ns").BackoffLimit(10).RetryDelays(0, -1).Obj(),
			pods: []*podW{failedOn("a", "n2", time.Minute)},
			want: [][]string{nil},
		},
		"the last 10 nodes": {
			job:  avoid(job("pi", "ns").BackoffLimit(20)).Obj(),
			pods: many,
			want: [][]string{{"n02", "n03", "n04", "n05", "n06", "n07", "n08", "n09", "n10", "n11"}},
		},
		"Indexed: each index avoids its own failures": {
			job: avoid(job("pi", "ns").Indexed().Completions(2).Parallelism(2).BackoffLimit(10)).Obj(),
			pods: []*podW{failedOn("a", "n1", time.Minute).Index(0), failedOn("b", "n2", time.Minute).Index(1),
				failedOn("c", "n3", time.Minute).Index(1)},
			want: [][]string{{"n1"}, {"n2", "n3"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := Plan(Input{Job: tc.job, Pods: pods(tc.pods...), Now: now, ExpectationsSatisfied: true})
			var got [][]string
			for _, p := range res.Create {
				got = append(got, notInHostnames(p))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("avoided nodes per created pod (-want,+got):\n%s", diff)
			}
		})
	}
}

func notInHostnames(p *corev1.Pod) []string {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range term.MatchExpressions {
			if r.Key == "kubernetes.io/hostname" && r.Operator == corev1.NodeSelectorOpNotIn {
				return r.Values
			}
		}
	}
	return nil
}
