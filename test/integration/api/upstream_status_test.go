package api

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// upstreamStatus is one case of upstream's status tables: the BatchJob's spec, its old status
// (seeded into etcd when not empty, since some are ones the API refuses today), the new
// status written through the status subresource, and the expected field path.
type upstreamStatus struct {
	spec     *testutil.JobWrapper
	old, new bj.BatchJobStatus
	want     string
}

func runUpstreamStatus(t *testing.T, cases map[string]upstreamStatus) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := create(t, tc.spec.Obj())
			if !reflect.DeepEqual(tc.old, bj.BatchJobStatus{}) {
				seedStatus(t, job, tc.old)
			}
			expectError(t, updateStatus(t, job, func(s *bj.BatchJobStatus) { *s = tc.new }), tc.want)
		})
	}
}

func conds(types ...bj.JobConditionType) []bj.JobCondition {
	out := make([]bj.JobCondition, len(types))
	for i, c := range types {
		out[i] = cond(c, corev1.ConditionTrue)
	}
	return out
}

// Port of upstream TestValidateJobUpdateStatus.
func TestUpstreamValidateJobUpdateStatus(t *testing.T) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	later := metav1.NewTime(now.Add(time.Second))
	runUpstreamStatus(t, map[string]upstreamStatus{
		"valid": {spec: manualJob(),
			old: bj.BatchJobStatus{Active: 1, Succeeded: 2, Failed: 3, Terminating: ptr.To[int32](4)},
			new: bj.BatchJobStatus{Active: 2, Succeeded: 3, Failed: 4, Ready: ptr.To[int32](1), Terminating: ptr.To[int32](4)}},
		"nil ready and terminating": {spec: manualJob(),
			old: bj.BatchJobStatus{Active: 1, Succeeded: 2, Failed: 3},
			new: bj.BatchJobStatus{Active: 2, Succeeded: 3, Failed: 4}},
		"negative active":      {spec: manualJob(), new: bj.BatchJobStatus{Active: -1}, want: "status.active"},
		"negative succeeded":   {spec: manualJob(), new: bj.BatchJobStatus{Succeeded: -2}, want: "status.succeeded"},
		"negative failed":      {spec: manualJob(), new: bj.BatchJobStatus{Failed: -3}, want: "status.failed"},
		"negative ready":       {spec: manualJob(), new: bj.BatchJobStatus{Ready: ptr.To[int32](-1)}, want: "status.ready"},
		"negative terminating": {spec: manualJob(), new: bj.BatchJobStatus{Terminating: ptr.To[int32](-2)}, want: "status.terminating"},
		"duplicated uncounted succeeded": {spec: manualJob(), new: uncounted([]types.UID{"a", "b", "c", "a"}, nil),
			want: "status.uncountedTerminatedPods.succeeded[3]"},
		"empty uncounted succeeded": {spec: manualJob(), new: uncounted([]types.UID{"a", ""}, nil),
			want: "status.uncountedTerminatedPods.succeeded[1]"},
		"uncounted failed duplicating a succeeded one": {spec: manualJob(), new: uncounted([]types.UID{"a", "b", "c"}, []types.UID{"c", "d"}),
			want: "status.uncountedTerminatedPods.failed[0]"},
		"duplicated uncounted failed": {spec: manualJob(), new: uncounted(nil, []types.UID{"c", "d", "e", "d"}),
			want: "status.uncountedTerminatedPods.failed[3]"},
		"empty uncounted failed": {spec: manualJob(), new: uncounted(nil, []types.UID{"c", ""}),
			want: "status.uncountedTerminatedPods.failed[1]"},
		"immutable startTime for unsuspended job: with non-nil startTime": {spec: manualJob().Suspend(false),
			old: bj.BatchJobStatus{StartTime: &now, Active: 1}, new: bj.BatchJobStatus{StartTime: &later, Active: 1}, want: "status.startTime"},
		"immutable startTime for unsuspended job: with nil startTime": {spec: manualJob().Suspend(false),
			old: bj.BatchJobStatus{StartTime: &now, Active: 1}, new: bj.BatchJobStatus{Active: 1}, want: "status.startTime"},
	})
}

func uncounted(succeeded, failed []types.UID) bj.BatchJobStatus {
	return bj.BatchJobStatus{UncountedTerminatedPods: &bj.UncountedTerminatedPods{Succeeded: succeeded, Failed: failed}}
}
