package helm

import (
	"slices"
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

func withoutMetadata(obj *unstructured.Unstructured) map[string]any {
	c := obj.DeepCopy().Object
	delete(c, "metadata")
	return c
}
