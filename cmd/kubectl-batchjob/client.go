package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// batchJobs is the resource the plugin works on. Fixed rather than discovered: the plugin
// is for this one API, and skipping discovery saves a round trip per command.
var batchJobs = v1alpha1.GroupVersion.WithResource("batchjobs")

// clients are the connections a verb needs, bound to the namespace from the flags.
type clients struct {
	ns   string
	jobs dynamic.ResourceInterface
	kube kubernetes.Interface
}

func (o *rootOptions) clients() (*clients, error) {
	ns, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &clients{ns: ns, jobs: dyn.Resource(batchJobs).Namespace(ns), kube: kube}, nil
}

// getBatchJob reads a BatchJob both as the server sent it (so fields newer than this
// binary's types survive) and typed.
func (c *clients) getBatchJob(ctx context.Context, name string) (*unstructured.Unstructured, *v1alpha1.BatchJob, error) {
	u, err := c.jobs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	job, err := typed(u)
	return u, job, err
}

// typed decodes through JSON, which ignores fields the types do not have (yet).
func typed(u *unstructured.Unstructured) (*v1alpha1.BatchJob, error) {
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	var job v1alpha1.BatchJob
	if err := json.Unmarshal(raw, &job); err != nil {
		return nil, fmt.Errorf("decoding BatchJob %s: %w", u.GetName(), err)
	}
	return &job, nil
}

// writeFlags are --dry-run and -o of the verbs that create or change a BatchJob.
type writeFlags struct {
	dryRun string
	print  *genericclioptions.PrintFlags
}

func addWriteFlags(operation string) *writeFlags {
	return &writeFlags{print: genericclioptions.NewPrintFlags(operation)}
}

func (w *writeFlags) addTo(cmd *cobra.Command) {
	cmd.Flags().StringVar(&w.dryRun, "dry-run", "none",
		`"none", "client" (print the object, send nothing) or "server" (the API server validates and defaults it, nothing is persisted)`)
	w.print.AddFlags(cmd)
}

func (w *writeFlags) validate() error {
	switch w.dryRun {
	case "none", "client", "server":
		return nil
	}
	return fmt.Errorf(`--dry-run must be "none", "client" or "server", not %q`, w.dryRun)
}

// serverDryRun is the DryRun option of a write request.
func (w *writeFlags) serverDryRun() []string {
	if w.dryRun == "server" {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// printObject prints obj as -o asks, or as "batchjob.batchjob.dev/NAME <operation>" with
// kubectl's dry-run suffixes.
func (w *writeFlags) printObject(o *rootOptions, obj runtime.Object) error {
	switch w.dryRun {
	case "client":
		_ = w.print.Complete("%s (dry run)")
	case "server":
		_ = w.print.Complete("%s (server dry run)")
	}
	p, err := w.print.ToPrinter()
	if err != nil {
		return err
	}
	return p.PrintObj(obj, o.streams.Out)
}
