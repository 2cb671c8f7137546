package helm

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// kueue.enabled renders --kueue, config/kueue's admission policy and RBAC (cluster-wide, or
// with watchNamespaces the Workload rights as Roles in the watched namespaces), and nothing
// of it by default.
func TestKueue(t *testing.T) {
	kueueFiles := []string{filepath.Join(root, "config", "kueue", "admission.yaml"), filepath.Join(root, "config", "kueue", "rbac.yaml")}
	config := readObjects(t, kueueFiles...)
	flags := append(apiVersionFlags(t), "--set", "kueue.enabled=true")
	objs := helmTemplate(t, flags...)

	var d appsv1.Deployment
	objs.into(t, "Deployment", namespace, fullname, &d)
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--kueue") {
		t.Errorf("kueue.enabled: args %v lack --kueue", d.Spec.Template.Spec.Containers[0].Args)
	}
	for _, kind := range []string{"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"} {
		want := config.get(t, kind, "", "batchjob-kueue-suspend")
		got := objs.get(t, kind, "", "batchjob-kueue-suspend")
		if diff := cmp.Diff(want.Object["spec"], got.Object["spec"]); diff != "" {
			t.Errorf("%s differs from config/kueue (-want,+got):\n%s", kind, diff)
		}
	}
	want := flatten(t, rulesOf(t, config, "ClusterRole", "", "batchjob-controller-kueue"))
	if diff := cmp.Diff(want, flatten(t, rulesOf(t, objs, "ClusterRole", "", fullname+"-kueue"))); diff != "" {
		t.Errorf("ClusterRole rules differ from config/kueue/rbac.yaml (-want,+got):\n%s", diff)
	}
	var b rbacv1.ClusterRoleBinding
	objs.into(t, "ClusterRoleBinding", "", fullname+"-kueue", &b)
	if b.RoleRef.Name != fullname+"-kueue" || len(b.Subjects) != 1 || b.Subjects[0].Name != fullname || b.Subjects[0].Namespace != namespace {
		t.Errorf("ClusterRoleBinding %+v", b)
	}

	// watchNamespaces: Workloads only in the watched namespaces.
	nsObjs := helmTemplate(t, append(flags, "--set", "watchNamespaces={team-a}")...)
	cluster := flatten(t, rulesOf(t, nsObjs, "ClusterRole", "", fullname+"-kueue"))
	role := flatten(t, rulesOf(t, nsObjs, "Role", "team-a", fullname+"-kueue"))
	nsObjs.get(t, "RoleBinding", "team-a", fullname+"-kueue")
	if _, ok := cluster["kueue.x-k8s.io/workloads"]; ok {
		t.Errorf("watchNamespaces: the ClusterRole grants Workloads cluster-wide: %v", cluster)
	}
	if diff := cmp.Diff(want, union(cluster, role)); diff != "" {
		t.Errorf("watchNamespaces: ClusterRole and Role together differ from config/kueue/rbac.yaml (-want,+got):\n%s", diff)
	}
	sel, _, _ := unstructured.NestedSlice(nsObjs.get(t, "MutatingAdmissionPolicy", "", "batchjob-kueue-suspend").Object,
		"spec", "matchConstraints", "namespaceSelector", "matchExpressions")
	wantSel := []any{map[string]any{"key": "kubernetes.io/metadata.name", "operator": "In", "values": []any{"team-a"}}}
	if diff := cmp.Diff(wantSel, sel); diff != "" {
		t.Errorf("watchNamespaces: the admission policy's namespaces (-want,+got):\n%s", diff)
	}

	for k := range helmTemplate(t, apiVersionFlags(t)...) {
		for _, name := range []string{"batchjob-kueue-suspend", fullname + "-kueue"} {
			if k == key("MutatingAdmissionPolicy", "", name) || k == key("ClusterRole", "", name) {
				t.Errorf("rendered by default: %s", k)
			}
		}
	}
}
