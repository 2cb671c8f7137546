package podbuilder

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

func TestIncreaseMemory(t *testing.T) {
	mem := func(req, lim string) corev1.ResourceRequirements {
		var r corev1.ResourceRequirements
		if req != "" {
			r.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(req)}
		}
		if lim != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(lim)}
		}
		return r
	}
	podWith := func(name string, main, side corev1.ResourceRequirements, oom ...string) *corev1.Pod {
		w := testutil.MakeEmptyPod(name, "").PodSpec(&corev1.PodSpec{Containers: []corev1.Container{
			{Name: "main", Resources: main}, {Name: "side", Resources: side}}})
		for _, c := range oom {
			w.Terminated(c, 137, "OOMKilled", "", time.Time{})
		}
		return w.Obj()
	}
	tmpl := mem("256Mi", "256Mi")
	cases := map[string]struct {
		failed   *corev1.Pod
		template corev1.ResourceRequirements
		factor   string
		max      string
		wantMain corev1.ResourceRequirements
		wantSide corev1.ResourceRequirements
		want     string
		wantKept bool // the new pod gets no more than the failed one had
	}{
		"request and limit times 1.5": {
			failed: podWith("x", tmpl, mem("", ""), "main"), template: tmpl, factor: "1.5", max: "8Gi",
			wantMain: mem("384Mi", "384Mi"), wantSide: mem("", ""),
			want: "main: 256Mi -> 384Mi after OOMKilled in pod x",
		},
		"compounds on the failed pod's own values": {
			failed: podWith("y", mem("384Mi", "384Mi"), mem("", ""), "main"), template: tmpl, factor: "1.5", max: "8Gi",
			wantMain: mem("576Mi", "576Mi"), wantSide: mem("", ""),
			want: "main: 384Mi -> 576Mi after OOMKilled in pod y",
		},
		"capped at max": {
			failed: podWith("z", mem("6Gi", "6Gi"), mem("", ""), "main"), template: tmpl, factor: "2", max: "8Gi",
			wantMain: mem("8Gi", "8Gi"), wantSide: mem("", ""),
			want: "main: 6Gi -> 8Gi (capped at 8Gi) after OOMKilled in pod z",
		},
		"already at max: the replacement stays at max, not back to the template": {
			failed: podWith("z", mem("8Gi", "8Gi"), mem("", ""), "main"), template: tmpl, factor: "2", max: "8Gi",
			wantMain: mem("8Gi", "8Gi"), wantSide: mem("", ""),
			want: "main: 8Gi kept (capped at 8Gi) after OOMKilled in pod z", wantKept: true,
		},
		"max lowered below the failed pod's: capped at the new max": {
			failed: podWith("z", mem("8Gi", "8Gi"), mem("", ""), "main"), template: tmpl, factor: "2", max: "6Gi",
			wantMain: mem("6Gi", "6Gi"), wantSide: mem("", ""),
			want: "main: 8Gi -> 6Gi (capped at 6Gi) after OOMKilled in pod z", wantKept: true,
		},
		"max below the template: the template is kept": {
			failed: podWith("z", tmpl, mem("", ""), "main"), template: tmpl, factor: "2", max: "128Mi",
			wantMain: tmpl, wantSide: mem("", ""),
		},
		"different request and limit, rounded up to a byte": {
			failed: podWith("x", mem("100M", "1Gi"), mem("", ""), "main"), template: mem("100M", "1Gi"), factor: "1.333", max: "8Gi",
			wantMain: mem("133300k", "1431297852"), wantSide: mem("", ""),
			want: "main: request 100M -> 133300k, limit 1Gi -> 1431297852 after OOMKilled in pod x",
		},
		"only the OOMKilled container": {
			failed: podWith("x", tmpl, mem("64Mi", ""), "side"), template: tmpl, factor: "2", max: "8Gi",
			wantMain: tmpl, wantSide: mem("128Mi", ""),
			want: "side: request 64Mi -> 128Mi after OOMKilled in pod x",
		},
		"no OOMKilled container: unchanged": {
			failed: podWith("x", tmpl, mem("", "")), template: tmpl, factor: "2", max: "8Gi",
			wantMain: tmpl, wantSide: mem("", ""),
		},
		"no memory set: unchanged": {
			failed: podWith("x", mem("", ""), mem("", ""), "main"), template: mem("", ""), factor: "2", max: "8Gi",
			wantMain: mem("", ""), wantSide: mem("", ""),
		},
		"a larger template value is kept": {
			failed: podWith("x", tmpl, mem("", ""), "main"), template: mem("1Gi", "1Gi"), factor: "1.5", max: "8Gi",
			wantMain: mem("1Gi", "1Gi"), wantSide: mem("", ""),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pod := podWith("new", *tc.template.DeepCopy(), mem("", ""))
			if tc.failed.Spec.Containers[1].Resources.Requests != nil {
				pod.Spec.Containers[1].Resources = *tc.failed.Spec.Containers[1].Resources.DeepCopy()
				tc.wantSide = mem("128Mi", "")
			}
			got, raised := IncreaseMemory(pod, tc.failed, tc.factor, resource.MustParse(tc.max))
			if got != tc.want || raised != (tc.want != "" && !tc.wantKept) {
				t.Errorf("IncreaseMemory = %q, %v; want %q, %v", got, raised, tc.want, tc.want != "" && !tc.wantKept)
			}
			if a := pod.Annotations[v1alpha1.MemoryIncreaseAnnotation]; a != tc.want {
				t.Errorf("annotation %q, want %q", a, tc.want)
			}
			if diff := cmp.Diff(tc.wantMain, pod.Spec.Containers[0].Resources, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
				t.Errorf("main's resources (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSide, pod.Spec.Containers[1].Resources, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
				t.Errorf("side's resources (-want,+got):\n%s", diff)
			}
		})
	}
}
