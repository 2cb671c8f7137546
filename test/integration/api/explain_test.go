package api

import (
	"encoding/json"
	"testing"

	"k8s.io/client-go/discovery"
)

// openAPISchema is the part of a published OpenAPI v3 schema that kubectl explain reads.
type openAPISchema struct {
	Description string                   `json:"description"`
	Properties  map[string]openAPISchema `json:"properties"`
}

// `kubectl explain batchjob.spec.backoffLimit` reads the OpenAPI v3 document the API
// server publishes from the CRD. Every field of BatchJob's and BatchCronJob's own spec and
// status must be explained there (the descriptions inside the embedded pod template are
// dropped for size; `kubectl explain pod.spec` has them).
func TestExplainDescribesEveryTopLevelField(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		t.Fatal(err)
	}
	gv, ok := paths["apis/batchjob.dev/v1alpha1"]
	if !ok {
		t.Fatalf("no OpenAPI v3 document for batchjob.dev/v1alpha1 among %d paths", len(paths))
	}
	raw, err := gv.Schema("application/json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]openAPISchema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"BatchJob", "BatchCronJob"} {
		s, ok := doc.Components.Schemas["dev.batchjob.v1alpha1."+kind]
		if !ok {
			t.Errorf("no schema for %s", kind)
			continue
		}
		for _, part := range []string{"spec", "status"} {
			fields := s.Properties[part].Properties
			if len(fields) == 0 {
				t.Errorf("%s.%s has no fields in the published schema", kind, part)
			}
			for name, f := range fields {
				if f.Description == "" {
					t.Errorf("kubectl explain %s.%s.%s would print no description", kind, part, name)
				}
			}
		}
	}
}
