package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// generatedLabels are the labels the API server (batch/v1) or our controller (BatchJob)
// adds to a job and its template; a new object must not carry them: they hold the old
// object's UID and the admission rules reject them on create.
var generatedLabels = []string{
	"controller-uid", "job-name",
	"batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name",
	v1alpha1.ControllerUIDLabel, v1alpha1.JobNameLabel,
}

// serverMetadata are the metadata fields the API server or controllers set.
var serverMetadata = []string{
	"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
	"deletionGracePeriodSeconds", "managedFields", "selfLink", "ownerReferences",
}

// droppedAnnotations are bookkeeping of the old object, not part of what a user wrote.
var droppedAnnotations = []string{
	"kubectl.kubernetes.io/last-applied-configuration",
	"batch.kubernetes.io/job-tracking",
}

// batchJobSpecFields are the JSON names of BatchJobSpec, read from the Go type so that
// fields added to the API are kept by conversion without touching this file.
var batchJobSpecFields = func() map[string]bool {
	fields := map[string]bool{}
	t := reflect.TypeOf(v1alpha1.BatchJobSpec{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = true
		}
	}
	return fields
}()

// jobToBatchJob turns a batch/v1 Job (as decoded JSON/YAML) into a BatchJob manifest: the
// same metadata and spec under the new apiVersion and kind, without what the API server
// set on the Job. warnings name spec fields BatchJob does not have (they are dropped).
func jobToBatchJob(job map[string]any) (*unstructured.Unstructured, []string, error) {
	u := &unstructured.Unstructured{Object: job}
	if gvk := u.GroupVersionKind(); gvk.Group != "batch" || gvk.Kind != "Job" {
		return nil, nil, fmt.Errorf("%s %q is not a batch Job", kindOf(u), u.GetName())
	}
	out := &unstructured.Unstructured{Object: map[string]any{}}
	out.SetAPIVersion(v1alpha1.GroupVersion.String())
	out.SetKind("BatchJob")
	if meta, ok := job["metadata"].(map[string]any); ok {
		out.Object["metadata"] = cleanMetadata(meta)
	}
	spec, _, err := unstructured.NestedMap(job, "spec")
	if err != nil {
		return nil, nil, err
	}
	spec, warnings := cleanSpec(spec)
	out.Object["spec"] = spec
	return out, warnings, nil
}

// cronJobToBatchJob is the BatchJob a CronJob's jobTemplate describes, named name (the
// CronJob's name when empty), in the CronJob's namespace.
func cronJobToBatchJob(cj map[string]any, name string) (*unstructured.Unstructured, []string, error) {
	u := &unstructured.Unstructured{Object: cj}
	if gvk := u.GroupVersionKind(); gvk.Group != "batch" || gvk.Kind != "CronJob" {
		return nil, nil, fmt.Errorf("%s %q is not a batch CronJob", kindOf(u), u.GetName())
	}
	tmpl, _, err := unstructured.NestedMap(cj, "spec", "jobTemplate")
	if err != nil {
		return nil, nil, err
	}
	meta, _ := tmpl["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	if name == "" {
		name = u.GetName()
	}
	meta["name"] = name
	if ns := u.GetNamespace(); ns != "" {
		meta["namespace"] = ns
	}
	job := map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": tmpl["spec"]}
	return jobToBatchJob(job)
}

func kindOf(u *unstructured.Unstructured) string {
	if u.GetKind() == "" {
		return "object without kind"
	}
	return u.GetAPIVersion() + " " + u.GetKind()
}

func cleanMetadata(meta map[string]any) map[string]any {
	out := deepCopyMap(meta)
	for _, f := range serverMetadata {
		delete(out, f)
	}
	deleteKeys(out, "labels", generatedLabels)
	deleteKeys(out, "annotations", droppedAnnotations)
	return out
}

// cleanSpec removes the generated selector and template labels (kept with
// manualSelector: then the user wrote them) and the fields BatchJob lacks.
func cleanSpec(spec map[string]any) (map[string]any, []string) {
	out := deepCopyMap(spec)
	var warnings []string
	for k := range out {
		if !batchJobSpecFields[k] {
			delete(out, k)
			warnings = append(warnings, fmt.Sprintf("spec.%s: BatchJob has no such field; dropped", k))
		}
	}
	sort.Strings(warnings)
	return stripGenerated(out), warnings
}

// deleteKeys deletes keys from the string map m[field], and the map itself once empty.
func deleteKeys(m map[string]any, field string, keys []string) {
	sub, ok := m[field].(map[string]any)
	if !ok {
		return
	}
	for _, k := range keys {
		delete(sub, k)
	}
	if len(sub) == 0 {
		delete(m, field)
	}
}

func nestedMap(m map[string]any, path ...string) (map[string]any, bool) {
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

func deepCopyMap(m map[string]any) map[string]any {
	return deepCopyValue(m).(map[string]any)
}

func deepCopyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopyValue(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopyValue(x)
		}
		return out
	default:
		return v
	}
}

// convertDocuments converts every Job and CronJob in a YAML or JSON stream (a List's
// items too); other kinds are an error, so nothing is silently left out.
func convertDocuments(r io.Reader) ([]*unstructured.Unstructured, []string, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(r), 4096)
	var out []*unstructured.Unstructured
	var warnings []string
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return out, warnings, nil
		} else if err != nil {
			return nil, nil, err
		}
		if doc == nil {
			continue
		}
		objs, w, err := convertObject(doc)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, objs...)
		warnings = append(warnings, w...)
	}
}

func convertObject(doc map[string]any) ([]*unstructured.Unstructured, []string, error) {
	u := &unstructured.Unstructured{Object: doc}
	switch u.GetKind() {
	case "List", "JobList", "CronJobList":
		items, _, _ := unstructured.NestedSlice(doc, "items")
		var out []*unstructured.Unstructured
		var warnings []string
		for _, item := range items {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			if u.GetKind() != "List" && m["kind"] == nil {
				m["apiVersion"], m["kind"] = u.GetAPIVersion(), strings.TrimSuffix(u.GetKind(), "List")
			}
			objs, w, err := convertObject(m)
			if err != nil {
				return nil, nil, err
			}
			out, warnings = append(out, objs...), append(warnings, w...)
		}
		return out, warnings, nil
	case "CronJob":
		obj, w, err := cronJobToBatchJob(doc, "")
		return []*unstructured.Unstructured{obj}, w, err
	default:
		obj, w, err := jobToBatchJob(doc)
		if err != nil {
			return nil, nil, err
		}
		return []*unstructured.Unstructured{obj}, w, nil
	}
}

func newConvertCommand(o *rootOptions) *cobra.Command {
	var files []string
	pf := genericclioptions.NewPrintFlags("converted").WithDefaultOutput("yaml")
	cmd := &cobra.Command{
		Use:   "convert -f FILE",
		Short: "Print batch/v1 Jobs (or CronJobs' job templates) as BatchJob manifests",
		Long: `Read batch/v1 Jobs and CronJobs and print each as a BatchJob: the same metadata and spec
under apiVersion batchjob.dev/v1alpha1, kind BatchJob. What the API server set on the Job is
left out: status, uid, resourceVersion, creationTimestamp, managedFields, ownerReferences,
the generated selector and the controller-uid/job-name labels. A CronJob becomes the
BatchJob its jobTemplate describes, named after the CronJob. Nothing is sent to the cluster.`,
		Example: `  # A Job manifest as a BatchJob
  kubectl batchjob convert -f job.yaml > batchjob.yaml

  # Take a running cluster's Job across
  kubectl get job pi -o yaml | kubectl batchjob convert -f - | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return errors.New("-f is required (use -f - for stdin)")
			}
			return runConvert(o, pf, files)
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "files with Jobs or CronJobs (YAML or JSON; - is stdin)")
	pf.AddFlags(cmd)
	return cmd
}

func runConvert(o *rootOptions, pf *genericclioptions.PrintFlags, files []string) error {
	p, err := pf.ToPrinter()
	if err != nil {
		return err
	}
	for _, f := range files {
		objs, warnings, err := convertFile(o, f)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for _, w := range warnings {
			fmt.Fprintf(o.streams.ErrOut, "Warning: %s: %s\n", f, w)
		}
		for _, obj := range objs {
			if err := p.PrintObj(obj, o.streams.Out); err != nil {
				return err
			}
		}
	}
	return nil
}

func convertFile(o *rootOptions, name string) ([]*unstructured.Unstructured, []string, error) {
	if name == "-" {
		return convertDocuments(o.streams.In)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = f.Close() }()
	return convertDocuments(f)
}
