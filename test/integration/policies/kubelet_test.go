package policies

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// Upstream's tests shorten the controller's pod-failure backoff to 100ms. Our base delay
// is the production 10s, so instead the tests play a kubelet that reports failures as
// having happened long ago (backdated finish time): the backoff has then already run out
// and outcomes are the same without waiting. Tests of the delays themselves choose their
// own finish times.
const longAgo = time.Hour

// jobPods lists the pods controlled by job, sorted by name.
func jobPods(t *testing.T, job *v1alpha1.BatchJob) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(job.Namespace)); err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if metav1.IsControlledBy(&p, job) {
			out = append(out, p)
		}
	}
	return sortedByName(out)
}

func filterPods(pods []corev1.Pod, keep func(*corev1.Pod) bool) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if keep(&p) {
			out = append(out, p)
		}
	}
	return out
}

// isActivePhase is upstream's "active" in these helpers: Pending or Running.
func isActivePhase(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodPending || p.Status.Phase == corev1.PodRunning
}

func isNotTerminal(p *corev1.Pod) bool { return !jobpod.IsTerminal(p) }

// backdated returns st as a kubelet would report it for a pod that finished longAgo:
// a Ready=False condition of that time (the finish time used when no container reports
// one), and finishedAt of that time on terminated containers that have none.
func backdated(st corev1.PodStatus) corev1.PodStatus {
	st = *st.DeepCopy()
	if st.Phase != corev1.PodFailed && st.Phase != corev1.PodSucceeded {
		return st
	}
	at := metav1.NewTime(time.Now().Add(-longAgo).Truncate(time.Second))
	if !slices.ContainsFunc(st.Conditions, func(c corev1.PodCondition) bool { return c.Type == corev1.PodReady }) {
		st.Conditions = append(st.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: at})
	}
	for i := range st.ContainerStatuses {
		if term := st.ContainerStatuses[i].State.Terminated; term != nil && term.FinishedAt.IsZero() {
			term.FinishedAt = at
		}
	}
	return st
}

// terminalStatus is what upstream's setJobPodsPhase writes, with finishedAt at.
func terminalStatus(phase corev1.PodPhase, at time.Time) corev1.PodStatus {
	st := corev1.PodStatus{Phase: phase}
	if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
		st.ContainerStatuses = []corev1.ContainerStatus{{
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(at)}},
		}}
	}
	return st
}

// writePodStatus replaces the pod's status (retrying on conflicts).
func writePodStatus(t *testing.T, pod *corev1.Pod, st corev1.PodStatus) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &corev1.Pod{}
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(pod), p); err != nil {
			return err
		}
		p.Status = st
		return k8sClient.Status().Update(context.Background(), p)
	})
	if err != nil {
		t.Fatalf("updating status of pod %s: %v", pod.Name, err)
	}
}

// updateJobPodsStatus applies st to cnt pods of job that are not terminal.
func updateJobPodsStatus(t *testing.T, job *v1alpha1.BatchJob, st corev1.PodStatus, cnt int) {
	t.Helper()
	pods := filterPods(jobPods(t, job), isNotTerminal)
	if len(pods) < cnt {
		t.Fatalf("want %d non-terminal pods to update, found %d", cnt, len(pods))
	}
	for _, p := range pods[:cnt] {
		writePodStatus(t, &p, backdated(st))
	}
}

// setJobPodsPhase is upstream's helper (finish time backdated, see longAgo).
func setJobPodsPhase(t *testing.T, job *v1alpha1.BatchJob, phase corev1.PodPhase, cnt int) {
	t.Helper()
	updateJobPodsStatus(t, job, terminalStatus(phase, time.Now().Add(-longAgo)), cnt)
}

// getActivePodForIndex waits for a non-terminal pod of index ix (upstream reads the
// pods once; the pod of a freshly scaled-up index may need a moment to appear).
func getActivePodForIndex(t *testing.T, job *v1alpha1.BatchJob, ix int) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	poll(t, "a non-terminal pod for index "+strconv.Itoa(ix), func() (bool, string) {
		pods := getJobPodsForIndex(t, job, ix, isNotTerminal)
		if len(pods) == 0 {
			return false, "none"
		}
		pod = &pods[0]
		return true, ""
	})
	return pod
}

func getJobPodsForIndex(t *testing.T, job *v1alpha1.BatchJob, ix int, keep func(*corev1.Pod) bool) []corev1.Pod {
	t.Helper()
	return filterPods(jobPods(t, job), func(p *corev1.Pod) bool {
		return keep(p) && p.Annotations[v1alpha1.JobCompletionIndexAnnotation] == strconv.Itoa(ix)
	})
}

// setJobPhaseForIndex sets phase on the non-terminal pod of index ix (finish backdated).
func setJobPhaseForIndex(t *testing.T, job *v1alpha1.BatchJob, phase corev1.PodPhase, ix int) {
	t.Helper()
	setJobPhaseForIndexAt(t, job, phase, ix, time.Now().Add(-longAgo))
}

// setJobPhaseForIndexAt is setJobPhaseForIndex with the container's finishedAt at.
func setJobPhaseForIndexAt(t *testing.T, job *v1alpha1.BatchJob, phase corev1.PodPhase, ix int, at time.Time) *corev1.Pod {
	t.Helper()
	pod := getActivePodForIndex(t, job, ix)
	writePodStatus(t, pod, terminalStatus(phase, at))
	return pod
}

// indexFailureCount reads the job-index-failure-count annotation.
func indexFailureCount(t *testing.T, p *corev1.Pod) int {
	t.Helper()
	v, ok := p.Annotations[v1alpha1.JobIndexFailureCountAnnotation]
	if !ok {
		t.Fatalf("pod %s has no %s annotation", p.Name, v1alpha1.JobIndexFailureCountAnnotation)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("pod %s: %v", p.Name, err)
	}
	return n
}

// deletePods deletes every pod of the namespace (upstream's DeleteCollection).
func deletePods(t *testing.T, ns string) {
	t.Helper()
	if err := k8sClient.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(ns)); err != nil {
		t.Fatalf("deleting pods: %v", err)
	}
}

// removePodsFinalizers drops the named finalizers from every pod of the namespace.
func removePodsFinalizers(t *testing.T, ns string, names ...string) error {
	var list corev1.PodList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		return err
	}
	for _, pod := range list.Items {
		err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
			p := &corev1.Pod{}
			if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(&pod), p); err != nil {
				return client.IgnoreNotFound(err)
			}
			kept := slices.DeleteFunc(slices.Clone(p.Finalizers), func(f string) bool { return slices.Contains(names, f) })
			if len(kept) == len(p.Finalizers) {
				return nil
			}
			p.Finalizers = kept
			return k8sClient.Update(context.Background(), p)
		})
		if err != nil {
			return fmt.Errorf("pod %s: %w", pod.Name, err)
		}
	}
	return nil
}

// failTerminatingPods sets phase Failed on every pod being deleted.
func failTerminatingPods(t *testing.T, ns string) {
	t.Helper()
	var list corev1.PodList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			st := p.Status
			st.Phase = corev1.PodFailed
			writePodStatus(t, &p, backdated(st))
		}
	}
}

// notReadyLongAgo reports every non-terminal pod of job as Pending with Ready=False since
// longAgo, so that a deleted pod's finish time is old and its replacement is not delayed.
func notReadyLongAgo(t *testing.T, job *v1alpha1.BatchJob) {
	t.Helper()
	at := metav1.NewTime(time.Now().Add(-longAgo))
	for _, p := range filterPods(jobPods(t, job), isNotTerminal) {
		st := p.Status
		st.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: at}}
		writePodStatus(t, &p, st)
	}
}
