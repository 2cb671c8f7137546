package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	helmRelease   = "batchjob"
	helmNamespace = "batchjob-system"
	// helmFullname is the name of every object of release "batchjob" (values.yaml).
	helmFullname = "batchjob-controller"
	// helmLease is the leader-election Lease of release "batchjob" (--leader-election-id,
	// "<fullname>.batchjob.dev"), in the release namespace.
	helmLease  = helmFullname + ".batchjob.dev"
	keepPolicy = "helm.sh/resource-policy"
)

var helmChart = filepath.Join(root, "config", "helm", "batchjob-controller")

// helmValues are passed to every install and upgrade. The KWOK stages finish every
// running pod after its simulated run time (2s unless annotated), restartPolicy Always
// or not; an hour keeps the chart's Deployment pods Running and Ready for the whole test.
var helmValues = []string{`--set-string`, `podAnnotations.batchjob\.dev/simulate-duration=1h`}

// TestHelmChart installs config/helm/batchjob-controller into a cluster of its own, runs
// bin/batchjob-controller out of cluster as the chart's ServiceAccount (impersonated) with
// the Deployment's own arguments, and checks install, upgrade and uninstall.
//
// Not parallel on purpose: as a sequential test it runs before the suite's parallel tests
// are released, so its second control plane never competes with them for the CPUs.
func TestHelmChart(t *testing.T) {
	start := time.Now()
	c := startHelmCluster(t)
	t.Logf("Helm test cluster up in %v", time.Since(start).Round(time.Millisecond))
	steps := []struct {
		name string
		run  func(*testing.T, *helmCluster)
	}{
		{"Install", testHelmInstall},
		{"RBACLeastPrivilege", testHelmRBACLeastPrivilege},
		{"RBACSufficientAllNamespaces", testHelmRBACAllNamespaces},
		{"UpgradeWatchNamespaces", testHelmUpgradeWatchNamespaces},
		{"UpgradeBack", testHelmUpgradeBack},
		{"Uninstall", testHelmUninstall},
	}
	for _, s := range steps {
		stepStart := time.Now()
		ok := t.Run(s.name, func(t *testing.T) { s.run(t, c) })
		t.Logf("%s took %v", s.name, time.Since(stepStart).Round(time.Millisecond))
		if !ok {
			return // every step builds on the previous one
		}
	}
}

func testHelmInstall(t *testing.T, c *helmCluster) {
	out := c.helm(t, append([]string{"install", helmRelease, helmChart, "-n", helmNamespace, "--create-namespace", "--wait=false"}, helmValues...)...)
	for _, want := range []string{"STATUS: deployed", "kubectl -n batchjob-system rollout status deployment/batchjob-controller"} {
		if !strings.Contains(out, want) {
			t.Errorf("helm install output lacks %q:\n%s", want, out)
		}
	}
	checkReleaseRevision(t, c, 1)

	var crd metav1.PartialObjectMetadata
	c.get(t, &crd, "crd", "batchjobs.batchjob.dev")
	if got := crd.Annotations[keepPolicy]; got != "keep" {
		t.Errorf("CRD annotation %s = %q, want keep", keepPolicy, got)
	}
	c.kubectl(t, "wait", "--for=condition=Established", "--timeout=60s", "crd/batchjobs.batchjob.dev")
	checkAdmissionPolicies(t, c)

	var sa corev1.ServiceAccount
	c.get(t, &sa, "serviceaccount", helmFullname, "-n", helmNamespace)
	checkBinding(t, c, "clusterrolebinding", helmFullname, "", "ClusterRole")
	checkBinding(t, c, "clusterrolebinding", helmFullname+"-metrics-auth", "", "ClusterRole")
	checkBinding(t, c, "rolebinding", helmFullname+"-leader-election", helmNamespace, "Role")
	var role rbacv1.ClusterRole
	c.get(t, &role, "clusterrole", helmFullname)
	if !grants(role.Rules, "", "pods", "create") || !grants(role.Rules, "batchjob.dev", "batchjobs/status", "update") {
		t.Errorf("ClusterRole %s does not grant pods create and batchjobs/status update: %+v", helmFullname, role.Rules)
	}
	var leader rbacv1.Role
	c.get(t, &leader, "role", helmFullname+"-leader-election", "-n", helmNamespace)
	if !grants(leader.Rules, "coordination.k8s.io", "leases", "update") {
		t.Errorf("Role %s-leader-election does not grant leases update: %+v", helmFullname, leader.Rules)
	}

	for _, args := range releaseObjects() {
		c.kubectl(t, append([]string{"get"}, args...)...)
	}
	dep := deployment(t, c)
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("Deployment replicas = %v, want 2", dep.Spec.Replicas)
	}
	if got := dep.Spec.Template.Spec.ServiceAccountName; got != helmFullname {
		t.Errorf("Deployment serviceAccountName = %q, want %q", got, helmFullname)
	}
	// Longer than the manager's 25s graceful shutdown timeout, so the Lease is released.
	if got := dep.Spec.Template.Spec.TerminationGracePeriodSeconds; got == nil || *got != 40 {
		t.Errorf("Deployment terminationGracePeriodSeconds = %v, want 40", got)
	}
	if diff := cmp.Diff(chartArgs(""), managerArgs(t, dep)); diff != "" {
		t.Errorf("Deployment args (-want,+got):\n%s", diff)
	}
	// The pods are KWOK's, not real processes: this shows that the pod spec the chart
	// renders is accepted and scheduled and that the Deployment counts them available.
	eventually(t, 90*time.Second, "2 available controller replicas", func() (bool, string) {
		d := deployment(t, c)
		return d.Status.AvailableReplicas == 2, fmt.Sprintf("%+v", d.Status)
	})
}

// testHelmRBACLeastPrivilege asks the API server's authorizer what the chart's
// ServiceAccount may do (`kubectl auth can-i --as`): Leases only in the release namespace
// (create, and get/update of its own Lease), no update on BatchJobs anywhere.
func testHelmRBACLeastPrivilege(t *testing.T, c *helmCluster) {
	c.namespace(t, "helm-rbac")
	checkCanI(t, c, append(leaseCanI(), batchJobCanI("helm-rbac", true)...))
}

// canICheck is one `kubectl auth can-i` question and the answer it must get.
type canICheck struct {
	want bool
	args []string
}

// leaseCanI: the controller's rights on Leases, whatever watchNamespaces says.
func leaseCanI() []canICheck {
	return []canICheck{
		{false, []string{"update", "leases", "-n", "kube-system"}},
		{false, []string{"create", "leases", "-n", "kube-system"}},
		{false, []string{"get", "leases", "-n", "kube-node-lease"}},
		{false, []string{"update", "leases/" + helmLease, "-n", "kube-system"}},
		{true, []string{"create", "leases", "-n", helmNamespace}},
		{true, []string{"get", "leases/" + helmLease, "-n", helmNamespace}},
		{true, []string{"update", "leases/" + helmLease, "-n", helmNamespace}},
		// get and update are narrowed to the release's own Lease.
		{false, []string{"update", "leases", "-n", helmNamespace}},
		{false, []string{"update", "leases/other.batchjob.dev", "-n", helmNamespace}},
	}
}

// batchJobCanI: the controller's rights on BatchJobs in ns (watched or not): never update,
// patch and status updates where it reconciles.
func batchJobCanI(ns string, watched bool) []canICheck {
	return []canICheck{
		{false, []string{"update", "batchjobs", "-n", ns}},
		{false, []string{"update", "batchjobs/x", "-n", ns}},
		{watched, []string{"patch", "batchjobs", "-n", ns}},
		{watched, []string{"update", "batchjobs", "--subresource=status", "-n", ns}},
		{watched, []string{"create", "pods", "-n", ns}},
	}
}

func checkCanI(t *testing.T, c *helmCluster, checks []canICheck) {
	t.Helper()
	for _, ck := range checks {
		if got := c.canI(t, helmNamespace, helmFullname, ck.args...); got != ck.want {
			t.Errorf("kubectl auth can-i %s --as=system:serviceaccount:%s:%s: %v, want %v",
				strings.Join(ck.args, " "), helmNamespace, helmFullname, got, ck.want)
		}
	}
}

func testHelmRBACAllNamespaces(t *testing.T, c *helmCluster) {
	kc := c.impersonatingKubeconfig(t, helmNamespace, helmFullname)
	checkImpersonation(t, c, kc)
	c.namespace(t, "helm-all")
	ctrl := startChartController(t, kc, "helm-controller-all.log", localArgs(t, managerArgs(t, deployment(t, c))))
	c.apply(t, "helm-all", shortJob("everywhere"))
	waitComplete(t, c, "helm-all", "everywhere", 3)
	var lease coordinationv1.Lease
	c.get(t, &lease, "lease", helmLease, "-n", helmNamespace)
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("leader-election Lease in %s has no holder: %+v", helmNamespace, lease.Spec)
	}
	checkNoForbidden(t, ctrl)
}

func testHelmUpgradeWatchNamespaces(t *testing.T, c *helmCluster) {
	c.namespace(t, "team-a") // watchNamespaces must exist before the upgrade
	c.namespace(t, "helm-unwatched")
	c.helm(t, append([]string{"upgrade", helmRelease, helmChart, "-n", helmNamespace, "--wait=false", "--set", "watchNamespaces={team-a}"}, helmValues...)...)
	checkReleaseRevision(t, c, 2)

	var role rbacv1.Role
	c.get(t, &role, "role", helmFullname, "-n", "team-a")
	if !grants(role.Rules, "", "pods", "create") || !grants(role.Rules, "batchjob.dev", "batchjobs", "watch") {
		t.Errorf("Role %s in team-a does not grant pods create and batchjobs watch: %+v", helmFullname, role.Rules)
	}
	checkBinding(t, c, "rolebinding", helmFullname, "team-a", "Role")
	var cluster rbacv1.ClusterRole
	c.get(t, &cluster, "clusterrole", helmFullname)
	if grants(cluster.Rules, "", "pods", "list") || grants(cluster.Rules, "batchjob.dev", "batchjobs", "list") {
		t.Errorf("with watchNamespaces the ClusterRole still grants pods or batchjobs cluster-wide: %+v", cluster.Rules)
	}
	dep := deployment(t, c)
	if diff := cmp.Diff(chartArgs("team-a"), managerArgs(t, dep)); diff != "" {
		t.Errorf("Deployment args after the upgrade (-want,+got):\n%s", diff)
	}
	checkCanI(t, c, slices.Concat(leaseCanI(), batchJobCanI("team-a", true), batchJobCanI("helm-unwatched", false)))

	kc := c.impersonatingKubeconfig(t, helmNamespace, helmFullname)
	c.apply(t, "helm-unwatched", shortJob("ignored"))
	ctrl := startChartController(t, kc, "helm-controller-team-a.log", localArgs(t, managerArgs(t, dep)))
	c.apply(t, "team-a", shortJob("watched"))
	waitComplete(t, c, "team-a", "watched", 3)
	// By now the controller has long seen the older BatchJob, had it been watching there.
	var ignored batchJob
	c.get(t, &ignored, "batchjob", "ignored", "-n", "helm-unwatched")
	var pods corev1.PodList
	c.get(t, &pods, "pods", "-n", "helm-unwatched")
	if ignored.Status.StartTime != nil || len(ignored.Status.Conditions) != 0 || len(pods.Items) != 0 {
		t.Errorf("BatchJob outside watchNamespaces was touched: status %+v, %d pods", ignored.Status, len(pods.Items))
	}
	checkNoForbidden(t, ctrl)
}

func testHelmUpgradeBack(t *testing.T, c *helmCluster) {
	c.helm(t, append([]string{"upgrade", helmRelease, helmChart, "-n", helmNamespace, "--wait=false"}, helmValues...)...)
	checkReleaseRevision(t, c, 3)
	eventually(t, 30*time.Second, "the team-a Role and RoleBinding to be removed", func() (bool, string) {
		role, last := c.absent("role", helmFullname, "-n", "team-a")
		binding, last2 := c.absent("rolebinding", helmFullname, "-n", "team-a")
		return role && binding, last + last2
	})
	var cluster rbacv1.ClusterRole
	c.get(t, &cluster, "clusterrole", helmFullname)
	if !grants(cluster.Rules, "", "pods", "create") {
		t.Errorf("after watchNamespaces went back to [] the ClusterRole lacks pods create: %+v", cluster.Rules)
	}
	if diff := cmp.Diff(chartArgs(""), managerArgs(t, deployment(t, c))); diff != "" {
		t.Errorf("Deployment args after upgrading back (-want,+got):\n%s", diff)
	}
}

func testHelmUninstall(t *testing.T, c *helmCluster) {
	policiesBefore := admissionPolicyNames(t, c)
	out := c.helm(t, "uninstall", helmRelease, "-n", helmNamespace, "--timeout=60s")
	if !strings.Contains(out, "kept due to the resource policy") {
		t.Errorf("helm uninstall output does not mention the kept resources:\n%s", out)
	}
	for _, args := range releaseObjects() {
		eventually(t, 30*time.Second, fmt.Sprintf("%v to be removed", args), func() (bool, string) { return c.absent(args...) })
	}
	var crd metav1.PartialObjectMetadata
	c.get(t, &crd, "crd", "batchjobs.batchjob.dev")
	if crd.DeletionTimestamp != nil {
		t.Errorf("the CRD is being deleted after helm uninstall")
	}
	if diff := cmp.Diff(policiesBefore, admissionPolicyNames(t, c)); diff != "" {
		t.Errorf("admission policies after helm uninstall (-want,+got):\n%s", diff)
	}
	for _, j := range [][2]string{{"helm-all", "everywhere"}, {"team-a", "watched"}, {"helm-unwatched", "ignored"}} {
		var job batchJob
		c.get(t, &job, "batchjob", j[1], "-n", j[0]) // fails the test when it is gone
	}
	if list := c.helm(t, "list", "-n", helmNamespace, "-q"); strings.TrimSpace(list) != "" {
		t.Errorf("helm list after uninstall: %q, want empty", list)
	}
}

// releaseObjects are `kubectl get` arguments of the objects the release owns apart from
// the kept CRD and admission policies (with default values and watchNamespaces: []).
func releaseObjects() [][]string {
	objs := [][]string{
		{"deployment", helmFullname, "-n", helmNamespace},
		{"serviceaccount", helmFullname, "-n", helmNamespace},
		{"role", helmFullname + "-leader-election", "-n", helmNamespace},
		{"rolebinding", helmFullname + "-leader-election", "-n", helmNamespace},
		{"service", helmFullname + "-metrics", "-n", helmNamespace},
	}
	for _, name := range []string{helmFullname, helmFullname + "-metrics-auth", helmFullname + "-metrics-reader"} {
		objs = append(objs, []string{"clusterrole", name})
	}
	for _, name := range []string{helmFullname, helmFullname + "-metrics-auth"} {
		objs = append(objs, []string{"clusterrolebinding", name})
	}
	return objs
}

// chartArgs are the manager arguments the chart renders with default values, plus
// --namespaces when watching some.
func chartArgs(namespaces string) []string {
	args := []string{"--leader-elect", "--leader-election-namespace=" + helmNamespace, "--leader-election-id=" + helmLease,
		"--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"}
	if namespaces != "" {
		args = append(args, "--namespaces="+namespaces)
	}
	return append(args, "--concurrent-syncs=5", "--kube-api-qps=50", "--kube-api-burst=100", "--status-batch-period=1s",
		"--zap-log-level=info", "--zap-encoder=json", "--zap-devel=false")
}

// localArgs are the Deployment's arguments with the listen addresses moved to loopback
// ports of this test; everything else (leader election, namespaces, ...) is kept.
func localArgs(t *testing.T, args []string) []string {
	t.Helper()
	out := slices.Clone(args)
	moved := 0
	for i, a := range out {
		switch {
		case strings.HasPrefix(a, "--metrics-bind-address="):
			out[i], moved = "--metrics-bind-address="+helmMetricsAddr, moved+1
		case strings.HasPrefix(a, "--health-probe-bind-address="):
			out[i], moved = "--health-probe-bind-address="+helmProbeAddr, moved+1
		}
	}
	if moved != 2 {
		t.Fatalf("the Deployment's args %v lack the metrics or probe address", args)
	}
	return out
}

func deployment(t *testing.T, c *helmCluster) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	c.get(t, &d, "deployment", helmFullname, "-n", helmNamespace)
	return &d
}

func managerArgs(t *testing.T, d *appsv1.Deployment) []string {
	t.Helper()
	for _, ctr := range d.Spec.Template.Spec.Containers {
		if ctr.Name == "manager" {
			return ctr.Args
		}
	}
	t.Fatalf("the Deployment has no manager container: %+v", d.Spec.Template.Spec.Containers)
	return nil
}

// grants reports whether one of the rules allows verb on group/resource.
func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb)
	})
}

// checkBinding checks that a (Cluster)RoleBinding binds the role of its own name to the
// chart's ServiceAccount.
func checkBinding(t *testing.T, c *helmCluster, kind, name, ns, roleKind string) {
	t.Helper()
	args := []string{kind, name}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	var b rbacv1.RoleBinding // a ClusterRoleBinding decodes into the same fields
	c.get(t, &b, args...)
	want := rbacv1.RoleBinding{
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: roleKind, Name: name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: helmFullname, Namespace: helmNamespace}},
	}
	if diff := cmp.Diff(want.RoleRef, b.RoleRef); diff != "" {
		t.Errorf("%s %s roleRef (-want,+got):\n%s", kind, name, diff)
	}
	if diff := cmp.Diff(want.Subjects, b.Subjects); diff != "" {
		t.Errorf("%s %s subjects (-want,+got):\n%s", kind, name, diff)
	}
}

func checkReleaseRevision(t *testing.T, c *helmCluster, revision int) {
	t.Helper()
	var status struct {
		Version int `json:"version"`
		Info    struct {
			Status string `json:"status"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(c.helm(t, "status", helmRelease, "-n", helmNamespace, "-o", "json")), &status); err != nil {
		t.Fatal(err)
	}
	if status.Version != revision || status.Info.Status != "deployed" {
		t.Errorf("helm status: revision %d %s, want revision %d deployed", status.Version, status.Info.Status, revision)
	}
}

// checkImpersonation makes sure the kubeconfig really acts as the ServiceAccount, so a
// passing RBAC check cannot come from the admin's rights.
func checkImpersonation(t *testing.T, c *helmCluster, kc string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kubectlBin, "--kubeconfig", kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").CombinedOutput()
	if want := "system:serviceaccount:" + helmNamespace + ":" + helmFullname; err != nil || string(out) != want {
		t.Fatalf("kubectl auth whoami with the impersonating kubeconfig: %q, %v; want %q", out, err, want)
	}
	out, err = exec.CommandContext(ctx, kubectlBin, "--kubeconfig", kc, "get", "secrets", "-n", helmNamespace).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Forbidden") {
		t.Fatalf("the chart's ServiceAccount may list secrets (%v): %s", err, out)
	}
}

// checkNoForbidden stops the controller and fails on any authorization error in its log.
func checkNoForbidden(t *testing.T, p *controllerProcess) {
	t.Helper()
	log := p.log(t)
	for line := range strings.Lines(log) {
		if strings.Contains(strings.ToLower(line), "forbidden") {
			t.Errorf("controller log %s has an authorization error: %s", p.logPath, line)
		}
	}
}
