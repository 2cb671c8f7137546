// Command syncchart copies what controller-gen generates into the Helm chart, so the chart can
// never drift from config/ (`make manifests` runs it; `make verify` fails on any difference):
//
//	config/crd/bases/*.yaml     -> templates/crd/        (if crds.enabled, keep on uninstall)
//	config/admission/*.yaml     -> templates/admission/  (same, and only where the cluster
//	                                                      serves the policy's API version)
//	config/rbac/role.yaml rules -> templates/rbac/_rules.tpl (all / namespaced / cluster-scoped)
//
// templates/crd and templates/admission are entirely generated: their files are rewritten and
// files without a source are removed. Output depends only on the inputs (no dates, sorted
// file names), so a re-run is byte-identical. Everything is computed before anything is
// written, so a failure leaves the chart as it was.
//
// Whether an RBAC rule is namespaced or cluster-scoped is decided by the scope of the
// resources it grants (see scope.go), not by a hand-kept list.
//
// Usage: go run ./hack/syncchart [-root DIR]
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	// program names this command in the header of every file it writes.
	program  = "hack/syncchart"
	roleName = "batchjob-controller"
	chartDir = "config/helm/batchjob-controller"
	rolePath = "config/rbac/role.yaml"
	crdDir   = "config/crd/bases"
)

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "syncchart:", err)
		os.Exit(1)
	}
}

// output is a generated directory: its *.yaml files are replaced by files.
type output struct {
	dir   string
	files map[string][]byte
}

func run(root string) error {
	var outs []output
	for _, d := range []struct{ mode, src, dest string }{
		{"crd", crdDir, "templates/crd"},
		{"admission", "config/admission", "templates/admission"},
	} {
		files, err := wrapDir(root, d.mode, d.src)
		if err != nil {
			return err
		}
		outs = append(outs, output{dir: filepath.Join(root, chartDir, d.dest), files: files})
	}

	scopes, err := newScopes(root)
	if err != nil {
		return err
	}
	rules, err := syncRules(root, scopes)
	if err != nil {
		return err
	}

	for _, o := range outs {
		if err := os.MkdirAll(o.dir, 0o755); err != nil {
			return err
		}
		old, err := filepath.Glob(filepath.Join(o.dir, "*.yaml"))
		if err != nil {
			return err
		}
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
		for name, data := range o.files {
			if err := os.WriteFile(filepath.Join(o.dir, name), data, 0o644); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(root, chartDir, "templates", "rbac", "_rules.tpl"), rules, 0o644)
}

// wrapDir wraps every srcDir/*.yaml but a kustomization.yaml (none if srcDir does not exist),
// keyed by file name.
func wrapDir(root, mode, srcDir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	entries, err := os.ReadDir(filepath.Join(root, srcDir))
	if os.IsNotExist(err) {
		return files, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".yaml") || name == "kustomization.yaml" {
			continue
		}
		rel := srcDir + "/" + name
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return nil, err
		}
		if files[name], err = wrapObjects(mode, rel, data); err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
	}
	return files, nil
}

// escapeDelims makes Helm print s verbatim: a CEL expression can contain "{{".
func escapeDelims(s string) string {
	return strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
}

// blank is a line with nothing but blanks or a comment.
func blank(line string) bool {
	t := strings.TrimLeft(line, " \t")
	return t == "" || strings.HasPrefix(t, "#")
}

// splitLines splits YAML text into lines without their newlines.
func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// documents splits lines at "---" lines and drops the blank and comment lines that start a
// document; documents left empty are dropped.
func documents(lines []string) [][]string {
	var docs [][]string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			docs = append(docs, cur)
		}
		cur = nil
	}
	for _, l := range lines {
		if strings.TrimRight(l, " \t") == "---" {
			flush()
			continue
		}
		if len(cur) == 0 && blank(l) {
			continue
		}
		cur = append(cur, l)
	}
	flush()
	return docs
}

const (
	labelsLine      = `    {{- include "batchjob.labels" . | nindent 4 }}`
	annotationsLine = "    helm.sh/resource-policy: keep"
)

// wrapObjects renders the YAML documents of src (named rel in the header) as a chart template.
// Each object gets the chart's labels and helm.sh/resource-policy: keep in its metadata, sits
// inside `if .Values.crds.enabled` and (mode "admission") inside a check that the cluster
// serves its apiVersion/kind. The text is otherwise copied as it is, comments included, with
// template delimiters escaped.
func wrapObjects(mode, rel string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{{- /* Generated by %s from %s; do not edit. */}}\n", program, rel)
	emitted := false
	for i, doc := range documents(splitLines(data)) {
		obj, err := parseObject(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if obj == nil {
			continue // comments only
		}
		cond := ".Values.crds.enabled"
		if mode == "admission" {
			cond = fmt.Sprintf("(and .Values.crds.enabled (.Capabilities.APIVersions.Has %q))", obj.apiVersion+"/"+obj.kind)
		}
		if emitted {
			b.WriteString("---\n")
		}
		emitted = true
		fmt.Fprintf(&b, "{{- if %s }}\n", cond)
		for j, line := range doc {
			if j == obj.metaEnd {
				if obj.labels < 0 {
					b.WriteString("  labels:\n" + labelsLine + "\n")
				}
				if obj.annotations < 0 {
					b.WriteString("  annotations:\n" + annotationsLine + "\n")
				}
			}
			b.WriteString(escapeDelims(line) + "\n")
			switch j {
			case obj.labels:
				b.WriteString(labelsLine + "\n")
			case obj.annotations:
				b.WriteString(annotationsLine + "\n")
			}
		}
		if obj.metaEnd == len(doc) {
			if obj.labels < 0 {
				b.WriteString("  labels:\n" + labelsLine + "\n")
			}
			if obj.annotations < 0 {
				b.WriteString("  annotations:\n" + annotationsLine + "\n")
			}
		}
		b.WriteString("{{- end }}\n")
	}
	return b.Bytes(), nil
}

// object is where wrapObjects edits a document: line indexes (0-based) of the
// "  labels:" and "  annotations:" lines (-1: absent) and of the line before which the
// metadata block ends.
type object struct {
	apiVersion, kind    string
	labels, annotations int
	metaEnd             int
}

// parseObject parses one document with a YAML parser and locates its metadata. It returns nil
// for a document without content, and an error for one that is not a Kubernetes object
// whose metadata is a block mapping at two-space indentation, which is what the text edits
// of wrapObjects assume (and what controller-gen and kubectl write).
func parseObject(doc []string) (*object, error) {
	var n yaml3.Node
	if err := yaml3.Unmarshal([]byte(strings.Join(doc, "\n")+"\n"), &n); err != nil {
		return nil, err
	}
	if len(n.Content) == 0 {
		return nil, nil
	}
	top := n.Content[0]
	if top.Kind != yaml3.MappingNode || top.Style&yaml3.FlowStyle != 0 {
		return nil, fmt.Errorf("not a YAML block mapping")
	}
	obj := &object{labels: -1, annotations: -1, metaEnd: -1}
	var meta *yaml3.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "apiVersion":
			obj.apiVersion = v.Value
		case "kind":
			obj.kind = v.Value
		case "metadata":
			meta = v
			if doc[k.Line-1] != "metadata:" || v.Kind != yaml3.MappingNode || v.Style&yaml3.FlowStyle != 0 {
				return nil, fmt.Errorf("line %d: metadata is not a block mapping on its own line", k.Line)
			}
			// The block ends at the next top-level key, before the blank or comment lines
			// that precede it.
			obj.metaEnd = len(doc)
			if i+2 < len(top.Content) {
				obj.metaEnd = top.Content[i+2].Line - 1
			}
			for obj.metaEnd > k.Line && blank(doc[obj.metaEnd-1]) {
				obj.metaEnd--
			}
		}
	}
	if obj.apiVersion == "" || obj.kind == "" || meta == nil {
		return nil, fmt.Errorf("not a Kubernetes object (apiVersion, kind and metadata are required)")
	}
	if err := obj.findMetadataMaps(doc, meta); err != nil {
		return nil, err
	}
	return obj, nil
}

// findMetadataMaps records the lines of metadata.labels and metadata.annotations, which
// must be block mappings (or empty) on their own lines, indented by two spaces.
func (obj *object) findMetadataMaps(doc []string, meta *yaml3.Node) error {
	for i := 0; i+1 < len(meta.Content); i += 2 {
		k, v := meta.Content[i], meta.Content[i+1]
		if k.Column != 3 {
			return fmt.Errorf("line %d: metadata fields must be indented by two spaces", k.Line)
		}
		var at *int
		switch k.Value {
		case "labels":
			at = &obj.labels
		case "annotations":
			at = &obj.annotations
		default:
			continue
		}
		null := v.Kind == yaml3.ScalarNode && v.Tag == "!!null"
		if doc[k.Line-1] != "  "+k.Value+":" || !(null || v.Kind == yaml3.MappingNode && v.Style&yaml3.FlowStyle == 0) {
			return fmt.Errorf("line %d: metadata.%s must be a block mapping (\"  %s:\" on its own line)", k.Line, k.Value, k.Value)
		}
		*at = k.Line - 1
	}
	return nil
}

// syncRules renders _rules.tpl from the rules of the ClusterRole roleName in config/rbac/role.yaml.
func syncRules(root string, s scopes) ([]byte, error) {
	var all []rbacv1.PolicyRule
	data, err := os.ReadFile(filepath.Join(root, rolePath))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	if err == nil {
		if all, err = roleRules(data, roleName); err != nil {
			return nil, fmt.Errorf("%s: %w", rolePath, err)
		}
	}
	if len(all) == 0 {
		fmt.Fprintf(os.Stderr, "syncchart: %s has no ClusterRole %s yet (no +kubebuilder:rbac markers): the chart grants the controller nothing\n", rolePath, roleName)
	}
	namespaced, cluster, err := splitRules(all, s.namespaced)
	if err != nil {
		return nil, err
	}
	return renderRules(all, namespaced, cluster)
}

// roleRules returns the rules of the ClusterRoles named name in the YAML stream data.
func roleRules(data []byte, name string) ([]rbacv1.PolicyRule, error) {
	var rules []rbacv1.PolicyRule
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return rules, nil
			}
			return nil, err
		}
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal(doc, &role); err != nil {
			return nil, err
		}
		if role.Kind == "ClusterRole" && role.Name == name {
			rules = append(rules, role.Rules...)
		}
	}
}

// splitRules splits rules into those on namespaced resources and those that only a
// ClusterRole can grant (cluster-scoped resources, non-resource URLs). A rule mixing both
// cannot be split without changing what it grants: that is an error, as is a resource whose
// scope is unknown.
func splitRules(rules []rbacv1.PolicyRule, namespaced func(group, resource string) (bool, error)) (ns, cluster []rbacv1.PolicyRule, err error) {
	for _, rule := range rules {
		var nNS, nCluster int
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				isNS, err := namespaced(g, strings.SplitN(res, "/", 2)[0])
				if err != nil {
					return nil, nil, err
				}
				if isNS {
					nNS++
				} else {
					nCluster++
				}
			}
		}
		if len(rule.NonResourceURLs) > 0 {
			nCluster++
		}
		if nNS > 0 && nCluster > 0 {
			text, _ := yaml.Marshal([]rbacv1.PolicyRule{rule})
			return nil, nil, fmt.Errorf("a generated RBAC rule mixes cluster-scoped and namespaced resources; split its +kubebuilder:rbac marker:\n%s", text)
		}
		if nCluster > 0 {
			cluster = append(cluster, rule)
		} else {
			ns = append(ns, rule)
		}
	}
	return ns, cluster, nil
}

// renderRules writes the three named templates of _rules.tpl, each a YAML list of rules
// ("[]" when there are none), in controller-gen's own serialization (sigs.k8s.io/yaml).
func renderRules(all, namespaced, cluster []rbacv1.PolicyRule) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{{- /* Generated by %s from %s (controller-gen, from the\n", program, rolePath)
	b.WriteString("+kubebuilder:rbac markers in internal/controller); do not edit. */}}\n")
	for _, d := range []struct {
		name  string
		rules []rbacv1.PolicyRule
	}{
		{"batchjob.rules.all", all},
		{"batchjob.rules.namespaced", namespaced},
		{"batchjob.rules.cluster", cluster},
	} {
		fmt.Fprintf(&b, "{{- define %q -}}\n", d.name)
		if len(d.rules) == 0 {
			b.WriteString("[]\n")
		} else {
			text, err := yaml.Marshal(d.rules)
			if err != nil {
				return nil, err
			}
			b.WriteString(escapeDelims(string(text)))
		}
		b.WriteString("{{- end }}\n")
	}
	return b.Bytes(), nil
}
