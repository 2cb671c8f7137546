package controller

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// While pods fail and succeed as fast as the test can write them, a watcher checks
// continuously that no more than parallelism pods are ever active.
func TestParallelismNeverExceeded(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	const parallelism = 3
	job := env.CreateJob(t, testutil.MakeBatchJob("churn", ns).Completions(12).Parallelism(parallelism).BackoffLimit(100).Obj())

	var maxActive atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := int32(len(framework.ActivePods(env.JobPods(t, job)))); n > maxActive.Load() {
				maxActive.Store(n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	// Alternate failures and successes (the suite's controller runs with a short backoff).
	i := 0
	got := func() *v1alpha1.BatchJob {
		defer func() { close(stop); wg.Wait() }()
		var j *v1alpha1.BatchJob
		framework.Eventually(t, "job to complete under churn", func() (bool, string) {
			for _, p := range framework.ActivePods(env.JobPods(t, job)) {
				phase := corev1.PodSucceeded
				if i%3 == 0 {
					phase = corev1.PodFailed
				}
				i++
				env.SetPodPhase(t, &p, phase, exitCodeFor(phase))
			}
			j = env.GetJob(t, job)
			return framework.HasCondition(j, v1alpha1.JobComplete, ""), fmt.Sprintf("%+v", j.Status)
		})
		return j
	}()
	if m := maxActive.Load(); m > parallelism {
		t.Errorf("saw %d active pods at once, parallelism is %d", m, parallelism)
	}
	pods := env.JobPods(t, job)
	if got.Status.Succeeded != 12 || int(got.Status.Succeeded+got.Status.Failed) != len(pods) {
		t.Errorf("succeeded %d failed %d with %d pods: want 12 succeeded and every pod counted once",
			got.Status.Succeeded, got.Status.Failed, len(pods))
	}
}

// The replacement of a failed pod waits out the 10 s pod-failure backoff: the one test
// that runs the controller with the production backoff base.
func TestBackoffDelaysReplacement(t *testing.T) {
	env.SwapShared(t, framework.ControllerOptions{})
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("backoff", ns).BackoffLimit(3).Obj())
	first := env.WaitForActivePods(t, job, 1)[0]
	// A whole second, so that the comparison with the (second-precision)
	// creationTimestamp below is exact.
	failedAt := time.Now().Truncate(time.Second)
	st := framework.PodStatus(corev1.PodFailed, 1, 0)
	st.ContainerStatuses[0].State.Terminated.StartedAt.Time = failedAt
	st.ContainerStatuses[0].State.Terminated.FinishedAt.Time = failedAt
	env.WritePodStatus(t, &first, st)
	var second corev1.Pod
	framework.Eventually(t, "a replacement pod", func() (bool, string) {
		active := framework.ActivePods(env.JobPods(t, job))
		if len(active) == 1 && active[0].UID != first.UID {
			second = active[0]
			return true, ""
		}
		return false, fmt.Sprintf("%d active", len(active))
	})
	if d := second.CreationTimestamp.Sub(failedAt); d < 10*time.Second || d > 15*time.Second {
		t.Errorf("replacement created %v after the failure, want 10s (at most 15s)", d)
	}
	if j := env.GetJob(t, job); j.Status.Failed != 1 {
		t.Errorf("failed = %d, want 1", j.Status.Failed)
	}
}

// Container restarts of an OnFailure pod count against backoffLimit.
func TestOnFailureRestartsExceedBackoffLimit(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("restarts", ns).BackoffLimit(2).RestartPolicy(corev1.RestartPolicyOnFailure).Obj())
	pod := env.WaitForActivePods(t, job, 1)[0]
	env.WritePodStatus(t, &pod, framework.PodStatus(corev1.PodRunning, 0, 2))
	got := env.WaitForCondition(t, job, v1alpha1.JobFailed, v1alpha1.ReasonBackoffLimitExceeded)
	if !framework.HasCondition(got, v1alpha1.JobFailureTarget, v1alpha1.ReasonBackoffLimitExceeded) {
		t.Errorf("no FailureTarget condition: %+v", got.Status.Conditions)
	}
	env.WaitForEvents(t, job, "BackoffLimitExceeded")
}

// activeDeadlineSeconds fails the job and requests deletion of its running pods.
func TestActiveDeadlineExceeded(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("deadline", ns).Parallelism(2).Completions(2).ActiveDeadlineSeconds(2).Obj())
	pods := env.WaitForActivePods(t, job, 2)
	for _, p := range pods {
		env.SetPodPhase(t, &p, corev1.PodRunning, 0)
	}
	got := env.WaitForCondition(t, job, v1alpha1.JobFailed, v1alpha1.ReasonDeadlineExceeded)
	if got.Status.Active != 0 || got.Status.Failed != 2 {
		t.Errorf("active %d failed %d, want 0 and 2", got.Status.Active, got.Status.Failed)
	}
	for _, p := range env.JobPods(t, job) {
		if p.DeletionTimestamp == nil {
			t.Errorf("pod %s not being deleted", p.Name)
		}
	}
	env.WaitForEvents(t, job, "DeadlineExceeded")
}

// A pod deleted by a user counts as failed and is replaced.
func TestUserDeletedPodIsCountedAndReplaced(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("userdelete", ns).Obj())
	pod := env.WaitForActivePods(t, job, 1)[0]
	if err := env.Client.Delete(context.Background(), &pod); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "failure counted and pod replaced", func() (bool, string) {
		j := env.GetJob(t, job)
		active := framework.ActivePods(env.JobPods(t, job))
		return j.Status.Failed == 1 && len(active) == 1 && active[0].UID != pod.UID,
			fmt.Sprintf("failed %d, %d active", j.Status.Failed, len(active))
	})
	framework.Eventually(t, "deleted pod gone (finalizer released)", func() (bool, string) {
		p := &corev1.Pod{}
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(&pod), p)
		return err != nil, fmt.Sprintf("pod finalizers %v", p.Finalizers)
	})
}
