package controller

import (
	"context"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
)

// A job deleted under the pass (kubectl delete --cascade=orphan) and a write that met a
// newer copy are a normal life, not controller errors logged with a stack trace.
func TestQuietErrors(t *testing.T) {
	gr := schema.GroupResource{Group: "batchjob.dev", Resource: "batchjobs"}
	notFound := apierrors.NewNotFound(gr, "pi")
	conflict := apierrors.NewConflict(gr, "pi", errors.New("the object has been modified"))
	other := errors.New("connection refused")
	cases := map[string]struct {
		err     error
		wantRes ctrl.Result
		wantErr error
	}{
		"none":                   {err: nil},
		"job gone":               {err: notFound},
		"job gone, wrapped":      {err: errors.Join(notFound)},
		"conflict":               {err: conflict, wantRes: ctrl.Result{Requeue: true}},
		"other error":            {err: other, wantErr: other},
		"not found among others": {err: errors.Join(notFound, other), wantErr: errors.Join(notFound, other)},
		"a pod create forbidden": {err: apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", other), wantErr: apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", other)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := quietErrors(context.Background(), ctrl.Result{}, tc.err)
			if res != tc.wantRes || (err == nil) != (tc.wantErr == nil) || (err != nil && err.Error() != tc.wantErr.Error()) {
				t.Errorf("quietErrors(%v) = %+v, %v; want %+v, %v", tc.err, res, err, tc.wantRes, tc.wantErr)
			}
		})
	}
}
