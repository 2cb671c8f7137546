package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestPlanMemoryIncreaseOnOOM: with spec.retryPolicy.memoryIncreaseOnOOM a pod replacing
// an OOMKilled one gets that container's memory times factor, compounding, capped at max,
// with the batchjob.dev/memory-increase annotation and a MemoryIncreased event.
func TestPlanMemoryIncreaseOnOOM(t *testing.T) {
	oom := func(name, mem string, at time.Duration) *podW {
		return pod(name).Phase(corev1.PodFailed).Memory(mem).Terminated("main", 137, "OOMKilled", "", ago(at))
	}
	exited := func(name, mem string, at time.Duration) *podW {
		return pod(name).Phase(corev1.PodFailed).Memory(mem).Exited("main", 1, ago(at))
	}
	base := func() *jobW { return job("pi", "ns").BackoffLimit(10).RetryDelays(0, -1).Memory("256Mi") }
	type created struct{ Memory, Annotation string }
	event := func(msg string) Event {
		return Event{Type: corev1.EventTypeNormal, Reason: "MemoryIncreased", Message: msg}
	}
	cases := map[string]struct {
		job        *v1alpha1.BatchJob
		pods       []*podW
		want       []created
		wantEvents []Event
	}{
		"unset: the template's memory": {
			job:  base().Obj(),
			pods: []*podW{oom("a", "256Mi", time.Minute)},
			want: []created{{Memory: "256Mi"}},
		},
		"NonIndexed: times 1.5 after OOMKilled": {
			job:        base().MemoryIncreaseOnOOM("1.5", "8Gi").Obj(),
			pods:       []*podW{oom("a", "256Mi", time.Minute)},
			want:       []created{{Memory: "384Mi", Annotation: "main: 256Mi -> 384Mi after OOMKilled in pod a"}},
			wantEvents: []Event{event("A new pod gets more memory: main: 256Mi -> 384Mi after OOMKilled in pod a")},
		},
		"NonIndexed: compounds on the most recent OOMKilled pod, a later non-OOM failure aside": {
			job: base().MemoryIncreaseOnOOM("1.5", "8Gi").Obj(),
			pods: []*podW{oom("a", "256Mi", 3*time.Minute), oom("b", "384Mi", 2*time.Minute),
				exited("c", "576Mi", time.Minute)},
			want:       []created{{Memory: "576Mi", Annotation: "main: 384Mi -> 576Mi after OOMKilled in pod b"}},
			wantEvents: []Event{event("A new pod gets more memory: main: 384Mi -> 576Mi after OOMKilled in pod b")},
		},
		"NonIndexed: failures in the same second: the pod with more memory replaced the other": {
			job:        base().MemoryIncreaseOnOOM("1.5", "8Gi").Obj(),
			pods:       []*podW{oom("z", "256Mi", time.Minute), oom("a", "384Mi", time.Minute)},
			want:       []created{{Memory: "576Mi", Annotation: "main: 384Mi -> 576Mi after OOMKilled in pod a"}},
			wantEvents: []Event{event("A new pod gets more memory: main: 384Mi -> 576Mi after OOMKilled in pod a")},
		},
		"capped at max": {
			job:        base().MemoryIncreaseOnOOM("2", "1Gi").Obj(),
			pods:       []*podW{oom("a", "768Mi", time.Minute)},
			want:       []created{{Memory: "1Gi", Annotation: "main: 768Mi -> 1Gi (capped at 1Gi) after OOMKilled in pod a"}},
			wantEvents: []Event{event("A new pod gets more memory: main: 768Mi -> 1Gi (capped at 1Gi) after OOMKilled in pod a")},
		},
		"the pod at max OOMKilled again: its replacement stays at max": {
			job:        base().MemoryIncreaseOnOOM("2", "1Gi").Obj(),
			pods:       []*podW{oom("a", "768Mi", 2*time.Minute), oom("b", "1Gi", time.Minute)},
			want:       []created{{Memory: "1Gi", Annotation: "main: 1Gi kept (capped at 1Gi) after OOMKilled in pod b"}},
			wantEvents: []Event{event("A new pod keeps the memory cap: main: 1Gi kept (capped at 1Gi) after OOMKilled in pod b")},
		},
		"a failure that was not OOMKilled: the template's memory": {
			job:  base().MemoryIncreaseOnOOM("1.5", "8Gi").Obj(),
			pods: []*podW{exited("a", "256Mi", time.Minute)},
			want: []created{{Memory: "256Mi"}},
		},
		"Indexed: per index, the index's last failed pod": {
			job: base().Indexed().Completions(3).Parallelism(3).MemoryIncreaseOnOOM("2", "8Gi").Obj(),
			pods: []*podW{oom("a", "256Mi", 2*time.Minute).Index(0), exited("b", "512Mi", time.Minute).Index(0),
				oom("c", "256Mi", time.Minute).Index(1)},
			want:       []created{{Memory: "256Mi"}, {Memory: "512Mi", Annotation: "main: 256Mi -> 512Mi after OOMKilled in pod c"}, {Memory: "256Mi"}},
			wantEvents: []Event{event("A new pod for index 1 gets more memory: main: 256Mi -> 512Mi after OOMKilled in pod c")},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := Plan(Input{Job: tc.job, Pods: pods(tc.pods...), Now: now, ExpectationsSatisfied: true})
			var got []created
			for _, p := range res.Create {
				res := p.Spec.Containers[0].Resources
				req, lim := res.Requests[corev1.ResourceMemory], res.Limits[corev1.ResourceMemory]
				if req.Cmp(lim) != 0 {
					t.Errorf("request %s, limit %s: want them equal", req.String(), lim.String())
				}
				got = append(got, created{Memory: lim.String(), Annotation: p.Annotations[v1alpha1.MemoryIncreaseAnnotation]})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("created pods' memory (-want,+got):\n%s", diff)
			}
			var events []Event
			for _, e := range res.Events {
				if e.Reason == "MemoryIncreased" {
					events = append(events, e)
				}
			}
			if diff := cmp.Diff(tc.wantEvents, events); diff != "" {
				t.Errorf("MemoryIncreased events (-want,+got):\n%s", diff)
			}
		})
	}
}
