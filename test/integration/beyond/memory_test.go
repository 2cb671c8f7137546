package beyond

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestMemoryIncreaseOnOOM: a pod whose container "main" terminates OOMKilled is replaced
// by one with 1.5 times its memory request and limit, then (a replacement of the
// replacement) 1.5 times that again, capped at max; each records why in the
// batchjob.dev/memory-increase annotation, and MemoryIncreased events say so. The CRD
// rejects a factor not above 1 and a max not above 0, naming the field.
func TestMemoryIncreaseOnOOM(t *testing.T) {
	ns := env.NewNamespace(t, "oom")
	withOOM := func(factor, maxMemory string) func(*v1alpha1.BatchJobSpec) {
		return func(s *v1alpha1.BatchJobSpec) {
			s.RetryPolicy = &v1alpha1.RetryPolicy{MemoryIncreaseOnOOM: &v1alpha1.MemoryIncrease{Factor: factor, Max: resource.MustParse(maxMemory)}}
		}
	}
	wantRejected(t, newJob(ns, "factor-one", withOOM("1", "8Gi")),
		"spec.retryPolicy.memoryIncreaseOnOOM.factor: must be a decimal number greater than 1")
	wantRejected(t, newJob(ns, "factor-text", withOOM("lots", "8Gi")), "spec.retryPolicy.memoryIncreaseOnOOM.factor")
	wantRejected(t, newJob(ns, "max-zero", withOOM("1.5", "0")), "spec.retryPolicy.memoryIncreaseOnOOM.max: must be greater than 0")

	// max given as a plain number of bytes (the quantity's integer form).
	for name, maxBytes := range map[string]int64{"int-max": 1 << 30, "int-zero": 0} {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v1alpha1.GroupVersion.String(), "kind": "BatchJob",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec": map[string]any{
				"retryPolicy": map[string]any{"memoryIncreaseOnOOM": map[string]any{"factor": "2", "max": maxBytes}},
				"template": map[string]any{"spec": map[string]any{"restartPolicy": "Never",
					"containers": []any{map[string]any{"name": "main", "image": "busybox"}}}},
			},
		}}
		err := env.Client.Create(context.Background(), obj)
		switch {
		case maxBytes > 0 && err != nil:
			t.Errorf("max: %d refused: %v", maxBytes, err)
		case maxBytes == 0 && (err == nil || !strings.Contains(err.Error(), "spec.retryPolicy.memoryIncreaseOnOOM.max: must be greater than 0")):
			t.Errorf("max: 0 (integer): got %v, want it refused naming the field", err)
		}
	}

	job := env.CreateJob(t, newJob(ns, "oom", func(s *v1alpha1.BatchJobSpec) {
		withOOM("1.5", "500Mi")(s)
		s.BackoffLimit = ptr.To[int32](3)
		s.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
		}
	}))
	oomKill := func(pod *corev1.Pod) {
		st := framework.PodStatus(corev1.PodFailed, 137, 0)
		st.ContainerStatuses[0].State.Terminated.Reason = "OOMKilled"
		env.WritePodStatus(t, pod, st)
	}
	replacement := func(after string) corev1.Pod {
		var got corev1.Pod
		framework.Eventually(t, "a pod replacing "+after, func() (bool, string) {
			active := framework.ActivePods(env.JobPods(t, job))
			if len(active) == 1 && active[0].Name != after {
				got = active[0]
				return true, ""
			}
			return false, fmt.Sprintf("%d active", len(active))
		})
		return got
	}
	wantMemory := func(pod *corev1.Pod, want, annotation string) {
		t.Helper()
		r := pod.Spec.Containers[0].Resources
		req, lim := r.Requests[corev1.ResourceMemory], r.Limits[corev1.ResourceMemory]
		if req.String() != want || lim.String() != want {
			t.Errorf("pod %s: memory request %s, limit %s; want %s", pod.Name, req.String(), lim.String(), want)
		}
		if got := pod.Annotations[v1alpha1.MemoryIncreaseAnnotation]; got != annotation {
			t.Errorf("pod %s: annotation %s=%q, want %q", pod.Name, v1alpha1.MemoryIncreaseAnnotation, got, annotation)
		}
	}

	first := env.WaitForActivePods(t, job, 1)[0]
	wantMemory(&first, "256Mi", "")
	oomKill(&first)
	second := replacement(first.Name)
	wantMemory(&second, "384Mi", "main: 256Mi -> 384Mi after OOMKilled in pod "+first.Name)
	oomKill(&second)
	third := replacement(second.Name)
	wantMemory(&third, "500Mi", "main: 384Mi -> 500Mi (capped at 500Mi) after OOMKilled in pod "+second.Name)
	env.WaitForEvents(t, job, "MemoryIncreased", "MemoryIncreased")
}
