package controller

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// The pod index decides which pods a BatchJob claims (its UID) and which it may adopt
// (noController), as upstream's candidate list does (upstream Controller.getPodsForJob): only a
// controller ref of kind BatchJob in our group names an owner; a pod controlled by
// anything else is never a candidate; a non-controller ref does not make an owner.
func TestIndexPodController(t *testing.T) {
	ref := func(apiVersion, kind, uid string, controller bool) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: "x", UID: types.UID("uid-" + uid), Controller: ptr.To(controller)}
	}
	cases := map[string]struct {
		owners []metav1.OwnerReference
		want   []string
	}{
		"no owner":                  {want: []string{noController}},
		"our controller":            {owners: []metav1.OwnerReference{ref(v1alpha1.GroupVersion.String(), "BatchJob", "a", true)}, want: []string{"uid-a"}},
		"our kind, other version":   {owners: []metav1.OwnerReference{ref("batchjob.dev/v1", "BatchJob", "b", true)}, want: []string{"uid-b"}},
		"non-controller ref only":   {owners: []metav1.OwnerReference{ref(v1alpha1.GroupVersion.String(), "BatchJob", "c", false)}, want: []string{noController}},
		"batch/v1 Job controller":   {owners: []metav1.OwnerReference{ref("batch/v1", "Job", "d", true)}},
		"BatchJob of another group": {owners: []metav1.OwnerReference{ref("example.com/v1", "BatchJob", "e", true)}},
		"ReplicaSet controller":     {owners: []metav1.OwnerReference{ref("apps/v1", "ReplicaSet", "f", true)}},
		"unparsable apiVersion":     {owners: []metav1.OwnerReference{ref("a/b/c", "BatchJob", "g", true)}},
		"ours plus a non-controller ref": {
			owners: []metav1.OwnerReference{ref("apps/v1", "ReplicaSet", "h", false), ref(v1alpha1.GroupVersion.String(), "BatchJob", "i", true)},
			want:   []string{"uid-i"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pod := testutil.MakeEmptyPod("p", "").Owners(tc.owners...).Obj()
			if diff := cmp.Diff(tc.want, indexPodController(pod)); diff != "" {
				t.Errorf("index (-want,+got):\n%s", diff)
			}
		})
	}
}
