package helm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/batchjob-dev/batchjob/test/util"
)

const (
	release   = "batchjob"
	namespace = "batchjob-system"
	fullname  = "batchjob-controller"
)

var (
	root      = util.RepoRoot()
	chartDir  = filepath.Join(root, "config", "helm", "batchjob-controller")
	helmBin   = filepath.Join(root, "bin", "helm")
	kubectl   = filepath.Join(root, "bin", "kubectl")
	toolsHint = map[string]string{helmBin: "make tools-dev", kubectl: "make tools-kube"}
)

// run executes a pinned tool from bin/ and returns its stdout. A missing tool is a failure,
// never a skip: these tests are part of `make test`, which builds the tools first.
func run(t *testing.T, bin string, args ...string) ([]byte, error) {
	t.Helper()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s is missing (build it with `%s`): %v", bin, toolsHint[bin], err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	cmd.WaitDelay = time.Minute
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// helmTemplate renders the chart as release "batchjob" in namespace batchjob-system with the
// given extra flags (e.g. "--set", "crds.enabled=false") and decodes every object.
func helmTemplate(t *testing.T, flags ...string) objects {
	t.Helper()
	return helmTemplateRelease(t, release, flags...)
}

// helmTemplateRelease renders the chart as the named release in namespace batchjob-system.
func helmTemplateRelease(t *testing.T, name string, flags ...string) objects {
	t.Helper()
	args := append([]string{"template", name, chartDir, "--namespace", namespace}, flags...)
	out, err := run(t, helmBin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, out)
}

// objects maps "Kind/namespace/name" to the rendered object.
type objects map[string]*unstructured.Unstructured

func key(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func (o objects) keys() []string {
	var ks []string
	for k := range o {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// get returns the object or fails the test, listing what was rendered.
func (o objects) get(t *testing.T, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj, ok := o[key(kind, ns, name)]
	if !ok {
		t.Fatalf("no %s in the rendered objects: %v", key(kind, ns, name), o.keys())
	}
	return obj
}

// into converts a rendered object into its typed form (e.g. *appsv1.Deployment).
func (o objects) into(t *testing.T, kind, ns, name string, typed any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.get(t, kind, ns, name).Object, typed, true); err != nil {
		t.Fatalf("%s does not decode into %T: %v", key(kind, ns, name), typed, err)
	}
}

func decode(t *testing.T, data []byte) objects {
	t.Helper()
	out := objects{}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decoding rendered YAML: %v", err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		k := key(obj.GetKind(), obj.GetNamespace(), obj.GetName())
		if _, dup := out[k]; dup {
			t.Fatalf("%s rendered twice", k)
		}
		out[k] = obj
	}
}

// readObjects decodes the objects of the given YAML files.
func readObjects(t *testing.T, files ...string) objects {
	t.Helper()
	var all []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, data...), []byte("\n---\n")...)
	}
	return decode(t, all)
}

// admissionFiles lists config/admission/*.yaml (without a kustomization.yaml).
func admissionFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "config", "admission", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			out = append(out, f)
		}
	}
	return out
}

// apiVersionFlags tells `helm template` (which has no cluster to ask) that the cluster
// serves the API of every admission policy in config/admission, as Kubernetes >= 1.36 does.
func apiVersionFlags(t *testing.T) []string {
	t.Helper()
	var flags []string
	for _, obj := range readObjects(t, admissionFiles(t)...) {
		flags = append(flags, "--api-versions", obj.GetAPIVersion()+"/"+obj.GetKind())
	}
	return flags
}
