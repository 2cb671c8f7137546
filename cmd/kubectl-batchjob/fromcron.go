package main

import (
	"context"
	"fmt"
	"maps"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

var batchCronJobs = v1alpha1.GroupVersion.WithResource("batchcronjobs")

// fromBatchCronJob is `create NAME --from=batchcronjob/SRC`: a BatchJob from SRC's
// jobTemplate, controlled by SRC and marked as a manual run, as `kubectl create job
// --from=cronjob/SRC` makes a Job. Any other kind is an error.
func fromBatchCronJob(ctx context.Context, o *rootOptions, cl *clients, from, kind, src, name string) (*unstructured.Unstructured, error) {
	switch strings.ToLower(kind) {
	case "batchcronjob", "batchcronjobs", "bcj", "batchcronjob.batchjob.dev", "batchcronjobs.batchjob.dev":
	default:
		return nil, fmt.Errorf("--from=%q: unknown kind %q; supported: job/NAME, cronjob/NAME, batchcronjob/NAME", from, kind)
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cj, err := dyn.Resource(batchCronJobs).Namespace(cl.ns).Get(ctx, src, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	spec, _, err := unstructured.NestedMap(cj.Object, "spec", "jobTemplate", "spec")
	if err != nil {
		return nil, err
	}
	labels, _, _ := unstructured.NestedStringMap(cj.Object, "spec", "jobTemplate", "metadata", "labels")
	annotations, _, _ := unstructured.NestedStringMap(cj.Object, "spec", "jobTemplate", "metadata", "annotations")
	annotations = maps.Clone(annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["cronjob.kubernetes.io/instantiate"] = "manual"
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "BatchJob", "spec": spec,
	}}
	obj.SetName(name)
	obj.SetLabels(labels)
	obj.SetAnnotations(annotations)
	obj.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(cj, v1alpha1.GroupVersion.WithKind("BatchCronJob"))})
	return obj, nil
}
