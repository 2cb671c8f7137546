package helm

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// copyTree copies the files under src (if it exists) to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// readTree maps the relative path of every file under dir to its content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
}

// syncTree makes a scratch copy of the chart and the given inputs.
func syncTree(t *testing.T, inputs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range append(inputs, "config/helm") {
		src := filepath.Join(root, p)
		if info, err := os.Stat(src); err == nil && !info.IsDir() {
			writeFile(t, filepath.Join(dir, p), mustRead(t, src), info.Mode().Perm())
			continue
		}
		copyTree(t, src, filepath.Join(dir, p))
	}
	return dir
}

// runSync runs hack/syncchart on the scratch tree dir.
func runSync(t *testing.T, dir string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", "run", "./hack/syncchart", "-root", dir)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The committed chart is what hack/syncchart makes of the committed inputs, and a second run
// changes nothing.
func TestSyncChartIsCurrentAndIdempotent(t *testing.T) {
	dir := syncTree(t, "config/crd/bases", "config/admission", "config/rbac")
	chart := filepath.Join("config", "helm", "batchjob-controller")
	for run := 1; run <= 2; run++ {
		if out, err := runSync(t, dir); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		if diff := cmp.Diff(readTree(t, filepath.Join(root, chart)), readTree(t, filepath.Join(dir, chart))); diff != "" {
			t.Fatalf("run %d: the chart is not what hack/syncchart makes of config/ (run `make manifests`) (-committed,+synced):\n%s", run, diff)
		}
	}
}

const fixtureRole = `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: batchjob-controller
rules:
- apiGroups:
  - ""
  resources:
  - pods
  verbs:
  - get
- apiGroups:
  - apiextensions.k8s.io
  resources:
  - customresourcedefinitions
  verbs:
  - get
`

// A CEL expression may contain "{{": the chart must render it verbatim, not as a template.
const fixturePolicy = `# A comment the chart does not need.
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: batchjob-test
spec:
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{labels: {{"a": "b"}["a"]: "c"}}}'
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: batchjob-test
  labels:
    team: batch
spec:
  policyName: batchjob-test
`

// Rules on cluster-scoped resources stay in a ClusterRole when only some namespaces are
// watched; admission objects are copied verbatim with keep and the chart labels.
func TestSyncChartFixture(t *testing.T) {
	dir := syncTree(t, "config/crd/bases")
	writeFile(t, filepath.Join(dir, "config", "rbac", "role.yaml"), fixtureRole, 0o644)
	writeFile(t, filepath.Join(dir, "config", "admission", "policy.yaml"), fixturePolicy, 0o644)
	if out, err := runSync(t, dir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	chart := filepath.Join(dir, "config", "helm", "batchjob-controller")
	out, err := run(t, helmBin, "template", release, chart, "--namespace", namespace,
		"--api-versions", "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy",
		"--api-versions", "admissionregistration.k8s.io/v1/MutatingAdmissionPolicyBinding",
		"--set", "watchNamespaces={team-a}")
	if err != nil {
		t.Fatal(err)
	}
	objs := decode(t, out)

	policy := objs.get(t, "MutatingAdmissionPolicy", "", "batchjob-test")
	mutation := policy.Object["spec"].(map[string]any)["mutations"].([]any)[0].(map[string]any)
	gotExpr := mutation["applyConfiguration"].(map[string]any)["expression"]
	if want := `Object{metadata: Object.metadata{labels: {{"a": "b"}["a"]: "c"}}}`; gotExpr != want {
		t.Errorf("CEL expression rendered as %q, want %q", gotExpr, want)
	}
	binding := objs.get(t, "MutatingAdmissionPolicyBinding", "", "batchjob-test")
	if binding.GetLabels()["team"] != "batch" || binding.GetLabels()["app.kubernetes.io/part-of"] != "batchjob" {
		t.Errorf("binding labels %v, want its own team=batch and the chart's", binding.GetLabels())
	}
	for _, o := range []string{"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"} {
		if objs.get(t, o, "", "batchjob-test").GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("%s lacks helm.sh/resource-policy: keep", o)
		}
	}
	if diff := cmp.Diff(grants{"apiextensions.k8s.io/customresourcedefinitions": {"get"}}, flatten(t, rulesOf(t, objs, "ClusterRole", "", fullname))); diff != "" {
		t.Errorf("cluster-scoped ClusterRole (-want,+got):\n%s", diff)
	}
	if diff := cmp.Diff(grants{"/pods": {"get"}}, flatten(t, rulesOf(t, objs, "Role", "team-a", fullname))); diff != "" {
		t.Errorf("namespaced Role (-want,+got):\n%s", diff)
	}
	if _, ok := objs[key("ClusterRoleBinding", "", fullname)]; !ok {
		t.Error("the cluster-scoped rules are not bound")
	}

	// Without the policy API on the cluster, the policies are left out.
	out, err = run(t, helmBin, "template", release, chart, "--namespace", namespace)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("kind: MutatingAdmissionPolicy")) {
		t.Error("admission policies rendered for a cluster that does not serve their API")
	}
}

// One rule granting a namespaced and a cluster-scoped resource cannot be split into a Role
// and a ClusterRole: hack/syncchart must refuse it rather than grant it wrongly.
func TestSyncChartRejectsMixedRule(t *testing.T) {
	dir := syncTree(t, "config/crd/bases")
	mixed := strings.Replace(fixtureRole, "  - pods\n", "  - pods\n  - namespaces\n", 1)
	writeFile(t, filepath.Join(dir, "config", "rbac", "role.yaml"), mixed, 0o644)
	out, err := runSync(t, dir)
	if err == nil || !strings.Contains(out, "mixes cluster-scoped and namespaced resources") {
		t.Errorf("syncchart with a mixed rule: err %v, output:\n%s", err, out)
	}
}
