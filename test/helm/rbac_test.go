package helm

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// grants flattens rules into "group/resource" (or "url:/path") -> sorted verbs, so that two
// rule lists compare by what they allow, whatever their grouping.
type grants map[string][]string

func flatten(t *testing.T, rules []rbacv1.PolicyRule) grants {
	t.Helper()
	out := grants{}
	add := func(target string, verbs []string) {
		out[target] = slices.Compact(slices.Sorted(slices.Values(append(out[target], verbs...))))
	}
	for _, r := range rules {
		for _, field := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.NonResourceURLs, r.ResourceNames} {
			for _, v := range field {
				if strings.Contains(v, "*") {
					t.Errorf("wildcard %q in rule %+v", v, r)
				}
			}
		}
		for _, url := range r.NonResourceURLs {
			add("url:"+url, r.Verbs)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				add(g+"/"+res, r.Verbs)
			}
		}
	}
	return out
}

// The controller's least privilege, from the +kubebuilder:rbac markers in
// internal/controller. Changing a marker must change this table, on purpose.
var (
	clusterScopedGrants = grants{
		"authentication.k8s.io/tokenreviews":        {"create"},
		"authorization.k8s.io/subjectaccessreviews": {"create"},
	}
	namespacedGrants = grants{
		// patch: the generated selector (selector.go); delete: TTL (ttl.go) and BatchCronJob
		// history and Replace; create: BatchCronJob runs (internal/cronjob); no update, the
		// controller writes a BatchJob only through patch and the status subresource.
		"batchjob.dev/batchjobs":            {"create", "delete", "get", "list", "patch", "watch"},
		"batchjob.dev/batchjobs/status":     {"update"},
		"batchjob.dev/batchjobs/finalizers": {"update"},
		// BatchCronJobs: read, status written by update, finalizers for blockOwnerDeletion
		// on the BatchJobs they control.
		"batchjob.dev/batchcronjobs":            {"get", "list", "watch"},
		"batchjob.dev/batchcronjobs/status":     {"update"},
		"batchjob.dev/batchcronjobs/finalizers": {"update"},
		"/pods":                                 {"create", "delete", "get", "list", "patch", "watch"},
		// spec.podStartupPolicy: the BatchJobPodStartupFailed condition, before the deletion.
		"/pods/status":         {"patch"},
		"events.k8s.io/events": {"create", "patch"},
		// No leases: only the leader-election Role in the release namespace grants them.
	}
	leaderElectionGrants = grants{
		"coordination.k8s.io/leases": {"create", "get", "update"},
		"/events":                    {"create", "patch"},
	}
	metricsReaderGrants = grants{"url:/metrics": {"get"}}
)

func union(gs ...grants) grants {
	out := grants{}
	for _, g := range gs {
		maps.Copy(out, g)
	}
	return out
}

func rulesOf(t *testing.T, objs objects, kind, ns, name string) []rbacv1.PolicyRule {
	t.Helper()
	if kind == "Role" {
		var r rbacv1.Role
		objs.into(t, kind, ns, name, &r)
		return r.Rules
	}
	var r rbacv1.ClusterRole
	objs.into(t, kind, ns, name, &r)
	return r.Rules
}

func TestGeneratedRoleIsLeastPrivilege(t *testing.T) {
	generated := readObjects(t, filepath.Join(root, "config", "rbac", "role.yaml"))
	rules := rulesOf(t, generated, "ClusterRole", "", fullname)
	if diff := cmp.Diff(union(namespacedGrants, clusterScopedGrants), flatten(t, rules)); diff != "" {
		t.Errorf("config/rbac/role.yaml grants (-want,+got):\n%s", diff)
	}
	chartRules := rulesOf(t, helmTemplate(t), "ClusterRole", "", fullname)
	if diff := cmp.Diff(rules, chartRules); diff != "" {
		t.Errorf("the chart's ClusterRole differs from config/rbac/role.yaml (run `make manifests`) (-want,+got):\n%s", diff)
	}
}

func TestRolesDefault(t *testing.T) {
	objs := helmTemplate(t)
	cases := map[string]struct {
		kind, ns, name string
		want           grants
	}{
		"controller":      {"ClusterRole", "", fullname, union(namespacedGrants, clusterScopedGrants)},
		"leader election": {"Role", namespace, fullname + "-leader-election", leaderElectionGrants},
		"metrics auth":    {"ClusterRole", "", fullname + "-metrics-auth", clusterScopedGrants},
		"metrics reader":  {"ClusterRole", "", fullname + "-metrics-reader", metricsReaderGrants},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, flatten(t, rulesOf(t, objs, tc.kind, tc.ns, tc.name))); diff != "" {
				t.Errorf("%s grants (-want,+got):\n%s", key(tc.kind, tc.ns, tc.name), diff)
			}
		})
	}
	checkBindings(t, objs)
}

// With watchNamespaces, nothing namespaced is granted cluster-wide: each watched namespace
// gets a Role, and ClusterRoles keep only what no Role can grant (TokenReview and
// SubjectAccessReview for the metrics endpoint, the /metrics URL).
func TestRolesWatchNamespaces(t *testing.T) {
	objs := helmTemplate(t, append(apiVersionFlags(t), "--set", "watchNamespaces={team-a,team-b}")...)
	want := append(admissionKeys(t),
		key("ClusterRole", "", fullname),
		key("ClusterRole", "", fullname+"-metrics-auth"),
		key("ClusterRole", "", fullname+"-metrics-reader"),
		key("ClusterRoleBinding", "", fullname),
		key("ClusterRoleBinding", "", fullname+"-metrics-auth"),
		key("CustomResourceDefinition", "", "batchcronjobs.batchjob.dev"),
		key("CustomResourceDefinition", "", "batchjobs.batchjob.dev"),
		key("Deployment", namespace, fullname),
		key("Role", namespace, fullname+"-leader-election"),
		key("Role", "team-a", fullname),
		key("Role", "team-b", fullname),
		key("RoleBinding", namespace, fullname+"-leader-election"),
		key("RoleBinding", "team-a", fullname),
		key("RoleBinding", "team-b", fullname),
		key("Service", namespace, fullname+"-metrics"),
		key("ServiceAccount", namespace, fullname),
	)
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), objs.keys()); diff != "" {
		t.Fatalf("rendered objects (-want,+got):\n%s", diff)
	}
	for _, ns := range []string{"team-a", "team-b"} {
		if diff := cmp.Diff(namespacedGrants, flatten(t, rulesOf(t, objs, "Role", ns, fullname))); diff != "" {
			t.Errorf("Role in %s grants (-want,+got):\n%s", ns, diff)
		}
	}
	if diff := cmp.Diff(clusterScopedGrants, flatten(t, rulesOf(t, objs, "ClusterRole", "", fullname))); diff != "" {
		t.Errorf("ClusterRole %s grants (-want,+got):\n%s", fullname, diff)
	}
	for k, obj := range objs {
		if obj.GetKind() != "ClusterRole" {
			continue
		}
		for target := range flatten(t, rulesOf(t, objs, "ClusterRole", "", obj.GetName())) {
			if _, ok := clusterScopedGrants[target]; !ok && !strings.HasPrefix(target, "url:") {
				t.Errorf("%s grants %s cluster-wide although only some namespaces are watched", k, target)
			}
		}
	}
	checkBindings(t, objs)
}

// checkBindings: every binding refers to a rendered role and only to the controller's
// ServiceAccount, and every rendered role is bound (except metrics-reader, for scrapers).
func checkBindings(t *testing.T, objs objects) {
	t.Helper()
	bound := map[string]bool{}
	for k, obj := range objs {
		var b rbacv1.RoleBinding // same roleRef/subjects shape as ClusterRoleBinding
		switch obj.GetKind() {
		case "RoleBinding", "ClusterRoleBinding":
			objs.into(t, obj.GetKind(), obj.GetNamespace(), obj.GetName(), &b)
		default:
			continue
		}
		roleNS := ""
		if b.RoleRef.Kind == "Role" {
			roleNS = b.Namespace
		}
		ref := key(b.RoleRef.Kind, roleNS, b.RoleRef.Name)
		if _, ok := objs[ref]; !ok {
			t.Errorf("%s refers to %s, which the chart does not render", k, ref)
		}
		bound[ref] = true
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: fullname, Namespace: namespace}}
		if diff := cmp.Diff(want, b.Subjects); diff != "" {
			t.Errorf("%s subjects (-want,+got):\n%s", k, diff)
		}
	}
	for k, obj := range objs {
		if (obj.GetKind() == "Role" || obj.GetKind() == "ClusterRole") && !bound[k] && obj.GetName() != fullname+"-metrics-reader" {
			t.Errorf("%s is bound to nothing", k)
		}
	}
}

// The leader-election Role's exact rules: create on Leases (RBAC cannot restrict a create by
// name), get and update only on the release's own Lease, events for "became leader".
func TestLeaderElectionRoleRules(t *testing.T) {
	cases := map[string]struct {
		release, fullname string
		flags             []string
	}{
		"default release":   {release, fullname, nil},
		"other release":     {"nightly", "nightly-controller", nil},
		"fullname override": {release, "bj", []string{"--set", "fullnameOverride=bj"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := helmTemplateRelease(t, tc.release, tc.flags...)
			lease := tc.fullname + ".batchjob.dev"
			want := []rbacv1.PolicyRule{
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{lease}, Verbs: []string{"get", "update"}},
				{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
			}
			if diff := cmp.Diff(want, rulesOf(t, objs, "Role", namespace, tc.fullname+"-leader-election")); diff != "" {
				t.Errorf("leader-election Role rules (-want,+got):\n%s", diff)
			}
			var d appsv1.Deployment
			objs.into(t, "Deployment", namespace, tc.fullname, &d)
			if arg := "--leader-election-id=" + lease; !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, arg) {
				t.Errorf("the Deployment's args %v lack %s", d.Spec.Template.Spec.Containers[0].Args, arg)
			}
		})
	}
	if diff := cmp.Diff(rulesOf(t, helmTemplate(t), "Role", namespace, fullname+"-leader-election"),
		rulesOf(t, readObjects(t, filepath.Join(root, "config", "rbac", "leader_election_role.yaml")), "Role", namespace, fullname+"-leader-election")); diff != "" {
		t.Errorf("config/rbac/leader_election_role.yaml differs from the chart's (-chart,+config):\n%s", diff)
	}
}

// What `kubectl auth can-i VERB RESOURCE[/NAME] -n NS --as=system:serviceaccount:<release
// namespace>:<fullname>` answers with the chart's roles and bindings and nothing else.
func TestServiceAccountCanI(t *testing.T) {
	const lease = fullname + ".batchjob.dev"
	type check struct {
		verb, group, resource, ns, name string
		want                            bool
	}
	leaseChecks := []check{
		{"update", "coordination.k8s.io", "leases", "kube-system", "", false},
		{"update", "coordination.k8s.io", "leases", "kube-system", lease, false},
		{"get", "coordination.k8s.io", "leases", "kube-node-lease", "node-1", false},
		{"create", "coordination.k8s.io", "leases", "kube-system", "", false},
		{"update", "coordination.k8s.io", "leases", "team-a", lease, false},
		{"create", "coordination.k8s.io", "leases", namespace, "", true},
		{"get", "coordination.k8s.io", "leases", namespace, lease, true},
		{"update", "coordination.k8s.io", "leases", namespace, lease, true},
		{"update", "coordination.k8s.io", "leases", namespace, "other.batchjob.dev", false},
		{"update", "coordination.k8s.io", "leases", namespace, "", false}, // any Lease
		{"delete", "coordination.k8s.io", "leases", namespace, lease, false},
		{"list", "coordination.k8s.io", "leases", namespace, "", false},
	}
	jobChecks := func(ns string, watched bool) []check {
		return []check{
			{"update", "batchjob.dev", "batchjobs", ns, "", false},
			{"update", "batchjob.dev", "batchjobs", ns, "x", false},
			{"patch", "batchjob.dev", "batchjobs", ns, "x", watched},
			{"delete", "batchjob.dev", "batchjobs", ns, "x", watched},
			{"update", "batchjob.dev", "batchjobs/status", ns, "x", watched},
			{"create", "", "pods", ns, "", watched},
		}
	}
	cases := map[string]struct {
		flags  []string
		checks []check
	}{
		"all namespaces": {
			checks: append(append(leaseChecks, jobChecks("team-a", true)...), jobChecks(namespace, true)...),
		},
		"watchNamespaces": {
			flags:  []string{"--set", "watchNamespaces={team-a}"},
			checks: append(append(leaseChecks, jobChecks("team-a", true)...), jobChecks("team-b", false)...),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := helmTemplate(t, tc.flags...)
			for _, c := range tc.checks {
				target := c.resource
				if c.group != "" {
					target += "." + c.group
				}
				if c.name != "" {
					target += "/" + c.name
				}
				if got := canI(t, objs, c.verb, c.group, c.resource, c.ns, c.name); got != c.want {
					t.Errorf("can-i %s %s -n %s: %v, want %v", c.verb, target, c.ns, got, c.want)
				}
			}
		})
	}
}

// canI evaluates the rendered RBAC for the chart's ServiceAccount the way the RBAC
// authorizer does for a resource request: a RoleBinding grants its role's rules in its own
// namespace, a ClusterRoleBinding everywhere; a rule with resourceNames matches only a
// request for one of those names (an unnamed request, like create or list, never).
func canI(t *testing.T, objs objects, verb, group, resource, ns, name string) bool {
	t.Helper()
	sa := rbacv1.Subject{Kind: "ServiceAccount", Name: fullname, Namespace: namespace}
	for _, obj := range objs {
		var b rbacv1.RoleBinding // a ClusterRoleBinding decodes into the same fields
		switch obj.GetKind() {
		case "RoleBinding":
			if obj.GetNamespace() != ns {
				continue
			}
		case "ClusterRoleBinding":
		default:
			continue
		}
		objs.into(t, obj.GetKind(), obj.GetNamespace(), obj.GetName(), &b)
		if !slices.Contains(b.Subjects, sa) {
			continue
		}
		roleNS := ""
		if b.RoleRef.Kind == "Role" {
			roleNS = b.Namespace
		}
		for _, r := range rulesOf(t, objs, b.RoleRef.Kind, roleNS, b.RoleRef.Name) {
			if slices.Contains(r.Verbs, verb) && slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) &&
				(len(r.ResourceNames) == 0 || (name != "" && slices.Contains(r.ResourceNames, name))) {
				return true
			}
		}
	}
	return false
}
