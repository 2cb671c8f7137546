package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// failAttemptsAnnotation makes the KWOK stage pod-fail-attempts.yaml fail a pod while its
// index has failed fewer times than this (config/kwok/stages/pod-fail-attempts.yaml).
const failAttemptsAnnotation = "batchjob.dev/simulate-fail-attempts"

type workload struct {
	o   options
	cs  kubernetes.Interface
	dyn dynamic.Interface
	gvr schema.GroupVersionResource
}

// jobSpec is one job of a workload, the same for both kinds.
type jobSpec struct {
	name                     string
	completions, parallelism int
	indexed                  bool
	// backoffLimitPerIndex 1 and the pods of the first failAttempts attempts of every
	// index fail (the pods carry their index's failure count, which the stage reads).
	failAttempts int
}

func gvrOf(kind string) schema.GroupVersionResource {
	if kind == "Job" {
		return schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	}
	return schema.GroupVersionResource{Group: "batchjob.dev", Version: "v1alpha1", Resource: "batchjobs"}
}

// specs returns the jobs of the workload and the rate to create them at (0: all at once).
func (w *workload) specs() ([]jobSpec, float64, error) {
	o := w.o
	var specs []jobSpec
	many := func(n, completions, parallelism int, f func(i int, s *jobSpec)) {
		for i := 0; i < n; i++ {
			s := jobSpec{name: fmt.Sprintf("%s-%d", o.workload, i), completions: completions, parallelism: parallelism}
			if f != nil {
				f(i, &s)
			}
			specs = append(specs, s)
		}
	}
	rate := 0.0
	switch o.workload {
	case "small":
		many(o.jobs, o.completions, o.parallelism, nil)
	case "indexed":
		many(1, o.indexedCompletions, o.indexedParallelism, func(_ int, s *jobSpec) { s.indexed = true })
	case "failures":
		many(o.jobs, o.completions, o.parallelism, func(i int, s *jobSpec) {
			s.indexed = true
			if i%2 == 0 {
				s.failAttempts = 1
			}
		})
	case "onepod":
		many(o.onepodJobs, 1, 1, nil)
		rate = o.onepodRate
	case "scale":
		many(1, o.scaleCompletions, o.scaleParallelism, func(_ int, s *jobSpec) { s.indexed = true })
	case "memory":
		many(o.memoryJobs, o.memoryPodsPerJob, o.memoryPodsPerJob, nil)
	default:
		return nil, 0, fmt.Errorf("unknown workload %q (want one of %v)", o.workload, workloadNames)
	}
	if len(specs) == 0 {
		return nil, 0, fmt.Errorf("workload %s has no jobs with these sizes", o.workload)
	}
	return specs, rate, nil
}

// shape describes the workload in a line of the report.
func (w *workload) shape() string {
	o := w.o
	d := o.podDuration + " pods"
	switch o.workload {
	case "small":
		return fmt.Sprintf("%d jobs × %d completions, parallelism %d, created at once; %s", o.jobs, o.completions, o.parallelism, d)
	case "indexed":
		return fmt.Sprintf("one Indexed job, %d completions, parallelism %d; %s", o.indexedCompletions, o.indexedParallelism, d)
	case "failures":
		return fmt.Sprintf("%d Indexed jobs × %d completions, parallelism %d, backoffLimitPerIndex 1; every index of every other job fails once; %s",
			o.jobs, o.completions, o.parallelism, d)
	case "onepod":
		return fmt.Sprintf("%d one-pod jobs created at %g/s; %s", o.onepodJobs, o.onepodRate, d)
	case "scale":
		return fmt.Sprintf("one Indexed job, %d completions, parallelism %d; %s", o.scaleCompletions, o.scaleParallelism, d)
	case "memory":
		return fmt.Sprintf("%d jobs × %d pods, left finished with their pods; %s", o.memoryJobs, o.memoryPodsPerJob, d)
	}
	return o.workload
}

func (w *workload) createNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.o.namespace}}
	if _, err := w.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s (the cluster should be fresh): %w", w.o.namespace, err)
	}
	// Pod admission needs the namespace's default ServiceAccount, which kube-controller-
	// manager's serviceaccount-controller creates.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := w.cs.CoreV1().ServiceAccounts(w.o.namespace).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no default ServiceAccount in %s after 2 minutes (is serviceaccount-controller running?)", w.o.namespace)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the default ServiceAccount: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ready waits until kube-apiserver accepts a job of the workload (a server-side dry run):
// right after the CRD is installed, creates can fail for a while ("Resource kind ... not
// found") although the cluster reports ready. Done before the measured window.
func (w *workload) ready(ctx context.Context, s *jobSpec) error {
	client := w.dyn.Resource(w.gvr).Namespace(w.o.namespace)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := client.Create(ctx, w.object(s), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server does not accept a %s after 2 minutes: %w", w.o.kind, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// object is the same job for both kinds: a BatchJob is a batch/v1 Job with another
// apiVersion and kind.
func (w *workload) object(s *jobSpec) *unstructured.Unstructured {
	apiVersion := "batchjob.dev/v1alpha1"
	if w.o.kind == "Job" {
		apiVersion = "batch/v1"
	}
	annotations := map[string]any{"batchjob.dev/simulate-duration": w.o.podDuration}
	spec := map[string]any{
		"completions": int64(s.completions),
		"parallelism": int64(s.parallelism),
		"template": map[string]any{
			"metadata": map[string]any{"annotations": annotations},
			"spec": map[string]any{
				"restartPolicy": "Never",
				"containers":    []any{map[string]any{"name": "main", "image": "busybox:1.36"}},
			},
		},
	}
	if s.indexed {
		spec["completionMode"] = "Indexed"
	}
	if w.o.workload == "failures" {
		spec["backoffLimitPerIndex"] = int64(1)
		if s.failAttempts > 0 {
			annotations[failAttemptsAnnotation] = fmt.Sprint(s.failAttempts)
		}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion,
		"kind":       w.o.kind,
		"metadata":   map[string]any{"name": s.name, "namespace": w.o.namespace},
		"spec":       spec,
	}}
}

type outcome struct {
	elapsed            time.Duration // first create → last Complete condition seen
	latencies          []time.Duration
	succeeded, failed  int64 // pods, from the final statuses
	last               *unstructured.Unstructured
	firstCreate, final time.Time
}

// runJobs creates the jobs (at rate per second, or all at once) and watches them until
// every one is Complete; a Failed job ends the run with an error.
func (w *workload) runJobs(ctx context.Context, specs []jobSpec, rate float64) (*outcome, error) {
	client := w.dyn.Resource(w.gvr).Namespace(w.o.namespace)
	list, err := client.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	watcher, err := client.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		return nil, err
	}
	defer func() { watcher.Stop() }()

	var mu sync.Mutex
	created := map[string]time.Time{}
	createErr := make(chan error, 1)
	go func() {
		start := time.Now()
		for i := range specs {
			if rate > 0 {
				if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
					time.Sleep(d)
				}
			}
			t := time.Now()
			mu.Lock()
			created[specs[i].name] = t
			mu.Unlock()
			if _, err := client.Create(ctx, w.object(&specs[i]), metav1.CreateOptions{}); err != nil {
				createErr <- fmt.Errorf("creating %s: %w", specs[i].name, err)
				return
			}
		}
	}()

	out := &outcome{}
	done := map[string]*unstructured.Unstructured{}
	observe := func(obj *unstructured.Unstructured, at time.Time) error {
		if _, seen := done[obj.GetName()]; seen {
			return nil
		}
		switch finished(obj) {
		case "Failed":
			return fmt.Errorf("%s %s failed", w.o.kind, obj.GetName())
		case "Complete":
			mu.Lock()
			c, ok := created[obj.GetName()]
			mu.Unlock()
			if !ok {
				return nil
			}
			done[obj.GetName()] = obj
			out.latencies = append(out.latencies, at.Sub(c))
			out.final, out.last = at, obj
		}
		return nil
	}
	progress := time.NewTicker(30 * time.Second)
	defer progress.Stop()
	for len(done) < len(specs) {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%d/%d jobs complete: %w", len(done), len(specs), ctx.Err())
		case err := <-createErr:
			return nil, err
		case <-progress.C:
			fmt.Fprintf(os.Stderr, "bench: %d/%d jobs complete\n", len(done), len(specs))
		case ev, ok := <-watcher.ResultChan():
			if ok && ev.Type != watch.Error {
				if obj, isObj := ev.Object.(*unstructured.Unstructured); isObj {
					if err := observe(obj, time.Now()); err != nil {
						return nil, err
					}
				}
				continue
			}
			// The watch ended (timeout, or too old a resource version): list and watch again.
			watcher.Stop()
			l, err := client.List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				if err := observe(&l.Items[i], time.Now()); err != nil {
					return nil, err
				}
			}
			if watcher, err = client.Watch(ctx, metav1.ListOptions{ResourceVersion: l.GetResourceVersion()}); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range created {
		if out.firstCreate.IsZero() || t.Before(out.firstCreate) {
			out.firstCreate = t
		}
	}
	out.elapsed = out.final.Sub(out.firstCreate)
	for _, obj := range done {
		s, _, _ := unstructured.NestedInt64(obj.Object, "status", "succeeded")
		f, _, _ := unstructured.NestedInt64(obj.Object, "status", "failed")
		out.succeeded += s
		out.failed += f
	}
	return out, nil
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

// checkScale checks the one big Indexed job's final counts and measures its status.
func checkScale(obj *unstructured.Unstructured, completions int64) *scaleCheck {
	sc := &scaleCheck{}
	if obj == nil {
		sc.Problem = "no finished job"
		return sc
	}
	sc.Succeeded, _, _ = unstructured.NestedInt64(obj.Object, "status", "succeeded")
	sc.Failed, _, _ = unstructured.NestedInt64(obj.Object, "status", "failed")
	sc.CompletedIndexes, _, _ = unstructured.NestedString(obj.Object, "status", "completedIndexes")
	if status, ok := obj.Object["status"]; ok {
		if data, err := jsonSize(status); err == nil {
			sc.StatusBytes = data
		}
	}
	if data, err := jsonSize(obj.Object); err == nil {
		sc.ObjectBytes = data
	}
	want := fmt.Sprintf("0-%d", completions-1)
	if completions == 1 {
		want = "0"
	}
	var problems []error
	if sc.Succeeded != completions {
		problems = append(problems, fmt.Errorf("succeeded %d, want %d", sc.Succeeded, completions))
	}
	if sc.CompletedIndexes != want {
		problems = append(problems, fmt.Errorf("completedIndexes %q, want %q", sc.CompletedIndexes, want))
	}
	if sc.Failed != 0 {
		problems = append(problems, fmt.Errorf("failed %d, want 0", sc.Failed))
	}
	if err := errors.Join(problems...); err != nil {
		sc.Problem = err.Error()
	} else {
		sc.Exact = true
	}
	return sc
}

// percentile is the nearest-rank percentile p of ds, in milliseconds.
func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	idx := (len(s)*p + 99) / 100
	if idx < 1 {
		idx = 1
	}
	return float64(s[idx-1].Microseconds()) / 1000
}
