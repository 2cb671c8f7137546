package helm

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// `kubectl apply -k config/default` installs what `helm install batchjob ... -n
// batchjob-system` installs with default values, plus the Namespace: the same objects with
// the same names, and everything but metadata (labels differ by managed-by) identical.
func TestKustomizeMatchesChart(t *testing.T) {
	out, err := run(t, kubectl, "kustomize", "config/default")
	if err != nil {
		t.Fatal(err)
	}
	kust := decode(t, out)
	chart := helmTemplate(t, apiVersionFlags(t)...)

	wantKeys := append(chart.keys(), key("Namespace", "", namespace))
	if diff := cmp.Diff(slices.Sorted(slices.Values(wantKeys)), kust.keys()); diff != "" {
		t.Fatalf("config/default objects (-chart,+kustomize):\n%s", diff)
	}
	for k, c := range chart {
		if diff := cmp.Diff(withoutMetadata(c), withoutMetadata(kust[k])); diff != "" {
			t.Errorf("%s differs (-chart,+kustomize):\n%s", k, diff)
		}
	}
	ns := kust.get(t, "Namespace", "", namespace)
	if got := ns.GetLabels()["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace %s enforces pod security %q, want restricted", namespace, got)
	}
	for k, obj := range kust {
		if obj.GetLabels()["app.kubernetes.io/part-of"] != "batchjob" {
			t.Errorf("%s lacks the label app.kubernetes.io/part-of=batchjob", k)
		}
	}
}

// withoutMetadata drops metadata and normalises whitespace inside multi-line strings:
// kustomize's YAML parser (go-yaml v3) folds a `>-` scalar whose next line is more indented
// with an extra blank line, where the YAML spec (and helm, kubectl) keep one line break. In
// CEL expressions, the only multi-line strings here, that whitespace means nothing.
func withoutMetadata(obj *unstructured.Unstructured) map[string]any {
	c := obj.DeepCopy().Object
	delete(c, "metadata")
	return normalize(c).(map[string]any)
}

func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
	case string:
		if strings.Contains(v, "\n") {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return v
}
