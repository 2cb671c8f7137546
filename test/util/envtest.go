// Package util holds helpers shared by the integration and e2e suites.
package util

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// RepoRoot is the repository root, found from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// StartEnv starts a real etcd and kube-apiserver (binaries from $KUBEBUILDER_ASSETS, built
// into bin/ by `make tools`) with the BatchJob CRD and the admission policies of
// config/admission installed. Stop it with env.Stop().
func StartEnv() (*envtest.Environment, *rest.Config, error) {
	root := RepoRoot()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		_ = os.Setenv("KUBEBUILDER_ASSETS", filepath.Join(root, "bin"))
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start leaves etcd and kube-apiserver running when a later step (installing the
		// CRD) fails; stop them rather than leak them.
		_ = env.Stop()
		return nil, nil, fmt.Errorf("starting envtest (run `make tools-kube` first): %w", err)
	}
	if err := ApplyDir(cfg, filepath.Join(root, "config", "admission")); err != nil {
		_ = env.Stop()
		return nil, nil, err
	}
	return env, cfg, nil
}

// ApplyDir creates (server-side applies) every YAML object of dir's *.yaml files, skipping
// kustomization.yaml. A missing directory is not an error.
func ApplyDir(cfg *rest.Config, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		objs, err := ReadObjects(f)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if err := c.Patch(ctx, obj, client.Apply, client.FieldOwner("batchjob-tests"), client.ForceOwnership); err != nil {
				return fmt.Errorf("applying %s %s from %s: %w", obj.GetKind(), obj.GetName(), f, err)
			}
		}
	}
	return nil
}

// ReadObjects parses a multi-document YAML file into unstructured objects.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, doc := range splitYAML(data) {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if obj.GroupVersionKind() == (schema.GroupVersionKind{}) {
			return nil, fmt.Errorf("%s: object without apiVersion/kind", path)
		}
		out = append(out, obj)
	}
	return out, nil
}

func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	start := 0
	for i := 0; i+4 <= len(data); i++ {
		if (i == 0 || data[i-1] == '\n') && string(data[i:i+3]) == "---" && (i+3 == len(data) || data[i+3] == '\n' || data[i+3] == '\r') {
			docs = append(docs, data[start:i])
			start = i + 3
		}
	}
	return append(docs, data[start:])
}
