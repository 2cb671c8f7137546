// Package kueuetest runs Kueue's own manager (bin/kueue, built from its pinned module by
// `make tools-kueue`) as a separate process against a test's API server: envtest in the
// integration tests, a kwokctl cluster in the e2e tests. It installs Kueue's CRDs from the
// Go module our go.mod requires (which must be the version bin/kueue is built from).
//
// Kueue's webhooks are served on 127.0.0.1 but not registered (no webhook configurations
// are installed), so Kueue runs as its controllers alone; everything it listens on is on
// 127.0.0.1, and it is stopped by its PID.
package kueuetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/batchjob-dev/batchjob/internal/kueue"
	"github.com/batchjob-dev/batchjob/test/util"
)

// Bin is bin/kueue.
func Bin() string { return filepath.Join(util.RepoRoot(), "bin", "kueue") }

// Missing says why Kueue cannot run here (bin/kueue not built), "" when it can.
func Missing() string {
	if _, err := os.Stat(Bin()); err != nil {
		return "bin/kueue is not built: run `make tools-kueue` (make test-integration does)"
	}
	return ""
}

// moduleDir is where the Go module cache holds sigs.k8s.io/kueue at the version our go.mod
// requires, which must be the version hack/tools/kueue builds bin/kueue from (the CRDs and
// the manager go together).
func moduleDir() (string, error) {
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

// InstallCRDs installs Kueue's CRDs from its module. The CRDs Kueue's cert management
// injects a CA into get the webhook conversion Kueue's kustomize config adds (pointing at
// its Service, which does not exist here): only v1beta2 is used, so nothing is converted,
// but Kueue's certificate bootstrap waits until it could inject into them.
func InstallCRDs(cfg *rest.Config) error {
	dir, err := moduleDir()
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
			path := "/convert"
			crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{
				Strategy: apiextensionsv1.WebhookConverter,
				Webhook: &apiextensionsv1.WebhookConversion{
					ClientConfig: &apiextensionsv1.WebhookClientConfig{Service: &apiextensionsv1.ServiceReference{
						Namespace: Namespace, Name: "kueue-webhook-service", Path: &path,
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

// Namespace is Kueue's namespace (its configuration's `namespace`): the webhook certificate
// Secret and MultiKueue's kubeconfig Secrets live there.
const Namespace = "kueue-system"

// Options are what differs between the Kueue processes the tests run.
type Options struct {
	// Config and Client reach the cluster as its admin.
	Config *rest.Config
	Client client.Client
	// Kubeconfig is a kubeconfig file for Config's cluster; when empty one is written
	// from Config (envtest's client certificate).
	Kubeconfig string
	// ExtraConfig is appended to Kueue's Configuration (YAML at the top level), e.g. a
	// multiKueue section.
	ExtraConfig string
	// LogFile receives Kueue's log; when empty it goes to a temporary directory, removed
	// at stop unless BATCHJOB_TEST_LOG is set.
	LogFile string
}

// Start runs bin/kueue against the cluster: everything it serves on 127.0.0.1 (health
// probes, webhooks; metrics, pprof and the visibility server off), no leader election,
// batch/job and BatchJob (as an external framework) integrated. It returns once Kueue is
// ready; the returned stop ends the process (SIGTERM, then SIGKILL after 10s) by its PID.
func Start(o Options) (stop func(), err error) {
	dir, err := os.MkdirTemp("", "batchjob-kueue-")
	if err != nil {
		return nil, err
	}
	kubeconfig := o.Kubeconfig
	if kubeconfig == "" {
		kubeconfig = filepath.Join(dir, "kubeconfig")
		if err := writeKubeconfig(o.Config, kubeconfig); err != nil {
			return nil, err
		}
	}
	secret, err := prepareNamespace(o.Client)
	if err != nil {
		return nil, err
	}
	healthPort, err := freePort()
	if err != nil {
		return nil, err
	}
	configFile := filepath.Join(dir, "config.yaml")
	if err := writeConfig(configFile, dir, healthPort, o.ExtraConfig); err != nil {
		return nil, err
	}
	logPath := o.LogFile
	if logPath == "" {
		logPath = filepath.Join(dir, "kueue.log")
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(Bin(), "--config="+configFile, "--zap-log-level=2")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	go mountCerts(o.Client, secret, filepath.Join(dir, "certs"), exited)
	stop = func() {
		util.Terminate(cmd.Process, exited, 10*time.Second)
		_ = logFile.Close()
		if os.Getenv("BATCHJOB_TEST_LOG") != "" {
			fmt.Fprintln(os.Stderr, "Kueue's log:", logFile.Name())
			return
		}
		_ = os.RemoveAll(dir)
	}
	if err := waitReady(healthPort, logFile.Name(), exited); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// prepareNamespace creates Kueue's namespace and the empty Secret its certificate
// management fills (Kueue's install creates both), unless they exist.
func prepareNamespace(c client.Client) (*corev1.Secret, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kueue-webhook-server-cert", Namespace: Namespace}}
	for _, o := range []client.Object{ns, secret} {
		if err := c.Create(context.Background(), o); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	return secret, nil
}

func writeConfig(path, dir string, healthPort int, extra string) error {
	webhookPort, err := freePort()
	if err != nil {
		return err
	}
	config := fmt.Sprintf(`apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: %s
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
`, Namespace, healthPort, webhookPort, filepath.Join(dir, "certs"), kueue.ExternalFramework) + extra
	return os.WriteFile(path, []byte(config), 0o600)
}

func waitReady(healthPort int, logPath string, exited <-chan struct{}) error {
	err := util.WaitReady(fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort), 2*time.Minute, exited)
	if err != nil {
		log, _ := os.ReadFile(logPath)
		return fmt.Errorf("kueue: %w:\n%s", err, tail(log, 4000))
	}
	return nil
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// mountCerts plays the kubelet's secret volume: once Kueue's certificate management has
// written the webhook certificate into secret, it copies it into certDir, where Kueue waits
// for it (as mounted from the Secret in a real install).
func mountCerts(c client.Client, secret *corev1.Secret, certDir string, done <-chan struct{}) {
	for {
		s := &corev1.Secret{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(secret), s); err == nil && len(s.Data["tls.key"]) > 0 {
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
