package upstream

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestElasticIndexedJob (job_test.go:3023): completions and parallelism of an Indexed job
// change together.
func TestElasticIndexedJob(t *testing.T) {
	const initialCompletions int32 = 3
	type jobUpdate struct {
		completions          *int32
		succeedIndexes       []int
		failIndexes          []int
		wantSucceededIndexes string
		wantFailed           int
		wantRemainingIndexes sets.Set[int]
		wantActivePods       int
		wantTerminating      *int32
	}
	cases := map[string]struct {
		jobUpdates []jobUpdate
	}{
		"scale up": {jobUpdates: []jobUpdate{{
			// Scale up completions 3->4 then succeed indexes 0-3
			completions:          ptr.To[int32](4),
			succeedIndexes:       []int{0, 1, 2, 3},
			wantSucceededIndexes: "0-3",
			wantTerminating:      ptr.To[int32](0),
		}}},
		"scale down": {jobUpdates: []jobUpdate{
			// First succeed index 1 and fail index 2 while completions is still original value (3).
			{
				succeedIndexes:       []int{1},
				failIndexes:          []int{2},
				wantSucceededIndexes: "1",
				wantFailed:           1,
				wantRemainingIndexes: sets.New(0, 2),
				wantActivePods:       2,
				wantTerminating:      ptr.To[int32](0),
			},
			// Scale down completions 3->1, verify prev failure out of range still counts
			// but succeeded out of range does not.
			{
				completions:          ptr.To[int32](1),
				succeedIndexes:       []int{0},
				wantSucceededIndexes: "0",
				wantFailed:           1,
				wantTerminating:      ptr.To[int32](0),
			},
		}},
		"index finishes successfully, scale down, scale up": {jobUpdates: []jobUpdate{
			// First succeed index 2 while completions is still original value (3).
			{
				succeedIndexes:       []int{2},
				wantSucceededIndexes: "2",
				wantRemainingIndexes: sets.New(0, 1),
				wantActivePods:       2,
				wantTerminating:      ptr.To[int32](0),
			},
			// Scale completions down 3->2 to exclude previously succeeded index.
			{
				completions:          ptr.To[int32](2),
				wantRemainingIndexes: sets.New(0, 1),
				wantActivePods:       2,
				wantTerminating:      ptr.To[int32](0),
			},
			// Scale completions back up to include previously succeeded index that was temporarily out of range.
			{
				completions:          ptr.To[int32](3),
				succeedIndexes:       []int{0, 1, 2},
				wantSucceededIndexes: "0-2",
				wantTerminating:      ptr.To[int32](0),
			},
		}},
		"scale down to 0, verify that the job succeeds": {jobUpdates: []jobUpdate{{
			completions:     ptr.To[int32](0),
			wantTerminating: ptr.To[int32](0),
		}}},
	}
	ns := env.NewNamespace(t, "indexed")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			startJobControllerAndWaitForCaches(t, ns)
			framework.ResetMetrics()
			jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
				s.Parallelism = ptr.To(initialCompletions)
				s.Completions = ptr.To(initialCompletions)
				s.CompletionMode = indexedCompletion
			}))
			env.WaitForPodsToBeActive(t, jobObj, initialCompletions)

			for _, update := range tc.jobUpdates {
				if update.completions != nil {
					var err error
					if jobObj, err = env.UpdateJob(jobObj, func(j *v1alpha1.BatchJob) {
						j.Spec.Completions = update.completions
						j.Spec.Parallelism = update.completions
					}); err != nil {
						t.Fatalf("Unexpected error updating the Job: %v", err)
					}
				}
				for _, idx := range update.succeedIndexes {
					env.SetJobPhaseForIndex(t, jobObj, corev1.PodSucceeded, idx)
				}
				for _, idx := range update.failIndexes {
					env.SetJobPhaseForIndex(t, jobObj, corev1.PodFailed, idx)
				}
				env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{
					Active:      update.wantActivePods,
					Succeeded:   len(update.succeedIndexes),
					Failed:      update.wantFailed,
					Ready:       ptr.To[int32](0),
					Terminating: update.wantTerminating,
				})
				env.ValidateIndexedJobPods(t, jobObj, update.wantRemainingIndexes, update.wantSucceededIndexes, nil)
			}
			env.ValidateJobCondition(t, jobObj, v1alpha1.JobComplete)
		})
	}
}
