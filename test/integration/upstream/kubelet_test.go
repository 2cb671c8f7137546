package upstream

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// These helpers play the kubelet as upstream's do (job_test.go:4684-4836, 5042-5110):
// they write pod status through the status subresource.

func retryOnConflict(f func() error) error { return retry.RetryOnConflict(retry.DefaultBackoff, f) }

// terminatedNow is the container status upstream's helpers write for finished pods.
func terminatedNow() []corev1.ContainerStatus {
	return []corev1.ContainerStatus{{State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.Now()},
	}}}
}

func setJobPodsPhase(jobObj *v1alpha1.BatchJob, phase corev1.PodPhase, cnt int) (int, error) {
	op := func(p *corev1.Pod) bool {
		p.Status.Phase = phase
		if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
			p.Status.ContainerStatuses = terminatedNow()
		}
		return true
	}
	return updateJobPodsStatus(jobObj, op, cnt)
}

func setJobPodsReady(jobObj *v1alpha1.BatchJob, cnt int) (int, error) {
	op := func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return false
			}
		}
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
		return true
	}
	return updateJobPodsStatus(jobObj, op, cnt)
}

// updateJobPodsStatus applies op to up to cnt non-terminal pods of the job.
func updateJobPodsStatus(jobObj *v1alpha1.BatchJob, op func(*corev1.Pod) bool, cnt int) (int, error) {
	var list corev1.PodList
	if err := env.Client.List(ctx, &list, client.InNamespace(jobObj.Namespace)); err != nil {
		return 0, fmt.Errorf("listing Job Pods: %w", err)
	}
	updates := make([]corev1.Pod, 0, cnt)
	for _, pod := range list.Items {
		if len(updates) == cnt {
			break
		}
		if p := pod.Status.Phase; metav1.IsControlledBy(&pod, jobObj) && p != corev1.PodFailed && p != corev1.PodSucceeded {
			if !op(&pod) {
				continue
			}
			updates = append(updates, pod)
		}
	}
	successful, err := updatePodStatuses(updates)
	if successful != cnt {
		return successful, fmt.Errorf("couldn't set phase on %d Job pods", cnt-successful)
	}
	return successful, err
}

func updatePodStatuses(updates []corev1.Pod) (int, error) {
	var wg sync.WaitGroup
	errCh := make(chan error, len(updates))
	var updated atomic.Int32
	for i := range updates {
		wg.Go(func() {
			if err := env.Client.Status().Update(ctx, &updates[i]); err != nil {
				errCh <- err
				return
			}
			updated.Add(1)
		})
	}
	wg.Wait()
	select {
	case err := <-errCh:
		return int(updated.Load()), fmt.Errorf("updating Pod status: %w", err)
	default:
	}
	return int(updated.Load()), nil
}

func setJobPhaseForIndex(jobObj *v1alpha1.BatchJob, phase corev1.PodPhase, ix int) error {
	var list corev1.PodList
	if err := env.Client.List(ctx, &list, client.InNamespace(jobObj.Namespace)); err != nil {
		return fmt.Errorf("listing Job Pods: %w", err)
	}
	for _, pod := range list.Items {
		if p := pod.Status.Phase; !metav1.IsControlledBy(&pod, jobObj) || p == corev1.PodFailed || p == corev1.PodSucceeded {
			continue
		}
		if pix, err := getCompletionIndex(pod.Annotations); err == nil && pix == ix {
			pod.Status.Phase = phase
			if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
				pod.Status.ContainerStatuses = terminatedNow()
			}
			if err := env.Client.Status().Update(ctx, &pod); err != nil {
				return fmt.Errorf("updating pod %s status: %w", pod.Name, err)
			}
			return nil
		}
	}
	return errors.New("no pod matching index found")
}

func getCompletionIndex(m map[string]string) (int, error) {
	v, ok := m[v1alpha1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, fmt.Errorf("key %s not found in lookup Map", v1alpha1.JobCompletionIndexAnnotation)
	}
	return strconv.Atoi(v)
}

func waitForPodsToBeActive(t testing.TB, podCount int32, jobObj *v1alpha1.BatchJob) {
	t.Helper()
	validateJobCounter(t, jobObj, "active", func(j *v1alpha1.BatchJob) bool { return j.Status.Active == podCount })
}

// deletePods deletes every pod of the namespace (DeleteCollection).
func deletePods(t testing.TB, namespace string) {
	t.Helper()
	if err := env.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(namespace)); err != nil {
		t.Fatalf("Failed to cleanup Pods: %v", err)
	}
}

func removePodsFinalizers(namespace string, finalizers []string) error {
	var list corev1.PodList
	if err := env.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return err
	}
	drop := sets.New(finalizers...)
	for _, p := range list.Items {
		err := retryOnConflict(func() error {
			pod := &corev1.Pod{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(&p), pod); err != nil {
				return client.IgnoreNotFound(err)
			}
			kept := []string{}
			for _, f := range pod.Finalizers {
				if !drop.Has(f) {
					kept = append(kept, f)
				}
			}
			pod.Finalizers = kept
			return env.Client.Update(ctx, pod)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// failTerminatingPods sets phase Failed on every pod of the namespace being deleted.
func failTerminatingPods(t testing.TB, namespace string) {
	t.Helper()
	var list corev1.PodList
	if err := env.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		t.Fatalf("Failed to list pods: %v", err)
	}
	var terminating []corev1.Pod
	for _, pod := range list.Items {
		if pod.DeletionTimestamp != nil {
			pod.Status.Phase = corev1.PodFailed
			terminating = append(terminating, pod)
		}
	}
	if _, err := updatePodStatuses(terminating); err != nil {
		t.Fatalf("Failed to update pod statuses: %v", err)
	}
}

// cleanUp removes the given pod finalizers, deletes the pods and the job (background).
func cleanUp(jobObj *v1alpha1.BatchJob, podFinalizersToRemove []string) error {
	if err := removePodsFinalizers(jobObj.Namespace, podFinalizersToRemove); err != nil {
		return err
	}
	if err := env.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(jobObj.Namespace)); err != nil {
		return err
	}
	return client.IgnoreNotFound(env.Client.Delete(ctx, jobObj, client.PropagationPolicy(metav1.DeletePropagationBackground)))
}
