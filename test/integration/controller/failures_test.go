package controller

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// While pods fail and succeed as fast as the test can write them, a watcher checks
// continuously that no more than parallelism pods are ever active.
func TestParallelismNeverExceeded(t *testing.T) {
	ns := newNamespace(t)
	const parallelism = 3
	job := makeJob("churn", ns).completions(12).parallelism(parallelism).backoffLimit(100).create(t)

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
			if n := int32(len(activePods(podsOf(t, job)))); n > maxActive.Load() {
				maxActive.Store(n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	// Alternate failures and successes; failures are older than the backoff window so that
	// the test does not wait 10 s per failure: finishedAt is written one hour in the past.
	i := 0
	got := func() *v1alpha1.BatchJob {
		defer func() { close(stop); wg.Wait() }()
		var j *v1alpha1.BatchJob
		eventually(t, "job to complete under churn", func() (bool, string) {
			for _, p := range activePods(podsOf(t, job)) {
				phase := corev1.PodSucceeded
				if i%3 == 0 {
					phase = corev1.PodFailed
				}
				i++
				setPodPhaseAt(t, &p, phase, time.Now().Add(-time.Hour))
			}
			j = getJob(t, job)
			return hasCondition(j, v1alpha1.JobComplete, ""), fmt.Sprintf("%+v", j.Status)
		})
		return j
	}()
	if m := maxActive.Load(); m > parallelism {
		t.Errorf("saw %d active pods at once, parallelism is %d", m, parallelism)
	}
	pods := podsOf(t, job)
	if got.Status.Succeeded != 12 || int(got.Status.Succeeded+got.Status.Failed) != len(pods) {
		t.Errorf("succeeded %d failed %d with %d pods: want 12 succeeded and every pod counted once",
			got.Status.Succeeded, got.Status.Failed, len(pods))
	}
}

// setPodPhaseAt is setPodPhase with the container's finishedAt set to at.
func setPodPhaseAt(t *testing.T, pod *corev1.Pod, phase corev1.PodPhase, at time.Time) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &corev1.Pod{}
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(pod), p); err != nil {
			return err
		}
		p.Status = podStatus(phase, exitCodeFor(phase), 0)
		p.Status.ContainerStatuses[0].State.Terminated.FinishedAt.Time = at
		p.Status.ContainerStatuses[0].State.Terminated.StartedAt.Time = at
		return k8sClient.Status().Update(context.Background(), p)
	})
	if err != nil {
		t.Fatalf("setting pod %s to %s: %v", pod.Name, phase, err)
	}
}

// The replacement of a failed pod waits out the 10 s pod-failure backoff.
func TestBackoffDelaysReplacement(t *testing.T) {
	ns := newNamespace(t)
	job := makeJob("backoff", ns).backoffLimit(3).create(t)
	first := waitForActive(t, job, 1)[0]
	// A whole second, so that the comparison with the (second-precision)
	// creationTimestamp below is exact.
	failedAt := time.Now().Truncate(time.Second)
	setPodPhaseAt(t, &first, corev1.PodFailed, failedAt)
	var second corev1.Pod
	eventually(t, "a replacement pod", func() (bool, string) {
		active := activePods(podsOf(t, job))
		if len(active) == 1 && active[0].UID != first.UID {
			second = active[0]
			return true, ""
		}
		return false, fmt.Sprintf("%d active", len(active))
	})
	if d := second.CreationTimestamp.Sub(failedAt); d < 10*time.Second || d > 15*time.Second {
		t.Errorf("replacement created %v after the failure, want 10s (at most 15s)", d)
	}
	if j := getJob(t, job); j.Status.Failed != 1 {
		t.Errorf("failed = %d, want 1", j.Status.Failed)
	}
}

// Container restarts of an OnFailure pod count against backoffLimit.
func TestOnFailureRestartsExceedBackoffLimit(t *testing.T) {
	ns := newNamespace(t)
	job := makeJob("restarts", ns).backoffLimit(2).restartPolicy(corev1.RestartPolicyOnFailure).create(t)
	pod := waitForActive(t, job, 1)[0]
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &corev1.Pod{}
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(&pod), p); err != nil {
			return err
		}
		p.Status = podStatus(corev1.PodRunning, 0, 2)
		return k8sClient.Status().Update(context.Background(), p)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := waitForCondition(t, job, v1alpha1.JobFailed, v1alpha1.ReasonBackoffLimitExceeded)
	if !hasCondition(got, v1alpha1.JobFailureTarget, v1alpha1.ReasonBackoffLimitExceeded) {
		t.Errorf("no FailureTarget condition: %+v", got.Status.Conditions)
	}
	waitForEvents(t, job, "BackoffLimitExceeded")
}

// activeDeadlineSeconds fails the job and requests deletion of its running pods.
func TestActiveDeadlineExceeded(t *testing.T) {
	ns := newNamespace(t)
	job := makeJob("deadline", ns).parallelism(2).completions(2).deadline(2).create(t)
	pods := waitForActive(t, job, 2)
	for _, p := range pods {
		setPodPhase(t, &p, corev1.PodRunning, 0)
	}
	got := waitForCondition(t, job, v1alpha1.JobFailed, v1alpha1.ReasonDeadlineExceeded)
	if got.Status.Active != 0 || got.Status.Failed != 2 {
		t.Errorf("active %d failed %d, want 0 and 2", got.Status.Active, got.Status.Failed)
	}
	for _, p := range podsOf(t, job) {
		if p.DeletionTimestamp == nil {
			t.Errorf("pod %s not being deleted", p.Name)
		}
	}
	waitForEvents(t, job, "DeadlineExceeded")
}

// A pod deleted by a user counts as failed and is replaced.
func TestUserDeletedPodIsCountedAndReplaced(t *testing.T) {
	ns := newNamespace(t)
	job := makeJob("userdelete", ns).create(t)
	pod := waitForActive(t, job, 1)[0]
	if err := k8sClient.Delete(context.Background(), &pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "failure counted and pod replaced", func() (bool, string) {
		j := getJob(t, job)
		active := activePods(podsOf(t, job))
		return j.Status.Failed == 1 && len(active) == 1 && active[0].UID != pod.UID,
			fmt.Sprintf("failed %d, %d active", j.Status.Failed, len(active))
	})
	eventually(t, "deleted pod gone (finalizer released)", func() (bool, string) {
		p := &corev1.Pod{}
		err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(&pod), p)
		return err != nil, fmt.Sprintf("pod finalizers %v", p.Finalizers)
	})
}
