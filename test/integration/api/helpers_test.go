package api

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchjobv1alpha1 "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

const ns = "default"

var nameSeq atomic.Int32

// uniqueName keeps the objects of different cases apart in the one shared API server.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// expectError fails unless err is nil when want is "", or names want in its message.
func expectError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("expected an error containing %q, got none", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("expected an error containing %q, got: %v", want, err)
	}
}

func create(t *testing.T, job *batchjobv1alpha1.BatchJob) *batchjobv1alpha1.BatchJob {
	t.Helper()
	if err := k8sClient.Create(ctxT(t), job); err != nil {
		t.Fatalf("creating %s: %v", job.Name, err)
	}
	return job
}
