package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// The Helm test owns a cluster of its own: the suite's cluster has the CRD installed by
// kubectl (Helm would refuse to adopt it) and runs the suite's controller over every
// namespace, which would reconcile the BatchJobs this test needs the chart's ServiceAccount
// to reconcile. Ports sit apart from `make run` (16443), the suite (16543) and the
// benchmark (16643).
const (
	helmClusterName = "batchjob-e2e-helm"
	helmClusterPort = "16743"
	helmProbeAddr   = "127.0.0.1:16781"
	helmMetricsAddr = "127.0.0.1:16782"
)

// helmCluster is the Helm test's kwokctl cluster, driven with its admin kubeconfig.
type helmCluster struct {
	dir, kubeconfig string
}

// startHelmCluster starts a fresh cluster without the CRD (the chart installs it) and with
// the deployment and replicaset controllers, so the chart's Deployment gets pods that the
// KWOK stages run. It is deleted when the test ends unless E2E_KEEP_CLUSTER is set.
func startHelmCluster(t *testing.T) *helmCluster {
	t.Helper()
	c := &helmCluster{dir: filepath.Join(root, "tmp", "clusters", helmClusterName)}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	_ = c.script(2*time.Minute, "down")
	if err := c.script(5*time.Minute, "up"); err != nil {
		t.Fatalf("starting the Helm test cluster: %v", err)
	}
	if os.Getenv("E2E_KEEP_CLUSTER") == "" {
		t.Cleanup(func() {
			if err := c.script(2*time.Minute, "down"); err != nil {
				t.Errorf("stopping the Helm test cluster: %v", err)
			}
		})
	}
	return c
}

func (c *helmCluster) script(timeout time.Duration, verb string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "cluster.sh"), verb)
	cmd.Env = append(os.Environ(),
		"CLUSTER_NAME="+helmClusterName, "CLUSTER_PORT="+helmClusterPort, "CLUSTER_DIR="+c.dir,
		"CLUSTER_NODES=1", "CLUSTER_INSTALL_CRD=false", "KUBECONFIG=",
		"KCM_CONTROLLERS=garbage-collector-controller,serviceaccount-controller,namespace-controller,deployment-controller,replicaset-controller")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// run runs bin/<tool> with the cluster's admin kubeconfig, bounded to two minutes, and
// returns stdout; a failure carries stderr.
func (c *helmCluster) run(tool string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", tool), append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func (c *helmCluster) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run("kubectl", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (c *helmCluster) helm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run("helm", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// get decodes `kubectl get -o json` of one object into obj.
func (c *helmCluster) get(t *testing.T, obj any, args ...string) {
	t.Helper()
	out := c.kubectl(t, append([]string{"get", "-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), obj); err != nil {
		t.Fatalf("decoding kubectl get %v: %v", args, err)
	}
}

// absent reports whether `kubectl get` says the object is gone.
func (c *helmCluster) absent(args ...string) (bool, string) {
	out, err := c.run("kubectl", append([]string{"get"}, args...)...)
	return err != nil && strings.Contains(err.Error(), "NotFound"), fmt.Sprint(out, err)
}

// namespace creates a namespace and waits for its default ServiceAccount (pod admission
// needs it). The cluster goes away with the test, so it is not deleted.
func (c *helmCluster) namespace(t *testing.T, name string) {
	t.Helper()
	c.kubectl(t, "create", "namespace", name)
	eventually(t, time.Minute, "default ServiceAccount in "+name, func() (bool, string) {
		_, err := c.run("kubectl", "get", "serviceaccount", "default", "-n", name)
		return err == nil, fmt.Sprint(err)
	})
}

// impersonatingKubeconfig writes a copy of the admin kubeconfig whose user acts as the
// given ServiceAccount (kubeconfig `as:`); the apiserver then authorizes every request
// with that ServiceAccount's RBAC and groups only.
func (c *helmCluster) impersonatingKubeconfig(t *testing.T, ns, sa string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "system:serviceaccount:" + ns + ":" + sa
	}
	path := filepath.Join(t.TempDir(), "kubeconfig-"+sa)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// canI asks `kubectl auth can-i ARGS --as=system:serviceaccount:NS:SA` with the admin
// kubeconfig (impersonation): the API server's authorizer answers for that ServiceAccount.
func (c *helmCluster) canI(t *testing.T, ns, sa string, args ...string) bool {
	t.Helper()
	// "no" comes with exit status 1; anything but a plain yes or no is an error.
	out, err := c.run("kubectl", append([]string{"auth", "can-i", "--as=system:serviceaccount:" + ns + ":" + sa}, args...)...)
	switch strings.TrimSpace(out) {
	case "yes":
		if err == nil {
			return true
		}
	case "no":
		return false
	}
	t.Fatalf("kubectl auth can-i %s: %q, %v", strings.Join(args, " "), out, err)
	return false
}

// controllerProcess is bin/batchjob-controller running outside the cluster.
type controllerProcess struct {
	cmd     *exec.Cmd
	logPath string
	stopped bool
}

// startChartController runs bin/batchjob-controller with kubeconfig and args, waits for
// its readiness probe, and stops it by PID when the test ends (if stop was not called).
func startChartController(t *testing.T, kubeconfig, logName string, args []string) *controllerProcess {
	t.Helper()
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &controllerProcess{logPath: filepath.Join(logDir, logName)}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	p.cmd = exec.Command(filepath.Join(root, "bin", "batchjob-controller"), args...)
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting the controller: %v (run `make build`)", err)
	}
	t.Cleanup(p.stop)
	eventually(t, time.Minute, "the controller's /readyz on "+helmProbeAddr, func() (bool, string) {
		resp, err := http.Get("http://" + helmProbeAddr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

func (p *controllerProcess) stop() {
	if !p.stopped {
		p.stopped = true
		stopByPID(p.cmd, 15*time.Second)
	}
}

// log stops the controller and returns its whole log.
func (p *controllerProcess) log(t *testing.T) string {
	t.Helper()
	p.stop()
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// apply server-side applies a manifest, retrying for a minute the ServiceUnavailable a
// new CRD's kind gets while the apiserver builds its schema.
func (c *helmCluster) apply(t *testing.T, ns, manifest string) {
	t.Helper()
	eventually(t, time.Minute, "kubectl apply in "+ns, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "kubectl"), "--kubeconfig", c.kubeconfig, "apply", "--server-side", "-n", ns, "-f", "-")
		cmd.Stdin = strings.NewReader(manifest)
		out, err := cmd.CombinedOutput()
		if err != nil && !strings.Contains(string(out), "ServiceUnavailable") {
			t.Fatalf("kubectl apply: %v: %s\n%s", err, out, manifest)
		}
		return err == nil, string(out)
	})
}

// shortJob is a BatchJob of 3 completions, 2 at a time, whose pods succeed after 1s.
func shortJob(name string) string {
	return simulatedJob(name, "1s", "parallelism: 2", "completions: 3")
}

// waitComplete waits for Complete=True with succeeded == completions.
func waitComplete(t *testing.T, c *helmCluster, ns, name string, completions int32) {
	t.Helper()
	eventually(t, 90*time.Second, fmt.Sprintf("BatchJob %s/%s to complete", ns, name), func() (bool, string) {
		var j batchJob
		c.get(t, &j, "batchjob", name, "-n", ns)
		status, _ := j.condition("Complete")
		return status == "True" && j.Status.Succeeded == completions, fmt.Sprintf("%+v", j.Status)
	})
}

// admissionKinds are the admission policy kinds the chart installs when the cluster
// serves them.
var admissionKinds = []string{"validatingadmissionpolicies", "validatingadmissionpolicybindings",
	"mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}

// admissionPolicyNames lists "kind/name" of the chart's admission objects, failing when
// one lacks helm.sh/resource-policy: keep.
func admissionPolicyNames(t *testing.T, c *helmCluster) []string {
	t.Helper()
	served := c.kubectl(t, "api-resources", "--api-group=admissionregistration.k8s.io", "-o", "name")
	var names []string
	for _, kind := range admissionKinds {
		if !slices.Contains(strings.Fields(served), kind+".admissionregistration.k8s.io") {
			continue
		}
		var list metav1.PartialObjectMetadataList
		c.get(t, &list, kind, "-l", "app.kubernetes.io/part-of=batchjob")
		for _, o := range list.Items {
			names = append(names, kind+"/"+o.Name)
			if o.Annotations["helm.sh/resource-policy"] != "keep" {
				t.Errorf("%s %s lacks helm.sh/resource-policy: keep: %v", kind, o.Name, o.Annotations)
			}
		}
	}
	return names
}

// checkAdmissionPolicies checks that each admission kind the cluster serves has objects
// from the chart, and that every policy has its binding.
func checkAdmissionPolicies(t *testing.T, c *helmCluster) {
	t.Helper()
	names := admissionPolicyNames(t, c)
	served := strings.Fields(c.kubectl(t, "api-resources", "--api-group=admissionregistration.k8s.io", "-o", "name"))
	for _, kind := range admissionKinds {
		if slices.Contains(served, kind+".admissionregistration.k8s.io") &&
			!slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, kind+"/") }) {
			t.Errorf("the cluster serves %s but the chart installed none; got %v", kind, names)
		}
	}
	for _, n := range names {
		kind, name, _ := strings.Cut(n, "/")
		if strings.HasSuffix(kind, "policies") && !slices.Contains(names, strings.TrimSuffix(kind, "policies")+"policybindings/"+name) {
			t.Errorf("%s has no binding of the same name; got %v", n, names)
		}
	}
}
