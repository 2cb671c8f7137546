package e2e

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// testKubelet plays the kubelet for the pods of one BatchJob whose template puts them on
// kubeletNode (behaviour bhKubelet). It stands in for upstream's shell fixtures that fail
// "once per index" through marker files on a hostPath: each pod is started (Running and
// Ready), then decide says, from the pod and its attempt number, whether it keeps running
// (run == true) or exits with exitCode. A pod being deleted is stopped after termDelay
// (exit code termExitCode, phase Failed, the apiserver's conditions such as DisruptionTarget
// kept) and removed once it has no finalizers left.
type testKubelet struct {
	ns, job      string
	perIndex     bool // attempts are counted per completion index, else per BatchJob
	termDelay    time.Duration
	termExitCode int32
	decide       func(pod *corev1.Pod, attempt int) (run bool, exitCode int32)

	mu       sync.Mutex
	attempts map[string]int    // index key -> pods started so far
	attempt  map[types.UID]int // pod -> its attempt
	deleting map[types.UID]time.Time
}

// startKubelet runs k until the test ends.
func startKubelet(t *testing.T, k *testKubelet) {
	k.attempts, k.attempt, k.deleting = map[string]int{}, map[types.UID]int{}, map[types.UID]time.Time{}
	if k.termExitCode == 0 {
		k.termExitCode = 137
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	c := upClient(t)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var list corev1.PodList
			if err := c.List(ctx, &list, client.InNamespace(k.ns), client.MatchingLabels{v1alpha1.JobNameLabel: k.job}); err == nil {
				for i := range list.Items {
					if list.Items[i].Spec.NodeName == kubeletNode {
						k.sync(ctx, c, &list.Items[i])
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

// sync moves one pod a step along its life; conflicts are retried on the next tick.
func (k *testKubelet) sync(ctx context.Context, c client.Client, pod *corev1.Pod) {
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	switch {
	case pod.DeletionTimestamp != nil && terminal:
		if len(pod.Finalizers) == 0 {
			_ = c.Delete(ctx, pod, client.GracePeriodSeconds(0))
		}
	case pod.DeletionTimestamp != nil:
		k.mu.Lock()
		since, ok := k.deleting[pod.UID]
		if !ok {
			since = time.Now()
			k.deleting[pod.UID] = since
		}
		k.mu.Unlock()
		if time.Since(since) >= k.termDelay {
			k.finish(ctx, c, pod, k.termExitCode)
		}
	case terminal:
	case pod.Status.Phase != corev1.PodRunning:
		k.start(ctx, c, pod)
	default:
		k.mu.Lock()
		attempt := k.attempt[pod.UID]
		k.mu.Unlock()
		if run, code := k.decide(pod, attempt); !run {
			k.finish(ctx, c, pod, code)
		}
	}
}

func (k *testKubelet) start(ctx context.Context, c client.Client, pod *corev1.Pod) {
	k.mu.Lock()
	if _, ok := k.attempt[pod.UID]; !ok {
		key := ""
		if k.perIndex {
			key = pod.Annotations[v1alpha1.JobCompletionIndexAnnotation]
		}
		k.attempt[pod.UID] = k.attempts[key]
		k.attempts[key]++
	}
	k.mu.Unlock()
	now := metav1.Now()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.StartTime = &now
	setPodCondition(pod, corev1.PodReady, corev1.ConditionTrue, now)
	setPodCondition(pod, corev1.ContainersReady, corev1.ConditionTrue, now)
	pod.Status.ContainerStatuses = nil
	for _, ctr := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: ctr.Name, Image: ctr.Image, Ready: true, Started: ptrTrue(),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	_ = c.Status().Update(ctx, pod)
}

// finish terminates every container with exitCode: phase Succeeded for 0, else Failed.
func (k *testKubelet) finish(ctx context.Context, c client.Client, pod *corev1.Pod, exitCode int32) {
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	reason := "Completed"
	if exitCode != 0 {
		pod.Status.Phase, reason = corev1.PodFailed, "Error"
	}
	setPodCondition(pod, corev1.PodReady, corev1.ConditionFalse, now)
	setPodCondition(pod, corev1.ContainersReady, corev1.ConditionFalse, now)
	for i := range pod.Status.ContainerStatuses {
		cs := &pod.Status.ContainerStatuses[i]
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.Ready, cs.Started = false, new(bool)
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exitCode, Reason: reason, StartedAt: started, FinishedAt: now,
		}}
	}
	// A conflict or a vanished pod is retried (or forgotten) on the next tick.
	_ = c.Status().Update(ctx, pod)
}

func setPodCondition(pod *corev1.Pod, ct corev1.PodConditionType, s corev1.ConditionStatus, now metav1.Time) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == ct {
			if pod.Status.Conditions[i].Status != s {
				pod.Status.Conditions[i].Status, pod.Status.Conditions[i].LastTransitionTime = s, now
			}
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: ct, Status: s, LastTransitionTime: now})
}

func ptrTrue() *bool { b := true; return &b }

// completionIndex is the pod's completion index, -1 if it has none.
func completionIndex(pod *corev1.Pod) int {
	ix, err := strconv.Atoi(pod.Annotations[v1alpha1.JobCompletionIndexAnnotation])
	if err != nil {
		return -1
	}
	return ix
}
