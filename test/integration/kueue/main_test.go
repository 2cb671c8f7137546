// Package kueue tests the Kueue integration (--kueue, internal/kueue) against a real etcd and
// kube-apiserver (envtest) with Kueue's CRDs, Kueue's own manager (bin/kueue, built from its
// pinned module by `make tools-kueue`) running as a separate process, and our manager
// in-process with the integration on. As in the other suites no kubelet runs: the tests play
// it by writing pod status.
package kueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/batchjob-dev/batchjob/internal/kueue"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
	"github.com/batchjob-dev/batchjob/test/util"
)

var (
	env *framework.Env
	// missing says why Kueue is not running (bin/kueue not built); the tests skip with it.
	missing string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run is framework.RunSuite with Kueue's process stopped before the API server.
func run(m *testing.M) int {
	e, err := framework.StartEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env = e
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping envtest:", err)
		}
	}()
	bin := filepath.Join(util.RepoRoot(), "bin", "kueue")
	if _, err := os.Stat(bin); err != nil {
		missing = "bin/kueue is not built: run `make tools-kueue` (make test-integration does)"
		return m.Run()
	}
	start := time.Now()
	stopKueue, err := setUp(e, bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stopKueue()
	defer e.StopShared()
	fmt.Printf("Kueue and the controller ready in %v\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// serviceAccount is the controller's identity in config/rbac; the tests' controller runs as
// it, with exactly the RBAC of config/rbac and config/kueue.
const serviceAccount = "system:serviceaccount:batchjob-system:batchjob-controller"

// setUp installs Kueue's CRDs, config/kueue (the admission policy and the integration's
// RBAC) and config/rbac, starts Kueue, and starts the shared controller with the Kueue
// integration as the controller's ServiceAccount.
func setUp(e *framework.Env, bin string) (stop func(), err error) {
	if err := kueue.AddToScheme(e.Scheme); err != nil {
		return nil, err
	}
	if err := installKueueCRDs(e.Config); err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "batchjob-system"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		return nil, err
	}
	for _, dir := range []string{"rbac", "kueue"} {
		if err := util.ApplyDir(e.Config, filepath.Join(util.RepoRoot(), "config", dir)); err != nil {
			return nil, err
		}
	}
	if stop, err = startKueue(e.Config, bin); err != nil {
		return nil, err
	}
	err = e.StartShared(framework.ControllerOptions{
		PodFailureBackoff: framework.FastPodFailureBackoff,
		Kueue:             true,
		WrapConfig: func(c *rest.Config) {
			c.Impersonate = rest.ImpersonationConfig{UserName: serviceAccount}
		},
	})
	if err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

func requireKueue(t *testing.T) {
	t.Helper()
	if missing != "" {
		t.Skip(missing)
	}
}

// kueueModuleDir is where the Go module cache holds sigs.k8s.io/kueue at the version our
// go.mod requires, which must be the version hack/tools/kueue builds bin/kueue from (the
// CRDs and the manager go together).
func kueueModuleDir() (string, error) {
	ours, err := goListKueue(util.RepoRoot(), "{{.Version}} {{.Dir}}")
	if err != nil {
		return "", err
	}
	tool, err := goListKueue(filepath.Join(util.RepoRoot(), "hack", "tools", "kueue"), "{{.Version}}")
	if err != nil {
		return "", err
	}
	version, dir, _ := strings.Cut(ours, " ")
	if version != tool {
		return "", fmt.Errorf("go.mod requires sigs.k8s.io/kueue %s but hack/tools/kueue builds bin/kueue from %s", version, tool)
	}
	if dir == "" {
		return "", errors.New("the sigs.k8s.io/kueue module is not downloaded (go mod download)")
	}
	return dir, nil
}

func goListKueue(dir, format string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", format, "sigs.k8s.io/kueue")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m sigs.k8s.io/kueue in %s: %w", dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// installKueueCRDs installs Kueue's CRDs from its module. The CRDs Kueue's cert management
// injects a CA into get the webhook conversion Kueue's kustomize config adds (pointing at
// its Service, which does not exist here): only v1beta2 is used, so nothing is converted,
// but Kueue's certificate bootstrap waits until it could inject into them.
func installKueueCRDs(cfg *rest.Config) error {
	dir, err := kueueModuleDir()
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "config", "components", "crd", "bases", "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no Kueue CRDs in %s", dir)
	}
	converted := map[string]bool{"localqueues": true, "clusterqueues": true, "workloads": true, "cohorts": true, "multikueueclusters": true}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if converted[crd.Spec.Names.Plural] {
			crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{
				Strategy: apiextensionsv1.WebhookConverter,
				Webhook: &apiextensionsv1.WebhookConversion{
					ClientConfig: &apiextensionsv1.WebhookClientConfig{Service: &apiextensionsv1.ServiceReference{
						Namespace: "kueue-system", Name: "kueue-webhook-service", Path: ptrTo("/convert"),
					}},
					ConversionReviewVersions: []string{"v1"},
				},
			}
		}
		crds = append(crds, crd)
	}
	_, err = envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{CRDs: crds, MaxTime: time.Minute})
	return err
}

func ptrTo[T any](v T) *T { return &v }

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startKueue runs bin/kueue against the envtest API server: everything it serves on
// 127.0.0.1 (health probes, webhooks; metrics, pprof and the visibility server off), no
// leader election, BatchJob as an external framework. It returns once Kueue is ready; the
// returned stop ends the process (SIGTERM, then SIGKILL after 10s) by its PID.
func startKueue(cfg *rest.Config, bin string) (func(), error) {
	dir, err := os.MkdirTemp("", "batchjob-kueue-")
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(cfg, kubeconfig); err != nil {
		return nil, err
	}
	ctx := context.Background()
	// Kueue's namespace, and the empty Secret its certificate management fills (Kueue's
	// install creates both).
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kueue-system"}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kueue-webhook-server-cert", Namespace: ns.Name}}
	for _, o := range []client.Object{ns, secret} {
		if err := env.Client.Create(ctx, o); err != nil {
			return nil, err
		}
	}
	healthPort, err := freePort()
	if err != nil {
		return nil, err
	}
	webhookPort, err := freePort()
	if err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: kueue-system
health:
  healthProbeBindAddress: 127.0.0.1:%d
metrics:
  bindAddress: "0"
webhook:
  host: 127.0.0.1
  port: %d
  certDir: %s
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: true
  webhookServiceName: kueue-webhook-service
  webhookSecretName: kueue-webhook-server-cert
featureGates:
  VisibilityOnDemand: false
integrations:
  frameworks: ["batch/job"]
  externalFrameworks: [%q]
`, healthPort, webhookPort, filepath.Join(dir, "certs"), kueue.ExternalFramework)
	configFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "kueue.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config="+configFile, "--zap-log-level=2")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	go mountCerts(secret, filepath.Join(dir, "certs"), exited)
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logFile.Close()
		if os.Getenv("BATCHJOB_TEST_LOG") != "" {
			fmt.Fprintln(os.Stderr, "Kueue's log:", logFile.Name())
			return
		}
		_ = os.RemoveAll(dir)
	}
	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(ready) //nolint:gosec,noctx // a local probe with a deadline loop
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, nil
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			stop()
			return nil, fmt.Errorf("kueue exited before it was ready:\n%s", tail(log, 4000))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			stop()
			return nil, errors.New("kueue was not ready within 2 minutes:\n" + tail(log, 4000))
		}
	}
}

// mountCerts plays the kubelet's secret volume: once Kueue's certificate management has
// written the webhook certificate into secret, it copies it into certDir, where Kueue waits
// for it (as mounted from the Secret in a real install).
func mountCerts(secret *corev1.Secret, certDir string, done <-chan struct{}) {
	for {
		s := &corev1.Secret{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(secret), s); err == nil && len(s.Data["tls.key"]) > 0 {
			if err := os.MkdirAll(certDir, 0o700); err == nil {
				for name, data := range s.Data {
					_ = os.WriteFile(filepath.Join(certDir, name), data, 0o600)
				}
			}
			return
		}
		select {
		case <-done:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

// writeKubeconfig writes cfg (envtest's admin: client certificate) as a kubeconfig file.
func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*kc, path)
}
