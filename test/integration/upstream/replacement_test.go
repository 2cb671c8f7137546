package upstream

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestJobPodReplacementPolicy (job_test.go:2801): terminating pods are replaced at once
// and counted failed with TerminatingOrFailed, and only once they failed with Failed.
func TestJobPodReplacementPolicy(t *testing.T) {
	type jobStatus struct {
		active      int
		failed      int
		terminating *int32
	}
	type jobPodsCreationMetrics struct {
		new, recreateTerminatingOrFailed, recreateFailed float64
	}
	spec := func(mode *v1alpha1.CompletionMode, policy *v1alpha1.PodReplacementPolicy) v1alpha1.BatchJobSpec {
		s := v1alpha1.BatchJobSpec{
			Parallelism:          ptr.To[int32](2),
			Completions:          ptr.To[int32](2),
			CompletionMode:       mode,
			PodReplacementPolicy: policy,
		}
		s.Template.Finalizers = []string{framework.BlockDeletionFinalizer}
		return s
	}
	replaceAtOnce := jobStatus{active: 2, failed: 2, terminating: ptr.To[int32](2)}
	waitForFailed := jobStatus{active: 0, failed: 0, terminating: ptr.To[int32](2)}
	afterFailure := jobStatus{active: 2, failed: 2, terminating: ptr.To[int32](0)}
	cases := map[string]struct {
		jobSpec                 v1alpha1.BatchJobSpec
		wantStatusAfterDeletion jobStatus
		wantStatusAfterFailure  jobStatus
		wantMetrics             jobPodsCreationMetrics
	}{
		"delete & fail pods, recreate terminating pods, and verify job status counters": {
			jobSpec:                 spec(indexedCompletion, nil),
			wantStatusAfterDeletion: replaceAtOnce, wantStatusAfterFailure: afterFailure,
			wantMetrics: jobPodsCreationMetrics{new: 2, recreateTerminatingOrFailed: 2},
		},
		"IndexedJob, TerminatingOrFailed policy, delete & fail pods, recreate terminating pods, and verify job status counters": {
			jobSpec:                 spec(indexedCompletion, ptr.To(v1alpha1.TerminatingOrFailed)),
			wantStatusAfterDeletion: replaceAtOnce, wantStatusAfterFailure: afterFailure,
			wantMetrics: jobPodsCreationMetrics{new: 2, recreateTerminatingOrFailed: 2},
		},
		"NonIndexedJob, TerminatingOrFailed policy, delete & fail pods, recreate terminating pods, and verify job status counters": {
			jobSpec:                 spec(nonIndexedCompletion, ptr.To(v1alpha1.TerminatingOrFailed)),
			wantStatusAfterDeletion: replaceAtOnce, wantStatusAfterFailure: afterFailure,
			wantMetrics: jobPodsCreationMetrics{new: 2, recreateTerminatingOrFailed: 2},
		},
		"Failed policy, delete & fail pods, recreate failed pods, and verify job status counters": {
			jobSpec:                 spec(indexedCompletion, ptr.To(v1alpha1.Failed)),
			wantStatusAfterDeletion: waitForFailed, wantStatusAfterFailure: afterFailure,
			wantMetrics: jobPodsCreationMetrics{new: 2, recreateFailed: 2},
		},
		"NonIndexedJob, Failed policy, delete & fail pods, recreate failed pods, and verify job status counters": {
			jobSpec:                 spec(nonIndexedCompletion, ptr.To(v1alpha1.Failed)),
			wantStatusAfterDeletion: waitForFailed, wantStatusAfterFailure: afterFailure,
			wantMetrics: jobPodsCreationMetrics{new: 2, recreateFailed: 2},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Upstream shares one namespace between the cases; deletePods deletes every pod
			// of it, so each case gets its own here.
			ns := env.NewNamespace(t, "pod-replacement-policy")
			startJobControllerAndWaitForCaches(t, ns)
			framework.ResetMetrics()

			jobObj := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("", "").FullSpec(&tc.jobSpec).Obj())
			env.WaitForPodsToBeActive(t, jobObj, 2)
			t.Cleanup(func() {
				if err := cleanUp(jobObj, []string{framework.BlockDeletionFinalizer, v1alpha1.JobTrackingFinalizer}); err != nil {
					t.Fatalf("Failed cleanup: %v", err)
				}
			})

			env.DeletePods(t, ns)
			env.ValidateJobsPodsStatusOnly(t, jobObj, framework.PodsByStatus{
				Terminating: tc.wantStatusAfterDeletion.terminating,
				Failed:      tc.wantStatusAfterDeletion.failed,
				Active:      tc.wantStatusAfterDeletion.active,
				Ready:       ptr.To[int32](0),
			})

			env.FailTerminatingPods(t, ns)
			env.ValidateJobsPodsStatusOnly(t, jobObj, framework.PodsByStatus{
				Terminating: tc.wantStatusAfterFailure.terminating,
				Failed:      tc.wantStatusAfterFailure.failed,
				Active:      tc.wantStatusAfterFailure.active,
				Ready:       ptr.To[int32](0),
			})

			framework.ValidateCounterMetric(t, metrics.PodsCreationTotal, tc.wantMetrics.new, "new", "succeeded")
			framework.ValidateCounterMetric(t, metrics.PodsCreationTotal, tc.wantMetrics.recreateTerminatingOrFailed, "recreate_terminating_or_failed", "succeeded")
			framework.ValidateCounterMetric(t, metrics.PodsCreationTotal, tc.wantMetrics.recreateFailed, "recreate_failed", "succeeded")
		})
	}
}
