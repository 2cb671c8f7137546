package framework

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// JobPods lists the pods controlled by job (ownerReference), sorted by name.
func (e *Env) JobPods(t testing.TB, job *v1alpha1.BatchJob) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := e.Client.List(context.Background(), &list, client.InNamespace(job.Namespace)); err != nil {
		t.Fatalf("Failed to list Job Pods: %v", err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if metav1.IsControlledBy(&p, job) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FilterPods keeps the pods for which keep holds.
func FilterPods(pods []corev1.Pod, keep func(*corev1.Pod) bool) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if keep(&p) {
			out = append(out, p)
		}
	}
	return out
}

// IsActivePhase is upstream's "active" in its helpers: phase Pending or Running.
func IsActivePhase(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodPending || p.Status.Phase == corev1.PodRunning
}

// IsNotTerminal holds for pods not Succeeded nor Failed (terminating ones included).
func IsNotTerminal(p *corev1.Pod) bool { return !jobpod.IsTerminal(p) }

// ActivePods are the pods counted in status.active: neither terminal nor terminating.
func ActivePods(pods []corev1.Pod) []corev1.Pod { return FilterPods(pods, jobpod.IsActive) }

// AllPods keeps every pod (a filter for the index helpers).
func AllPods(*corev1.Pod) bool { return true }

// CompletionIndex reads the completion index from annotations or labels.
func CompletionIndex(m map[string]string) (int, error) {
	v, ok := m[v1alpha1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, fmt.Errorf("key %s not found", v1alpha1.JobCompletionIndexAnnotation)
	}
	return strconv.Atoi(v)
}

// JobPodsForIndex lists the job's pods of index ix for which keep holds.
func (e *Env) JobPodsForIndex(t testing.TB, job *v1alpha1.BatchJob, ix int, keep func(*corev1.Pod) bool) []corev1.Pod {
	t.Helper()
	return FilterPods(e.JobPods(t, job), func(p *corev1.Pod) bool {
		pix, err := CompletionIndex(p.Annotations)
		return err == nil && pix == ix && keep(p)
	})
}

// ActivePodForIndex waits for a non-terminal pod of index ix and returns it.
func (e *Env) ActivePodForIndex(t testing.TB, job *v1alpha1.BatchJob, ix int) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	Eventually(t, fmt.Sprintf("a non-terminal pod of index %d", ix), func() (bool, string) {
		pods := e.JobPodsForIndex(t, job, ix, IsNotTerminal)
		if len(pods) == 0 {
			return false, "none"
		}
		pod = &pods[0]
		return true, ""
	})
	return pod
}

// IndexFailureCount reads the pod's index failure count annotation.
func IndexFailureCount(t testing.TB, p *corev1.Pod) int {
	t.Helper()
	n, err := strconv.Atoi(p.Annotations[v1alpha1.JobIndexFailureCountAnnotation])
	if err != nil {
		t.Fatalf("Pod %s: reading the %s annotation: %v", p.Name, v1alpha1.JobIndexFailureCountAnnotation, err)
	}
	return n
}

// WaitForActivePods waits until the job has exactly n active pods (ActivePods) and
// returns them.
func (e *Env) WaitForActivePods(t testing.TB, job *v1alpha1.BatchJob, n int) []corev1.Pod {
	t.Helper()
	var active []corev1.Pod
	Eventually(t, fmt.Sprintf("%d active pods", n), func() (bool, string) {
		active = ActivePods(e.JobPods(t, job))
		return len(active) == n, fmt.Sprintf("%d active", len(active))
	})
	return active
}

// DeletePods deletes every pod of the namespace (upstream's DeleteCollection).
func (e *Env) DeletePods(t testing.TB, ns string) {
	t.Helper()
	if err := e.Client.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(ns)); err != nil {
		t.Fatalf("Failed to delete Pods: %v", err)
	}
}
