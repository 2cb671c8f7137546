package controller

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// The generated selector and the template labels are written before any pod exists: a
// suspended job gets them and still has no pod.
func TestGeneratedSelectorBeforeAnyPod(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("sel", ns).Suspend(true).Obj())
	var got *v1alpha1.BatchJob
	framework.Eventually(t, "generated selector", func() (bool, string) {
		got = env.GetJob(t, job)
		return got.Spec.Selector != nil, "no selector"
	})
	uid := string(job.UID)
	wantSelector := &metav1.LabelSelector{MatchLabels: map[string]string{v1alpha1.ControllerUIDLabel: uid}}
	if diff := cmp.Diff(wantSelector, got.Spec.Selector); diff != "" {
		t.Errorf("selector (-want,+got):\n%s", diff)
	}
	wantLabels := map[string]string{
		"app": "sel", v1alpha1.JobNameLabel: "sel", v1alpha1.LegacyJobNameLabel: "sel",
		v1alpha1.ControllerUIDLabel: uid, v1alpha1.LegacyControllerUIDLabel: uid,
	}
	if diff := cmp.Diff(wantLabels, got.Spec.Template.Labels); diff != "" {
		t.Errorf("template labels (-want,+got):\n%s", diff)
	}
	env.WaitForCondition(t, job, v1alpha1.JobSuspended, v1alpha1.ReasonJobSuspended)
	if pods := env.JobPods(t, job); len(pods) != 0 {
		t.Errorf("suspended job has %d pods, want 0", len(pods))
	}
}

func TestNonIndexedCompletes(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("nonindexed", ns).Completions(3).Parallelism(2).Obj())
	env.WaitForActivePods(t, job, 2)
	got := finishUntil(t, job, corev1.PodSucceeded, func(j *v1alpha1.BatchJob) bool {
		return framework.HasCondition(j, v1alpha1.JobComplete, v1alpha1.ReasonCompletionsReached)
	})
	if got.Status.Succeeded != 3 || got.Status.Failed != 0 || got.Status.Active != 0 {
		t.Errorf("status succeeded/failed/active = %d/%d/%d, want 3/0/0", got.Status.Succeeded, got.Status.Failed, got.Status.Active)
	}
	if got.Status.CompletionTime == nil || got.Status.StartTime == nil {
		t.Errorf("startTime %v, completionTime %v: want both set", got.Status.StartTime, got.Status.CompletionTime)
	}
	if !framework.HasCondition(got, v1alpha1.JobSuccessCriteriaMet, v1alpha1.ReasonCompletionsReached) {
		t.Errorf("no SuccessCriteriaMet condition: %+v", got.Status.Conditions)
	}
	if got.Status.UncountedTerminatedPods != nil && len(got.Status.UncountedTerminatedPods.Succeeded)+len(got.Status.UncountedTerminatedPods.Failed) > 0 {
		t.Errorf("uncountedTerminatedPods not empty: %+v", got.Status.UncountedTerminatedPods)
	}
	pods := env.JobPods(t, job)
	if len(pods) != 3 {
		t.Errorf("%d pods, want 3", len(pods))
	}
	wantLabels := []string{v1alpha1.JobNameLabel, v1alpha1.ControllerUIDLabel, v1alpha1.LegacyJobNameLabel, v1alpha1.LegacyControllerUIDLabel}
	for _, p := range pods {
		if slices.Contains(p.Finalizers, v1alpha1.JobTrackingFinalizer) {
			t.Errorf("pod %s still has the tracking finalizer", p.Name)
		}
		if keys := slices.Collect(maps.Keys(p.Labels)); !containsAll(keys, wantLabels) {
			t.Errorf("pod %s labels %v lack some of %v", p.Name, p.Labels, wantLabels)
		}
	}
	env.WaitForEvents(t, job, "SuccessfulCreate", "SuccessfulCreate", "SuccessfulCreate", "Completed")
}

// A work-queue job (no completions) runs parallelism pods and completes when they are done.
func TestWorkQueueCompletes(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("workqueue", ns).Parallelism(3).Obj())
	pods := env.WaitForActivePods(t, job, 3)
	env.SetPodPhase(t, &pods[0], corev1.PodSucceeded, 0)
	framework.Eventually(t, "first success counted", func() (bool, string) {
		j := env.GetJob(t, job)
		return j.Status.Succeeded == 1, fmt.Sprintf("%+v", j.Status)
	})
	// After the first success no new pod is created.
	if n := len(env.JobPods(t, job)); n != 3 {
		t.Fatalf("%d pods after first success, want 3", n)
	}
	got := finishUntil(t, job, corev1.PodSucceeded, func(j *v1alpha1.BatchJob) bool {
		return framework.HasCondition(j, v1alpha1.JobComplete, "")
	})
	if got.Status.Succeeded != 3 || len(env.JobPods(t, job)) != 3 {
		t.Errorf("succeeded %d with %d pods, want 3 and 3", got.Status.Succeeded, len(env.JobPods(t, job)))
	}
}

func TestIndexedCompletes(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("indexed", ns).Completions(4).Parallelism(2).Indexed().Obj())
	pods := env.WaitForActivePods(t, job, 2)
	seen := map[string]bool{}
	for _, p := range pods {
		idx := p.Labels[v1alpha1.JobCompletionIndexAnnotation]
		if idx == "" || p.Annotations[v1alpha1.JobCompletionIndexAnnotation] != idx {
			t.Errorf("pod %s: index label %q, annotation %q", p.Name, idx, p.Annotations[v1alpha1.JobCompletionIndexAnnotation])
		}
		if want := "indexed-" + idx; p.Spec.Hostname != want {
			t.Errorf("pod %s hostname %q, want %q", p.Name, p.Spec.Hostname, want)
		}
		seen[idx] = true
	}
	if !seen["0"] || !seen["1"] {
		t.Errorf("first pods have indexes %v, want 0 and 1", seen)
	}
	got := finishUntil(t, job, corev1.PodSucceeded, func(j *v1alpha1.BatchJob) bool {
		return framework.HasCondition(j, v1alpha1.JobComplete, "")
	})
	if got.Status.CompletedIndexes != "0-3" || got.Status.Succeeded != 4 {
		t.Errorf("completedIndexes %q succeeded %d, want \"0-3\" and 4", got.Status.CompletedIndexes, got.Status.Succeeded)
	}
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
