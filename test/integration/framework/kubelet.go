package framework

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// No kubelet runs in envtest: these helpers play it, writing pod status through the
// status subresource as upstream's tests do (job_test.go:4684-4836, 5042-5110).

// PodStatus is what a kubelet reports for a one-container pod ("main") in phase: Running
// is Ready, Succeeded and Failed carry exitCode and finishedAt = now.
func PodStatus(phase corev1.PodPhase, exitCode, restarts int32) corev1.PodStatus {
	now := metav1.Now()
	cs := corev1.ContainerStatus{Name: "main", Image: "busybox", RestartCount: restarts}
	ready := corev1.ConditionFalse
	switch phase {
	case corev1.PodRunning:
		ready = corev1.ConditionTrue
		cs.Ready = true
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: now}
	case corev1.PodSucceeded, corev1.PodFailed:
		cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: exitCode, StartedAt: now, FinishedAt: now}
	}
	return corev1.PodStatus{
		Phase:             phase,
		ContainerStatuses: []corev1.ContainerStatus{cs},
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: now}},
	}
}

// TerminatedNow is the container status upstream's helpers write for finished pods.
func TerminatedNow() []corev1.ContainerStatus {
	return []corev1.ContainerStatus{{State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.Now()},
	}}}
}

// UpdatePodStatus re-reads the pod and applies mutate to its status, retrying on
// conflicts (the controller may have written the pod meanwhile).
func (e *Env) UpdatePodStatus(pod *corev1.Pod, mutate func(*corev1.Pod)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &corev1.Pod{}
		if err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(pod), p); err != nil {
			return err
		}
		mutate(p)
		return e.Client.Status().Update(context.Background(), p)
	})
}

// WritePodStatus replaces the pod's status with st.
func (e *Env) WritePodStatus(t testing.TB, pod *corev1.Pod, st corev1.PodStatus) {
	t.Helper()
	if err := e.UpdatePodStatus(pod, func(p *corev1.Pod) { p.Status = *st.DeepCopy() }); err != nil {
		t.Fatalf("Failed to update the status of pod %s: %v", pod.Name, err)
	}
}

// SetPodPhase writes PodStatus(phase, exitCode, 0) to the pod.
func (e *Env) SetPodPhase(t testing.TB, pod *corev1.Pod, phase corev1.PodPhase, exitCode int32) {
	t.Helper()
	e.WritePodStatus(t, pod, PodStatus(phase, exitCode, 0))
}

// UpdateJobPodsStatus applies op to up to cnt non-terminal pods of the job (op returns
// false to skip a pod), in parallel as upstream does. It returns how many it updated.
func (e *Env) UpdateJobPodsStatus(job *v1alpha1.BatchJob, op func(*corev1.Pod) bool, cnt int) (int, error) {
	var list corev1.PodList
	if err := e.Client.List(context.Background(), &list, client.InNamespace(job.Namespace)); err != nil {
		return 0, fmt.Errorf("listing Job Pods: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	var updates []corev1.Pod
	for _, pod := range list.Items {
		if len(updates) == cnt {
			break
		}
		if metav1.IsControlledBy(&pod, job) && IsNotTerminal(&pod) && op(pod.DeepCopy()) {
			updates = append(updates, pod)
		}
	}
	n, err := e.updatePodStatuses(updates, func(p *corev1.Pod) { op(p) })
	if err == nil && n != cnt {
		err = fmt.Errorf("couldn't update %d Job pods", cnt-n)
	}
	return n, err
}

func (e *Env) updatePodStatuses(pods []corev1.Pod, mutate func(*corev1.Pod)) (int, error) {
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i := range pods {
		wg.Go(func() { errs[i] = e.UpdatePodStatus(&pods[i], mutate) })
	}
	wg.Wait()
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("updating Pod status: %w", err)
	}
	return n, nil
}

// SetJobPodsPhase is upstream's setJobPodsPhase: cnt non-terminal pods get phase (and,
// if it is terminal, a terminated container finished now).
func (e *Env) SetJobPodsPhase(job *v1alpha1.BatchJob, phase corev1.PodPhase, cnt int) (int, error) {
	return e.UpdateJobPodsStatus(job, func(p *corev1.Pod) bool {
		p.Status.Phase = phase
		if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
			p.Status.ContainerStatuses = TerminatedNow()
		}
		return true
	}, cnt)
}

// SetJobPodsReady is upstream's setJobPodsReady: cnt pods not Ready yet become Ready.
func (e *Env) SetJobPodsReady(job *v1alpha1.BatchJob, cnt int) (int, error) {
	return e.UpdateJobPodsStatus(job, func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return false
			}
		}
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
		return true
	}, cnt)
}

// SetJobPhaseForIndex is upstream's setJobPhaseForIndex: the non-terminal pod of index ix
// gets phase. Unlike upstream it waits for that pod: the pod of an index just scaled up
// or replaced may need a moment to appear.
func (e *Env) SetJobPhaseForIndex(t testing.TB, job *v1alpha1.BatchJob, phase corev1.PodPhase, ix int) *corev1.Pod {
	t.Helper()
	pod := e.ActivePodForIndex(t, job, ix)
	err := e.UpdatePodStatus(pod, func(p *corev1.Pod) {
		p.Status.Phase = phase
		if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
			p.Status.ContainerStatuses = TerminatedNow()
		}
	})
	if err != nil {
		t.Fatalf("Failed to set phase %s on the pod of index %d: %v", phase, ix, err)
	}
	return pod
}

// FailTerminatingPods sets phase Failed on every pod of the namespace being deleted.
func (e *Env) FailTerminatingPods(t testing.TB, ns string) {
	t.Helper()
	var list corev1.PodList
	if err := e.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("Failed to list pods: %v", err)
	}
	terminating := slices.DeleteFunc(list.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp == nil })
	if _, err := e.updatePodStatuses(terminating, func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }); err != nil {
		t.Fatalf("Failed to update pod statuses: %v", err)
	}
}

// RemovePodsFinalizers drops the named finalizers from every pod of the namespace.
func (e *Env) RemovePodsFinalizers(ns string, names ...string) error {
	var list corev1.PodList
	if err := e.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		return err
	}
	for _, pod := range list.Items {
		err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
			p := &corev1.Pod{}
			if err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(&pod), p); err != nil {
				return client.IgnoreNotFound(err)
			}
			kept := slices.DeleteFunc(slices.Clone(p.Finalizers), func(f string) bool { return slices.Contains(names, f) })
			if len(kept) == len(p.Finalizers) {
				return nil
			}
			p.Finalizers = kept
			return client.IgnoreNotFound(e.Client.Update(context.Background(), p))
		})
		if err != nil {
			return fmt.Errorf("pod %s: %w", pod.Name, err)
		}
	}
	return nil
}
