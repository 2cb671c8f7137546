package controller

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	jobs "github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// succeedOneAtATime marks one active pod of job succeeded and waits until the controller
// replaced it (or the job needs no replacement), n times; it returns how many pods it marked.
func succeedOneAtATime(t *testing.T, job *v1alpha1.BatchJob, n int, stop func() bool) int {
	t.Helper()
	marked := 0
	for marked < n && !stop() {
		active := framework.ActivePods(env.JobPods(t, job))
		if len(active) == 0 {
			break
		}
		env.SetPodPhase(t, &active[0], corev1.PodSucceeded, 0)
		marked++
		framework.Eventually(t, "the succeeded pod replaced", func() (bool, string) {
			pods := env.JobPods(t, job)
			done := len(framework.FilterPods(pods, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded }))
			want := min(int(*job.Spec.Parallelism), int(*job.Spec.Completions)-done)
			got := len(framework.ActivePods(pods))
			return got == want, fmt.Sprintf("%d active, want %d", got, want)
		})
	}
	return marked
}

// A busy job's bookkeeping (successes recorded and counted, active/ready counts) is folded
// into fewer status writes once its write budget is spent, yet every pod is counted
// exactly once and the job completes: with a period of an hour no token comes back during
// the test, so everything after the first writes is folded into the condition writes.
func TestBusyJobBookkeepingFolded(t *testing.T) {
	env.SwapShared(t, framework.ControllerOptions{PodFailureBackoff: framework.FastPodFailureBackoff, StatusBatchPeriod: time.Hour})
	deferredBefore := framework.Counter(t, metrics.StatusWritesDeferredTotal)
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, jobs.MakeBatchJob("folded", ns).Completions(8).Parallelism(2).Obj())
	env.WaitForActivePods(t, job, 2)
	succeedOneAtATime(t, job, 8, func() bool { return false })
	env.WaitForCondition(t, job, v1alpha1.JobComplete, v1alpha1.ReasonCompletionsReached)
	got := env.GetJob(t, job)
	if got.Status.Succeeded != 8 || got.Status.Failed != 0 || got.Status.Active != 0 {
		t.Errorf("succeeded/failed/active = %d/%d/%d, want 8/0/0", got.Status.Succeeded, got.Status.Failed, got.Status.Active)
	}
	if u := got.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		t.Errorf("uncountedTerminatedPods not empty: %+v", u)
	}
	pods := env.JobPods(t, job)
	if len(pods) != 8 {
		t.Errorf("%d pods, want 8", len(pods))
	}
	for _, p := range pods {
		if slices.Contains(p.Finalizers, v1alpha1.JobTrackingFinalizer) {
			t.Errorf("pod %s still has the tracking finalizer", p.Name)
		}
	}
	if deferred := framework.Counter(t, metrics.StatusWritesDeferredTotal) - deferredBefore; deferred == 0 {
		t.Errorf("no status write was deferred for a job with 8 pods finishing one by one")
	}
}

// A deferred write lands on its own: once the pods stop changing, the job's status catches
// up (every finished pod counted, its finalizer removed) with no further event to trigger it.
func TestDeferredBookkeepingLandsWithoutEvents(t *testing.T) {
	env.SwapShared(t, framework.ControllerOptions{PodFailureBackoff: framework.FastPodFailureBackoff, StatusBatchPeriod: 2 * time.Second})
	deferredBefore := framework.Counter(t, metrics.StatusWritesDeferredTotal)
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, jobs.MakeBatchJob("lands", ns).Completions(30).Parallelism(2).Obj())
	env.WaitForActivePods(t, job, 2)
	marked := succeedOneAtATime(t, job, 20, func() bool {
		return framework.Counter(t, metrics.StatusWritesDeferredTotal) > deferredBefore
	})
	if framework.Counter(t, metrics.StatusWritesDeferredTotal) == deferredBefore {
		t.Fatalf("no status write was deferred after %d pods finished one by one", marked)
	}
	framework.Eventually(t, "the deferred bookkeeping to land", func() (bool, string) {
		j := env.GetJob(t, job)
		u := j.Status.UncountedTerminatedPods
		pending := u != nil && len(u.Succeeded)+len(u.Failed) > 0
		stuck := 0
		for _, p := range env.JobPods(t, job) {
			if p.Status.Phase == corev1.PodSucceeded && slices.Contains(p.Finalizers, v1alpha1.JobTrackingFinalizer) {
				stuck++
			}
		}
		return int(j.Status.Succeeded) == marked && j.Status.Active == 2 && !pending && stuck == 0,
			fmt.Sprintf("succeeded %d (want %d), active %d, uncounted %+v, %d finished pods with the finalizer",
				j.Status.Succeeded, marked, j.Status.Active, u, stuck)
	})
}
