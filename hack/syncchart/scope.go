package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclientset "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// scopes maps a resource to whether it is namespaced (true) or cluster-scoped (false).
//
// Where the scope comes from, without a cluster to ask:
//
//   - The project's own resources: the CRDs in config/crd/bases (spec.scope), i.e. exactly
//     what the chart installs.
//   - Built-in resources: the typed clientsets of k8s.io/client-go (kubernetes.Interface)
//     and k8s.io/apiextensions-apiserver, at the versions in go.mod. client-gen generates a
//     resource's getter from the +genclient / +genclient:nonNamespaced markers on its type in
//     k8s.io/api: Pods(namespace string) for a namespaced resource, Nodes() for a
//     cluster-scoped one. A wrong marker would build wrong URLs for every client of that
//     resource, so this is the scope the API server serves; the test checks it against
//     kube-apiserver's own discovery document where that is on disk. The resource name is the
//     getter's name in lower case: client-gen derives both from the same plural namer, and
//     no type in k8s.io/api overrides it with +resourceName.
//
// Anything else (another aggregated API, a wildcard) has no known scope: splitRules fails
// rather than guess.
type scopes map[schema.GroupResource]bool

// newScopes reads the CRDs under root and adds the built-in resources.
func newScopes(root string) (scopes, error) {
	s, err := builtinScopes()
	if err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join(root, crdDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if filepath.Base(p) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(bytes.TrimPrefix(data, []byte("---\n")), &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if crd.Kind != "CustomResourceDefinition" || crd.Spec.Names.Plural == "" {
			return nil, fmt.Errorf("%s: not a CustomResourceDefinition", p)
		}
		gr := schema.GroupResource{Group: crd.Spec.Group, Resource: crd.Spec.Names.Plural}
		if err := s.add(gr, crd.Spec.Scope == apiextensionsv1.NamespaceScoped); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return s, nil
}

func (s scopes) add(gr schema.GroupResource, namespaced bool) error {
	if old, ok := s[gr]; ok && old != namespaced {
		return fmt.Errorf("%s is both namespaced and cluster-scoped", gr)
	}
	s[gr] = namespaced
	return nil
}

// namespaced tells whether resource (no subresource) in group is namespaced.
func (s scopes) namespaced(group, resource string) (bool, error) {
	ns, ok := s[schema.GroupResource{Group: group, Resource: resource}]
	if !ok {
		return false, fmt.Errorf("no known scope for resource %q in API group %q: it is neither a CRD in %s nor a built-in resource of client-go; a rule with it cannot be put in a Role or a ClusterRole", resource, group, crdDir)
	}
	return ns, nil
}

// builtinScopes reads the scope of every resource of the typed clientsets. The clientsets
// are built only to learn each group-version client's API group; nothing is contacted.
func builtinScopes() (scopes, error) {
	cfg := &rest.Config{Host: "https://offline.invalid"}
	kube, err := kubernetes.NewForConfigAndClient(cfg, &http.Client{})
	if err != nil {
		return nil, err
	}
	ext, err := apiextensionsclientset.NewForConfigAndClient(cfg, &http.Client{})
	if err != nil {
		return nil, err
	}
	s := scopes{}
	for _, c := range []struct {
		cs    any
		iface reflect.Type
	}{
		{kube, reflect.TypeFor[kubernetes.Interface]()},
		{ext, reflect.TypeFor[apiextensionsclientset.Interface]()},
	} {
		if err := s.addClientset(c.cs, c.iface); err != nil {
			return nil, err
		}
	}
	return s, nil
}

var (
	restClientType = reflect.TypeFor[rest.Interface]()
	stringType     = reflect.TypeFor[string]()
)

// addClientset adds the resources of every group-version client of a generated clientset,
// as its interface iface declares them: a method XV1() XV1Interface whose XV1Interface has
// RESTClient() and one getter per resource. A getter's interface must offer Create, Get or
// List: the getters of subresources (Evictions, which posts to pods/eviction) are no
// resources.
func (s scopes) addClientset(cs any, iface reflect.Type) error {
	v := reflect.ValueOf(cs)
	for i := range iface.NumMethod() {
		m := iface.Method(i)
		if m.Name == "Discovery" || m.Type.NumIn() != 0 || m.Type.NumOut() != 1 {
			continue
		}
		gvType := m.Type.Out(0)
		rc, ok := gvType.MethodByName("RESTClient")
		if gvType.Kind() != reflect.Interface || !ok || rc.Type.NumIn() != 0 || rc.Type.NumOut() != 1 || rc.Type.Out(0) != restClientType {
			return fmt.Errorf("%s.%s: not a group-version client (client-go changed?)", iface, m.Name)
		}
		gv := v.MethodByName(m.Name).Call(nil)[0]
		group := gv.MethodByName("RESTClient").Call(nil)[0].Interface().(rest.Interface).APIVersion().Group
		for j := range gvType.NumMethod() {
			getter := gvType.Method(j)
			if getter.Name == "RESTClient" {
				continue
			}
			var namespaced bool
			switch {
			case getter.Type.NumIn() == 0 && getter.Type.NumOut() == 1:
			case getter.Type.NumIn() == 1 && getter.Type.In(0) == stringType && getter.Type.NumOut() == 1:
				namespaced = true
			default:
				return fmt.Errorf("%s.%s: not a resource getter of client-gen's shape (client-go changed?)", gvType, getter.Name)
			}
			if !hasAny(getter.Type.Out(0), "Create", "Get", "List") {
				continue
			}
			gr := schema.GroupResource{Group: group, Resource: strings.ToLower(getter.Name)}
			if err := s.add(gr, namespaced); err != nil {
				return fmt.Errorf("%s.%s: %w", gvType, getter.Name, err)
			}
		}
	}
	return nil
}

func hasAny(t reflect.Type, methods ...string) bool {
	for _, name := range methods {
		if _, ok := t.MethodByName(name); ok {
			return true
		}
	}
	return false
}
