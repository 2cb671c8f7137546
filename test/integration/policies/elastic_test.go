package policies

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Port of upstream TestElasticIndexedJob (INT:3023-3190): completions and parallelism
// change together; completed indexes beyond a lowered completions are forgotten (and
// re-run if it grows again); failures counted before stay counted.
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
	cases := map[string][]jobUpdate{
		"scale up": {
			{completions: ptr.To[int32](4), succeedIndexes: []int{0, 1, 2, 3}, wantSucceededIndexes: "0-3", wantTerminating: ptrInt32(0)},
		},
		"scale down": {
			{succeedIndexes: []int{1}, failIndexes: []int{2}, wantSucceededIndexes: "1", wantFailed: 1,
				wantRemainingIndexes: sets.New(0, 2), wantActivePods: 2, wantTerminating: ptrInt32(0)},
			{completions: ptr.To[int32](1), succeedIndexes: []int{0}, wantSucceededIndexes: "0", wantFailed: 1, wantTerminating: ptrInt32(0)},
		},
		"index finishes successfully, scale down, scale up": {
			{succeedIndexes: []int{2}, wantSucceededIndexes: "2", wantRemainingIndexes: sets.New(0, 1), wantActivePods: 2, wantTerminating: ptrInt32(0)},
			{completions: ptr.To[int32](2), wantRemainingIndexes: sets.New(0, 1), wantActivePods: 2, wantTerminating: ptrInt32(0)},
			{completions: ptr.To[int32](3), succeedIndexes: []int{0, 1, 2}, wantSucceededIndexes: "0-2", wantTerminating: ptrInt32(0)},
		},
		"scale down to 0, verify that the job succeeds": {
			{completions: ptr.To[int32](0), wantTerminating: ptrInt32(0)},
		},
	}
	ns := setup(t, "indexed")
	for name, updates := range cases {
		t.Run(name, func(t *testing.T) {
			job := createJobWithDefaults(t, ns, v1alpha1.BatchJobSpec{Parallelism: ptr.To(initialCompletions),
				Completions: ptr.To(initialCompletions), CompletionMode: indexed()})
			waitForPodsToBeActive(t, job, initialCompletions)
			for _, update := range updates {
				if update.completions != nil {
					if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) {
						j.Spec.Completions, j.Spec.Parallelism = update.completions, update.completions
					}); err != nil {
						t.Fatalf("scaling to %d: %v", *update.completions, err)
					}
				}
				for _, ix := range update.succeedIndexes {
					setJobPhaseForIndex(t, job, corev1.PodSucceeded, ix)
				}
				for _, ix := range update.failIndexes {
					setJobPhaseForIndex(t, job, corev1.PodFailed, ix)
				}
				validateJobPodsStatus(t, job, podsByStatus{Active: update.wantActivePods, Succeeded: len(update.succeedIndexes),
					Failed: update.wantFailed, Ready: ptrInt32(0), Terminating: update.wantTerminating})
				validateIndexedJobPods(t, job, update.wantRemainingIndexes, update.wantSucceededIndexes, nil)
			}
			validateJobCondition(t, job, v1alpha1.JobComplete)
		})
	}
}
