// Command crdpatch adds to the generated CRDs what kubebuilder markers cannot put on the
// embedded corev1 types: `default: {}` on the BatchJob pod template's metadata and on its
// containers[].resources and initContainers[].resources; and it drops the descriptions
// inside every embedded pod template, keeping those of the project's own fields, so that
// `kubectl explain batchjob.spec.backoffLimit` explains while the CRD stays well under the
// size the API server and Helm accept (the pod template's documentation alone would double it;
// `kubectl explain pod.spec` has it).
//
// Why: Go clients always serialize `metadata: {}` and `resources: {}` while YAML manifests
// usually omit them, and
// CEL compares the two as different objects, so an ordinary client Update (e.g. flipping
// spec.suspend) would be rejected as a template change. With the schema default, the API
// server fills it in on every request and on every read from etcd, so both sides agree, as
// upstream's Go-struct comparison does.
//
// Usage: go run ./hack/crdpatch config/crd/bases/*.yaml
package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crdpatch CRD.yaml...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		if err := patchFile(path); err != nil {
			fmt.Fprintln(os.Stderr, "crdpatch:", err)
			os.Exit(1)
		}
	}
}

func patchFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	body := bytes.TrimPrefix(data, []byte("---\n"))
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(body, crd); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i := range crd.Spec.Versions {
		schema := crd.Spec.Versions[i].Schema
		if schema == nil || schema.OpenAPIV3Schema == nil {
			return fmt.Errorf("%s version %s: no schema", path, crd.Spec.Versions[i].Name)
		}
		if crd.Spec.Names.Kind == "BatchJob" {
			if err := defaultResources(schema); err != nil {
				return fmt.Errorf("%s version %s: %w", path, crd.Spec.Versions[i].Name, err)
			}
		}
		if crd.Spec.Names.Kind == "BatchCronJob" {
			// walk returns copies of map values: change the spec and store it back.
			jobTemplate, err := walk(schema.OpenAPIV3Schema, "spec", "jobTemplate")
			if err != nil {
				return fmt.Errorf("%s version %s: %w", path, crd.Spec.Versions[i].Name, err)
			}
			jobSpec := jobTemplate.Properties["spec"]
			dropTransitionRules(&jobSpec)
			jobTemplate.Properties["spec"] = jobSpec
		}
		dropPodTemplateDescriptions(schema.OpenAPIV3Schema)
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	// controller-gen writes no status and starts with a document marker; keep that shape.
	out = bytes.Replace(out, []byte("status:\n  acceptedNames:\n    kind: \"\"\n    plural: \"\"\n  conditions: null\n  storedVersions: null\n"), nil, 1)
	return os.WriteFile(path, append([]byte("---\n"), out...), 0o644)
}

func defaultResources(v *apiextensionsv1.CustomResourceValidation) error {
	template, err := walk(v.OpenAPIV3Schema, "spec", "template")
	if err != nil {
		return err
	}
	meta, ok := template.Properties["metadata"]
	if !ok {
		return fmt.Errorf("template has no metadata")
	}
	meta.Default = &apiextensionsv1.JSON{Raw: []byte("{}")}
	template.Properties["metadata"] = meta
	podSpec, err := walk(template, "spec")
	if err != nil {
		return err
	}
	for _, list := range []string{"containers", "initContainers"} {
		items, err := walk(podSpec, list)
		if err != nil {
			return err
		}
		if items.Items == nil || items.Items.Schema == nil {
			return fmt.Errorf("%s has no item schema", list)
		}
		res, ok := items.Items.Schema.Properties["resources"]
		if !ok {
			return fmt.Errorf("%s[] has no resources", list)
		}
		res.Default = &apiextensionsv1.JSON{Raw: []byte("{}")}
		items.Items.Schema.Properties["resources"] = res
	}
	return nil
}

// dropPodTemplateDescriptions removes every description inside a pod template (a property
// named template with metadata and spec.containers), wherever it is embedded.
func dropPodTemplateDescriptions(s *apiextensionsv1.JSONSchemaProps) {
	for name := range s.Properties {
		child := s.Properties[name]
		if name == "template" && isPodTemplate(&child) {
			own := child.Description // the field's own, one line
			dropDescriptions(&child)
			child.Description = own
		} else {
			dropPodTemplateDescriptions(&child)
		}
		s.Properties[name] = child
	}
	if s.Items != nil && s.Items.Schema != nil {
		dropPodTemplateDescriptions(s.Items.Schema)
	}
}

func isPodTemplate(s *apiextensionsv1.JSONSchemaProps) bool {
	spec, ok := s.Properties["spec"]
	_, hasMeta := s.Properties["metadata"]
	_, hasContainers := spec.Properties["containers"]
	return ok && hasMeta && hasContainers
}

func dropDescriptions(s *apiextensionsv1.JSONSchemaProps) {
	s.Description = ""
	for name := range s.Properties {
		child := s.Properties[name]
		dropDescriptions(&child)
		s.Properties[name] = child
	}
	if s.Items != nil && s.Items.Schema != nil {
		dropDescriptions(s.Items.Schema)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		dropDescriptions(s.AdditionalProperties.Schema)
	}
}

// dropTransitionRules removes the rules that compare with the old object (oldSelf) from a
// BatchJobSpec embedded in a BatchCronJob's jobTemplate: they make a BatchJob's fields
// immutable, but upstream's CronJob jobTemplate may be edited freely (jobs created later
// use the new template; the ones already created keep theirs).
func dropTransitionRules(s *apiextensionsv1.JSONSchemaProps) {
	s.XValidations = slices.DeleteFunc(s.XValidations, func(r apiextensionsv1.ValidationRule) bool {
		return strings.Contains(r.Rule, "oldSelf")
	})
	if len(s.XValidations) == 0 {
		s.XValidations = nil
	}
	for name := range s.Properties {
		child := s.Properties[name]
		dropTransitionRules(&child)
		s.Properties[name] = child
	}
	if s.Items != nil && s.Items.Schema != nil {
		dropTransitionRules(s.Items.Schema)
	}
}

// walk follows properties by name. Properties are maps (shared by reference), so a write
// into the returned schema's Properties lands in the original tree.
func walk(s *apiextensionsv1.JSONSchemaProps, names ...string) (*apiextensionsv1.JSONSchemaProps, error) {
	for _, n := range names {
		child, ok := s.Properties[n]
		if !ok {
			return nil, fmt.Errorf("no property %q", n)
		}
		s = &child
	}
	return s, nil
}
