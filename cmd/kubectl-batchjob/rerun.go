package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/indexset"
)

// RerunOfLabel marks a BatchJob made by `rerun` with the name of the job it reruns.
const RerunOfLabel = "batchjob.dev/rerun-of"

func newRerunCommand(o *rootOptions) *cobra.Command {
	var failedIndexes bool
	w := addWriteFlags("created")
	cmd := &cobra.Command{
		Use:   "rerun NAME [--failed-indexes]",
		Short: "Run a BatchJob again, as a new BatchJob NAME-rerun-N with the same spec",
		Long: `Create a new BatchJob from NAME's spec (without the generated selector and labels), named
NAME-rerun-N with N the next free number and labelled batchjob.dev/rerun-of=NAME. The new
BatchJob is not suspended, even if NAME is.

With --failed-indexes, NAME must be Indexed: the new BatchJob runs only the indexes that
failed or never succeeded (spec.completionIndexes), e.g. "3,7,9-12".`,
		Example: `  # Run the job "backup" again
  kubectl batchjob rerun backup

  # Run only the indexes of "render" that did not succeed
  kubectl batchjob rerun render --failed-indexes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.validate(); err != nil {
				return err
			}
			return runRerun(cmd.Context(), o, w, args[0], failedIndexes)
		},
	}
	cmd.Flags().BoolVar(&failedIndexes, "failed-indexes", false, "run only the indexes that failed or never succeeded (Indexed jobs)")
	w.addTo(cmd)
	return cmd
}

func runRerun(ctx context.Context, o *rootOptions, w *writeFlags, name string, failedIndexes bool) error {
	cl, err := o.clients()
	if err != nil {
		return err
	}
	orig, err := cl.jobs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	list, err := cl.jobs.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(list.Items))
	for i := range list.Items {
		names = append(names, list.Items[i].GetName())
	}
	obj, err := buildRerun(orig, nextRerunName(name, names), failedIndexes)
	if err != nil {
		return err
	}
	err = createObject(ctx, o, w, cl, obj)
	if err != nil && failedIndexes && strings.Contains(err.Error(), "completionIndexes") {
		return fmt.Errorf("this cluster's BatchJob API does not know spec.completionIndexes (its CRD predates it), "+
			"so --failed-indexes cannot work here; update the CRD, or rerun without --failed-indexes to run every index: %w", err)
	}
	return err
}

// nextRerunName is NAME-rerun-N with N one above the highest N among existing names.
func nextRerunName(name string, existing []string) string {
	re := regexp.MustCompile("^" + regexp.QuoteMeta(name) + `-rerun-([0-9]+)$`)
	next := 1
	for _, e := range existing {
		if m := re.FindStringSubmatch(e); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n >= next {
				next = n + 1
			}
		}
	}
	return fmt.Sprintf("%s-rerun-%d", name, next)
}

// buildRerun is the BatchJob that reruns orig: its labels, annotations and spec, without
// what the server and controller generated. It works on the unstructured object so that
// spec fields newer than this binary (and spec.completionIndexes) are carried as they are.
func buildRerun(orig *unstructured.Unstructured, name string, failedIndexes bool) (*unstructured.Unstructured, error) {
	spec, _, err := unstructured.NestedMap(orig.Object, "spec")
	if err != nil || spec == nil {
		return nil, fmt.Errorf("BatchJob %s has no readable spec: %w", orig.GetName(), err)
	}
	spec = stripGenerated(deepCopyMap(spec))
	// A rerun is meant to run: a suspended original (suspended by hand, or by a queue)
	// does not make a suspended rerun.
	delete(spec, "suspend")
	out := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	out.SetAPIVersion(v1alpha1.GroupVersion.String())
	out.SetKind("BatchJob")
	out.SetName(name)
	out.SetNamespace(orig.GetNamespace())
	labels := orig.GetLabels()
	for _, l := range generatedLabels {
		delete(labels, l)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	labels[RerunOfLabel] = orig.GetName()
	out.SetLabels(labels)
	annotations := orig.GetAnnotations()
	for _, a := range droppedAnnotations {
		delete(annotations, a)
	}
	out.SetAnnotations(annotations)
	if !failedIndexes {
		return out, nil
	}
	indexes, err := indexesToRerun(orig)
	if err != nil {
		return nil, err
	}
	return out, unstructured.SetNestedField(out.Object, indexes, "spec", "completionIndexes")
}

// indexesToRerun are the indexes of an Indexed job that did not succeed: those it was to
// run (all of 0..completions-1, or its own spec.completionIndexes) minus
// status.completedIndexes.
func indexesToRerun(job *unstructured.Unstructured) (string, error) {
	mode, _, _ := unstructured.NestedString(job.Object, "spec", "completionMode")
	completions, found := nestedInt(job.Object, "spec", "completions")
	if mode != string(v1alpha1.IndexedCompletion) || !found {
		return "", fmt.Errorf("--failed-indexes needs an Indexed BatchJob; %s is %s", job.GetName(), orDefault(mode, "NonIndexed"))
	}
	selected, _, _ := unstructured.NestedString(job.Object, "spec", "completionIndexes")
	completed, _, _ := unstructured.NestedString(job.Object, "status", "completedIndexes")
	rest := remainingIndexes(int(completions), selected, completed)
	if rest == "" {
		return "", errors.New("nothing to rerun: every index of " + job.GetName() + " succeeded")
	}
	return rest, nil
}

// remainingIndexes is (selected, or 0..completions-1 when empty) minus completed, as an
// interval string.
func remainingIndexes(completions int, selected, completed string) string {
	universe := indexset.Set{{First: 0, Last: completions - 1}}
	if completions <= 0 {
		universe = nil
	}
	if selected != "" {
		universe = indexset.Parse(selected, completions)
	}
	return difference(universe, indexset.Parse(completed, completions)).String()
}

// difference is the set of indexes in a and not in b; both are ordered, disjoint
// intervals, so one merge pass suffices.
func difference(a, b indexset.Set) indexset.Set {
	var out indexset.Set
	j := 0
	for _, iv := range a {
		first := iv.First
		for j < len(b) && b[j].Last < first {
			j++
		}
		for k := j; k < len(b) && b[k].First <= iv.Last; k++ {
			if b[k].First > first {
				out = append(out, indexset.Interval{First: first, Last: b[k].First - 1})
			}
			first = b[k].Last + 1
		}
		if first <= iv.Last {
			out = append(out, indexset.Interval{First: first, Last: iv.Last})
		}
	}
	return out
}

// stripGenerated removes the selector and template labels the controller generated
// (kept with manualSelector, where the user wrote them).
func stripGenerated(spec map[string]any) map[string]any {
	if manual, _ := spec["manualSelector"].(bool); !manual {
		delete(spec, "selector")
		if meta, ok := nestedMap(spec, "template", "metadata"); ok {
			deleteKeys(meta, "labels", generatedLabels)
		}
	}
	if meta, ok := nestedMap(spec, "template", "metadata"); ok {
		delete(meta, "creationTimestamp")
		if len(meta) == 0 {
			delete(spec["template"].(map[string]any), "metadata")
		}
	}
	return spec
}

// nestedInt reads a number whichever way it was decoded: int64 from the API server's
// JSON, float64 from YAML or encoding/json.
func nestedInt(obj map[string]any, path ...string) (int64, bool) {
	v, found, err := unstructured.NestedFieldNoCopy(obj, path...)
	if !found || err != nil {
		return 0, false
	}
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), n == float64(int64(n))
	}
	return 0, false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
