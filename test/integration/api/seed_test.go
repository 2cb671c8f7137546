package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// seedStatus writes status straight into etcd, bypassing validation, as an older API server
// or a bug might have left it: upstream's status strategy tests start from old objects whose
// status breaks rules that are only enforced when the fields involved change. It waits until
// the API server serves the seeded status.
func seedStatus(t *testing.T, job *bj.BatchJob, status bj.BatchJobStatus) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(bj.GroupVersion.WithKind("BatchJob"))
	if err := k8sClient.Get(ctxT(t), client.ObjectKeyFromObject(job), u); err != nil {
		t.Fatal(err)
	}
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		t.Fatal(err)
	}
	u.Object["status"] = st
	unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	value, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("/registry/%s/batchjobs/%s/%s", bj.GroupVersion.Group, job.Namespace, job.Name)
	body, _ := json.Marshal(map[string]string{
		"key":   base64.StdEncoding.EncodeToString([]byte(key)),
		"value": base64.StdEncoding.EncodeToString(value),
	})
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, etcdURL+"/v3/kv/put", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("etcd put: %s", resp.Status)
	}
	err = wait.PollUntilContextTimeout(ctxT(t), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
			return false, err
		}
		return cmp.Equal(status, job.Status), nil
	})
	if err != nil {
		t.Fatalf("seeded status not served: %v; got %+v", err, job.Status)
	}
}
