package helm

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestLint(t *testing.T) {
	cases := map[string][]string{
		"defaults":          nil,
		"namespaced":        {"--set", "watchNamespaces={team-a,team-b}"},
		"everything on/off": {"--set", "crds.enabled=false,metrics.serviceMonitor.enabled=true,podDisruptionBudget.enabled=true"},
		"metrics off":       {"--set", "metrics.enabled=false"},
	}
	for name, flags := range cases {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir}, flags...)
			out, err := run(t, helmBin, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(out), "0 chart(s) failed") || strings.Contains(string(out), "[WARNING]") {
				t.Errorf("helm lint is not clean:\n%s", out)
			}
		})
	}
}

// The objects of a default install, given a cluster that serves the admission policies' API.
func defaultObjects(t *testing.T) []string {
	return append(admissionKeys(t),
		key("ClusterRole", "", fullname),
		key("ClusterRole", "", fullname+"-metrics-auth"),
		key("ClusterRole", "", fullname+"-metrics-reader"),
		key("ClusterRoleBinding", "", fullname),
		key("ClusterRoleBinding", "", fullname+"-metrics-auth"),
		key("CustomResourceDefinition", "", "batchcronjobs.batchjob.dev"),
		key("CustomResourceDefinition", "", "batchjobs.batchjob.dev"),
		key("Deployment", namespace, fullname),
		key("Role", namespace, fullname+"-leader-election"),
		key("RoleBinding", namespace, fullname+"-leader-election"),
		key("Service", namespace, fullname+"-metrics"),
		key("ServiceAccount", namespace, fullname),
	)
}

func admissionKeys(t *testing.T) []string {
	return readObjects(t, admissionFiles(t)...).keys()
}

func TestObjectSets(t *testing.T) {
	without := func(drop ...string) []string {
		return slices.DeleteFunc(defaultObjects(t), func(k string) bool { return slices.Contains(drop, k) })
	}
	cases := map[string]struct {
		flags []string
		want  []string
	}{
		"defaults": {want: defaultObjects(t)},
		"crds disabled": {
			flags: []string{"--set", "crds.enabled=false"},
			want: without(append(admissionKeys(t), key("CustomResourceDefinition", "", "batchjobs.batchjob.dev"),
				key("CustomResourceDefinition", "", "batchcronjobs.batchjob.dev"))...),
		},
		"metrics disabled": {
			flags: []string{"--set", "metrics.enabled=false,metrics.serviceMonitor.enabled=true"},
			want: without(key("ClusterRole", "", fullname+"-metrics-auth"), key("ClusterRole", "", fullname+"-metrics-reader"),
				key("ClusterRoleBinding", "", fullname+"-metrics-auth"), key("Service", namespace, fullname+"-metrics")),
		},
		"service monitor and PDB": {
			flags: []string{"--set", "metrics.serviceMonitor.enabled=true,podDisruptionBudget.enabled=true"},
			want:  append(defaultObjects(t), key("ServiceMonitor", namespace, fullname), key("PodDisruptionBudget", namespace, fullname)),
		},
		"single replica without leader election": {
			flags: []string{"--set", "replicaCount=1,leaderElection.enabled=false"},
			want:  without(key("Role", namespace, fullname+"-leader-election"), key("RoleBinding", namespace, fullname+"-leader-election")),
		},
		"release name is used as the prefix": {
			flags: []string{"--set", "fullnameOverride=bj"},
			want: append(admissionKeys(t),
				key("ClusterRole", "", "bj"), key("ClusterRole", "", "bj-metrics-auth"), key("ClusterRole", "", "bj-metrics-reader"),
				key("ClusterRoleBinding", "", "bj"), key("ClusterRoleBinding", "", "bj-metrics-auth"),
				key("CustomResourceDefinition", "", "batchcronjobs.batchjob.dev"),
				key("CustomResourceDefinition", "", "batchjobs.batchjob.dev"), key("Deployment", namespace, "bj"),
				key("Role", namespace, "bj-leader-election"), key("RoleBinding", namespace, "bj-leader-election"),
				key("Service", namespace, "bj-metrics"), key("ServiceAccount", namespace, "bj"),
			),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := helmTemplate(t, append(tc.flags, apiVersionFlags(t)...)...).keys()
			want := slices.Sorted(slices.Values(tc.want))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rendered objects (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestInvalidValuesFail(t *testing.T) {
	cases := map[string]struct {
		set, wantErr string
	}{
		"two replicas without leader election":     {"leaderElection.enabled=false", "replicaCount > 1 needs leaderElection.enabled"},
		"bad namespace name":                       {"watchNamespaces={Team_A}", `"Team_A" is not a namespace name`},
		"namespace listed twice":                   {"watchNamespaces={a,a}", `"a" is listed twice`},
		"grace period within the shutdown timeout": {"terminationGracePeriodSeconds=25", "terminationGracePeriodSeconds must exceed the manager's 25s graceful shutdown timeout"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, helmBin, "template", release, chartDir, "--namespace", namespace, "--set", tc.set)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("helm template --set %s: got error %v, want one containing %q", tc.set, err, tc.wantErr)
			}
		})
	}
}

func TestDeploymentDefaults(t *testing.T) {
	var d appsv1.Deployment
	helmTemplate(t).into(t, "Deployment", namespace, fullname, &d)

	if got := ptr.Deref(d.Spec.Replicas, 0); got != 2 {
		t.Errorf("replicas: got %d, want 2", got)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(d.Spec.Template.Spec.Containers))
	}
	c := d.Spec.Template.Spec.Containers[0]
	wantArgs := []string{
		"--leader-elect",
		"--leader-election-namespace=" + namespace,
		"--leader-election-id=batchjob-controller.batchjob.dev",
		"--metrics-bind-address=:8443",
		"--health-probe-bind-address=:8081",
		"--concurrent-syncs=5",
		"--kube-api-qps=50",
		"--kube-api-burst=100",
		"--status-batch-period=1s",
		"--zap-log-level=info",
		"--zap-encoder=json",
		"--zap-devel=false",
	}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("args (-want,+got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/batchjob-controller"}, c.Command); diff != "" {
		t.Errorf("command (-want,+got):\n%s", diff)
	}
	if c.Image != "batchjob-controller:v0.1.0" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("image %q pull policy %q, want batchjob-controller:v0.1.0 (the chart's appVersion) IfNotPresent", c.Image, c.ImagePullPolicy)
	}
	if d.Spec.Template.Spec.ServiceAccountName != fullname {
		t.Errorf("serviceAccountName %q, want %q", d.Spec.Template.Spec.ServiceAccountName, fullname)
	}
	// Longer than the manager's 25s graceful shutdown timeout (--graceful-shutdown-timeout).
	if got := ptr.Deref(d.Spec.Template.Spec.TerminationGracePeriodSeconds, 0); got != 40 {
		t.Errorf("terminationGracePeriodSeconds %d, want 40", got)
	}
	checkSecurity(t, d.Spec.Template.Spec.SecurityContext, c.SecurityContext)
	checkProbes(t, c)
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources must request cpu and memory and limit memory: %+v", c.Resources)
	}
}

// checkSecurity asserts the "restricted" Pod Security Standard, field by field.
func checkSecurity(t *testing.T, pod *corev1.PodSecurityContext, ctr *corev1.SecurityContext) {
	t.Helper()
	wantPod := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65532),
		RunAsGroup:     ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(wantPod, pod); diff != "" {
		t.Errorf("pod securityContext (-want,+got):\n%s", diff)
	}
	wantCtr := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	if diff := cmp.Diff(wantCtr, ctr); diff != "" {
		t.Errorf("container securityContext (-want,+got):\n%s", diff)
	}
}

func checkProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	wantPorts := []corev1.ContainerPort{
		{Name: "metrics", ContainerPort: 8443, Protocol: corev1.ProtocolTCP},
		{Name: "health", ContainerPort: 8081, Protocol: corev1.ProtocolTCP},
	}
	if diff := cmp.Diff(wantPorts, c.Ports); diff != "" {
		t.Errorf("ports (-want,+got):\n%s", diff)
	}
	probe := func(path string, delay, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("health")}},
			InitialDelaySeconds: delay, PeriodSeconds: period,
		}
	}
	if diff := cmp.Diff(probe("/healthz", 15, 20), c.LivenessProbe); diff != "" {
		t.Errorf("livenessProbe (-want,+got):\n%s", diff)
	}
	if diff := cmp.Diff(probe("/readyz", 5, 10), c.ReadinessProbe); diff != "" {
		t.Errorf("readinessProbe (-want,+got):\n%s", diff)
	}
}

func TestDeploymentValues(t *testing.T) {
	var d appsv1.Deployment
	helmTemplate(t, "--set", "image.repository=registry.example/bj,image.tag=v9,image.pullPolicy=Always",
		"--set", "controller.concurrentSyncs=20,controller.kubeAPIQPS=200,controller.kubeAPIBurst=400,controller.statusBatchPeriod=0s",
		"--set", "logging.level=debug,logging.encoder=console,metrics.enabled=false,watchNamespaces={team-a,team-b}",
		"--set", "replicaCount=1,leaderElection.enabled=false,controller.extraArgs={--foo=bar}",
		"--set", "nodeSelector.disk=ssd,tolerations[0].key=dedicated,tolerations[0].operator=Exists,terminationGracePeriodSeconds=90",
	).into(t, "Deployment", namespace, fullname, &d)

	c := d.Spec.Template.Spec.Containers[0]
	wantArgs := []string{
		"--metrics-bind-address=0",
		"--health-probe-bind-address=:8081",
		"--namespaces=team-a,team-b",
		"--concurrent-syncs=20",
		"--kube-api-qps=200",
		"--kube-api-burst=400",
		"--status-batch-period=0s",
		"--zap-log-level=debug",
		"--zap-encoder=console",
		"--zap-devel=false",
		"--foo=bar",
	}
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("args (-want,+got):\n%s", diff)
	}
	if c.Image != "registry.example/bj:v9" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image %q pull policy %q, want registry.example/bj:v9 Always", c.Image, c.ImagePullPolicy)
	}
	if got := ptr.Deref(d.Spec.Replicas, 0); got != 1 {
		t.Errorf("replicas: got %d, want 1", got)
	}
	if got := ptr.Deref(d.Spec.Template.Spec.TerminationGracePeriodSeconds, 0); got != 90 {
		t.Errorf("terminationGracePeriodSeconds %d, want 90", got)
	}
	if diff := cmp.Diff([]corev1.ContainerPort{{Name: "health", ContainerPort: 8081, Protocol: corev1.ProtocolTCP}}, c.Ports); diff != "" {
		t.Errorf("ports with metrics off (-want,+got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"disk": "ssd"}, d.Spec.Template.Spec.NodeSelector); diff != "" {
		t.Errorf("nodeSelector (-want,+got):\n%s", diff)
	}
	wantTol := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	if diff := cmp.Diff(wantTol, d.Spec.Template.Spec.Tolerations); diff != "" {
		t.Errorf("tolerations (-want,+got):\n%s", diff)
	}
}

func TestMetricsService(t *testing.T) {
	objs := helmTemplate(t)
	var svc corev1.Service
	objs.into(t, "Service", namespace, fullname+"-metrics", &svc)
	var d appsv1.Deployment
	objs.into(t, "Deployment", namespace, fullname, &d)

	want := []corev1.ServicePort{{Name: "https", Port: 8443, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}}
	if diff := cmp.Diff(want, svc.Spec.Ports); diff != "" {
		t.Errorf("metrics Service ports (-want,+got):\n%s", diff)
	}
	if len(svc.Spec.Selector) == 0 {
		t.Fatal("metrics Service has no selector")
	}
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("metrics Service selects %s=%s, which the controller pods (%v) do not carry", k, v, d.Spec.Template.Labels)
		}
	}
}

func TestServiceMonitorAndPDB(t *testing.T) {
	objs := helmTemplate(t, "--set", "metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.labels.release=prom,podDisruptionBudget.enabled=true")
	sm := objs.get(t, "ServiceMonitor", namespace, fullname)
	if sm.GetAPIVersion() != "monitoring.coreos.com/v1" || sm.GetLabels()["release"] != "prom" {
		t.Errorf("ServiceMonitor %s with labels %v, want monitoring.coreos.com/v1 with release=prom", sm.GetAPIVersion(), sm.GetLabels())
	}
	var svc corev1.Service
	objs.into(t, "Service", namespace, fullname+"-metrics", &svc)
	selector := sm.Object["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any)
	for k, v := range selector {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%v, which the metrics Service (%v) does not carry", k, v, svc.Labels)
		}
	}
	endpoints := sm.Object["spec"].(map[string]any)["endpoints"].([]any)
	if ep := endpoints[0].(map[string]any); ep["port"] != "https" || ep["scheme"] != "https" {
		t.Errorf("ServiceMonitor endpoint %v, want port https with scheme https", ep)
	}

	var pdb policyv1.PodDisruptionBudget
	objs.into(t, "PodDisruptionBudget", namespace, fullname, &pdb)
	var d appsv1.Deployment
	objs.into(t, "Deployment", namespace, fullname, &d)
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) {
		t.Errorf("PDB minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}
	if !equality.Semantic.DeepEqual(pdb.Spec.Selector, d.Spec.Selector) {
		t.Errorf("PDB selector %v differs from the Deployment's %v", pdb.Spec.Selector, d.Spec.Selector)
	}
}

// The chart's CRD is the generated one plus the keep policy, and crds.enabled drops it.
func TestCRD(t *testing.T) {
	const name = "batchjobs.batchjob.dev"
	generated := readObjects(t, filepath.Join(root, "config", "crd", "bases", "batchjob.dev_batchjobs.yaml")).
		get(t, "CustomResourceDefinition", "", name)
	crd := helmTemplate(t).get(t, "CustomResourceDefinition", "", name)
	if diff := cmp.Diff(generated.Object["spec"], crd.Object["spec"]); diff != "" {
		t.Errorf("the chart's CRD spec differs from config/crd/bases (run `make manifests`) (-want,+got):\n%s", diff)
	}
	if got := crd.GetAnnotations()["helm.sh/resource-policy"]; got != "keep" {
		t.Errorf("CRD annotation helm.sh/resource-policy = %q, want keep", got)
	}
	if _, ok := helmTemplate(t, "--set", "crds.enabled=false")[key("CustomResourceDefinition", "", name)]; ok {
		t.Error("crds.enabled=false still renders the CRD")
	}
}

// Every object of config/admission is in the chart, kept on uninstall, unchanged, and only
// with crds.enabled.
func TestAdmissionPolicies(t *testing.T) {
	generated := readObjects(t, admissionFiles(t)...)
	flags := apiVersionFlags(t)
	rendered := helmTemplate(t, flags...)
	for k, want := range generated {
		got, ok := rendered[k]
		if !ok {
			t.Errorf("%s from config/admission is not in the chart (run `make manifests`)", k)
			continue
		}
		if diff := cmp.Diff(want.Object["spec"], got.Object["spec"]); diff != "" {
			t.Errorf("%s differs from config/admission (-want,+got):\n%s", k, diff)
		}
		if got.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("%s lacks helm.sh/resource-policy: keep", k)
		}
	}
	for k := range helmTemplate(t, append(flags, "--set", "crds.enabled=false")...) {
		if _, ok := generated[k]; ok {
			t.Errorf("crds.enabled=false still renders %s", k)
		}
	}
}
