package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

type workload struct {
	o   options
	cs  kubernetes.Interface
	dyn dynamic.Interface
	gvr schema.GroupVersionResource
}

func gvrOf(kind string) schema.GroupVersionResource {
	if kind == "Job" {
		return schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	}
	return schema.GroupVersionResource{Group: "batchjob.dev", Version: "v1alpha1", Resource: "batchjobs"}
}

func (w *workload) createNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.o.namespace}}
	if _, err := w.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s (delete it first if it is left over): %w", w.o.namespace, err)
	}
	// Pod admission needs the namespace's default ServiceAccount.
	for {
		if _, err := w.cs.CoreV1().ServiceAccounts(w.o.namespace).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the default ServiceAccount: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// object is the same job for both kinds: a BatchJob is a batch/v1 Job with another
// apiVersion and kind.
func (w *workload) object(name string, completions, parallelism int, duration string) *unstructured.Unstructured {
	apiVersion := "batchjob.dev/v1alpha1"
	if w.o.kind == "Job" {
		apiVersion = "batch/v1"
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       w.o.kind,
		"metadata":   map[string]any{"name": name, "namespace": w.o.namespace},
		"spec": map[string]any{
			"completions": int64(completions),
			"parallelism": int64(parallelism),
			"template": map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{"batchjob.dev/simulate-duration": duration}},
				"spec": map[string]any{
					"restartPolicy": "Never",
					"containers":    []any{map[string]any{"name": "main", "image": "busybox:1.36"}},
				},
			},
		},
	}}
}

// throughput creates every job at once and returns the time until all are Complete.
func (w *workload) throughput(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	for i := 0; i < w.o.jobs; i++ {
		obj := w.object(fmt.Sprintf("tp-%d", i), w.o.completions, w.o.parallelism, w.o.podDuration)
		if _, err := w.dyn.Resource(w.gvr).Namespace(w.o.namespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return 0, err
		}
	}
	for {
		list, err := w.dyn.Resource(w.gvr).Namespace(w.o.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, err
		}
		done := 0
		for i := range list.Items {
			if finished(&list.Items[i]) == "Complete" {
				done++
			} else if finished(&list.Items[i]) == "Failed" {
				return 0, fmt.Errorf("%s %s failed", w.o.kind, list.Items[i].GetName())
			}
		}
		if done == w.o.jobs {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("throughput run: %d/%d complete: %w", done, w.o.jobs, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// latency runs one-pod jobs one after another, each timed from just before its create to
// the watch event that shows its Complete condition.
func (w *workload) latency(ctx context.Context) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < w.o.latencyJobs; i++ {
		name := fmt.Sprintf("lat-%d", i)
		watcher, err := w.dyn.Resource(w.gvr).Namespace(w.o.namespace).Watch(ctx,
			metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			return nil, err
		}
		start := time.Now()
		_, err = w.dyn.Resource(w.gvr).Namespace(w.o.namespace).Create(ctx, w.object(name, 1, 1, "0s"), metav1.CreateOptions{})
		if err == nil {
			err = waitComplete(ctx, watcher)
		}
		watcher.Stop()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func waitComplete(ctx context.Context, watcher watch.Interface) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed")
			}
			obj, isObj := ev.Object.(*unstructured.Unstructured)
			if !isObj {
				continue
			}
			switch finished(obj) {
			case "Complete":
				return nil
			case "Failed":
				return fmt.Errorf("failed")
			}
		}
	}
}

// finished returns "Complete" or "Failed" when that condition is True, else "".
func finished(obj *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["status"] == "True" && (m["type"] == "Complete" || m["type"] == "Failed") {
			return m["type"].(string)
		}
	}
	return ""
}

func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := (len(s)*p + 99) / 100 // nearest rank
	if idx < 1 {
		idx = 1
	}
	return float64(s[idx-1].Microseconds()) / 1000
}
