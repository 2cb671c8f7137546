package beyond

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestCompletionIndexes: an Indexed BatchJob with completionIndexes "2,5,8" runs just
// those indexes, each with its own index label and hostname, and completes when they
// succeeded; the API server rejects it on a NonIndexed job, out of order or beyond
// completions, and any change of it.
func TestCompletionIndexes(t *testing.T) {
	ns := env.NewNamespace(t, "completion-indexes")
	indexed := func(indexes string) func(*v1alpha1.BatchJobSpec) {
		return func(s *v1alpha1.BatchJobSpec) {
			s.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
			s.Completions, s.Parallelism = ptr.To[int32](10), ptr.To[int32](3)
			s.CompletionIndexes = ptr.To(indexes)
		}
	}
	wantRejected(t, newJob(ns, "nonindexed", func(s *v1alpha1.BatchJobSpec) { s.CompletionIndexes = ptr.To("1") }),
		"spec.completionIndexes: requires indexed completion mode")
	wantRejected(t, newJob(ns, "unordered", indexed("5,2")), "spec.completionIndexes: Invalid value")
	wantRejected(t, newJob(ns, "beyond", indexed("2,10")), "spec.completionIndexes: Invalid value", "less than spec.completions (10)")
	wantRejected(t, newJob(ns, "format", indexed("2-")), "spec.completionIndexes")

	job := env.CreateJob(t, newJob(ns, "some", indexed("2,5,8")))
	pods := env.WaitForActivePods(t, job, 3)
	got := sets.New[string]()
	for _, p := range pods {
		ix := p.Labels[v1alpha1.JobCompletionIndexAnnotation]
		got.Insert(ix)
		if p.Spec.Hostname != "some-"+ix {
			t.Errorf("pod %s: hostname %q, want some-%s", p.Name, p.Spec.Hostname, ix)
		}
	}
	if want := sets.New("2", "5", "8"); !got.Equal(want) {
		t.Errorf("indexes of the pods %v, want %v", sets.List(got), sets.List(want))
	}
	if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) { j.Spec.CompletionIndexes = ptr.To("2,5") }); err == nil {
		t.Error("completionIndexes changed; want it immutable")
	}
	if _, err := env.SetJobPodsPhase(job, corev1.PodSucceeded, 3); err != nil {
		t.Fatal(err)
	}
	done := env.WaitForCondition(t, job, v1alpha1.JobComplete, v1alpha1.ReasonCompletionsReached)
	if done.Status.CompletedIndexes != "2,5,8" || done.Status.Succeeded != 3 || done.Status.CompletionsText != "3/3" {
		t.Errorf("completedIndexes %q, succeeded %d, COMPLETIONS %q; want 2,5,8, 3, 3/3",
			done.Status.CompletedIndexes, done.Status.Succeeded, done.Status.CompletionsText)
	}
	framework.Consistently(t, framework.ControllerLatency, "no other index", func() (bool, string) {
		n := len(env.JobPods(t, job))
		return n == 3, fmt.Sprintf("%d pods", n)
	})
}
