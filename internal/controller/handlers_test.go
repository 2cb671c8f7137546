package controller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

func TestStatusOnly(t *testing.T) {
	base := testutil.MakeEmptyBatchJob("j", "").WithGeneration(1).WithResourceVersion("1").
		Label("a", "1").Annotation("b", "2").Finalizer("f").Obj()
	cases := map[string]struct {
		change func(j *v1alpha1.BatchJob)
		want   bool
	}{
		"status and resourceVersion": {change: func(j *v1alpha1.BatchJob) {
			j.ResourceVersion = "2"
			j.Status.Active = 3
		}, want: true},
		"spec (generation)":  {change: func(j *v1alpha1.BatchJob) { j.Generation = 2 }},
		"label":              {change: func(j *v1alpha1.BatchJob) { j.Labels = map[string]string{"a": "2"} }},
		"annotation":         {change: func(j *v1alpha1.BatchJob) { j.Annotations = nil }},
		"finalizer":          {change: func(j *v1alpha1.BatchJob) { j.Finalizers = nil }},
		"deletion timestamp": {change: func(j *v1alpha1.BatchJob) { j.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			updated := base.DeepCopy()
			tc.change(updated)
			if diff := cmp.Diff(tc.want, statusOnly(base, updated)); diff != "" {
				t.Errorf("statusOnly (-want,+got):\n%s", diff)
			}
		})
	}
}
