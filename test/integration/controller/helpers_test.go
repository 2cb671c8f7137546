package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

const (
	pollInterval = 50 * time.Millisecond
	waitTimeout  = 30 * time.Second
)

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bj-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
	return ns.Name
}

// jobBuilder builds BatchJobs for these tests.
type jobBuilder struct{ job v1alpha1.BatchJob }

func makeJob(name, ns string) *jobBuilder {
	return &jobBuilder{v1alpha1.BatchJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.BatchJobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
			},
		}},
	}}
}

func (b *jobBuilder) completions(n int32) *jobBuilder { b.job.Spec.Completions = ptr.To(n); return b }
func (b *jobBuilder) parallelism(n int32) *jobBuilder { b.job.Spec.Parallelism = ptr.To(n); return b }
func (b *jobBuilder) backoffLimit(n int32) *jobBuilder {
	b.job.Spec.BackoffLimit = ptr.To(n)
	return b
}
func (b *jobBuilder) indexed() *jobBuilder {
	b.job.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	return b
}
func (b *jobBuilder) suspend(s bool) *jobBuilder     { b.job.Spec.Suspend = ptr.To(s); return b }
func (b *jobBuilder) managedBy(s string) *jobBuilder { b.job.Spec.ManagedBy = ptr.To(s); return b }
func (b *jobBuilder) deadline(s int64) *jobBuilder {
	b.job.Spec.ActiveDeadlineSeconds = ptr.To(s)
	return b
}
func (b *jobBuilder) ttl(s int32) *jobBuilder {
	b.job.Spec.TTLSecondsAfterFinished = ptr.To(s)
	return b
}
func (b *jobBuilder) restartPolicy(p corev1.RestartPolicy) *jobBuilder {
	b.job.Spec.Template.Spec.RestartPolicy = p
	return b
}

// create creates the job and returns it as stored.
func (b *jobBuilder) create(t *testing.T) *v1alpha1.BatchJob {
	t.Helper()
	job := b.job.DeepCopy()
	if err := k8sClient.Create(context.Background(), job); err != nil {
		t.Fatalf("creating BatchJob: %v", err)
	}
	return job
}

func getJob(t *testing.T, job *v1alpha1.BatchJob) *v1alpha1.BatchJob {
	t.Helper()
	got := &v1alpha1.BatchJob{}
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(job), got); err != nil {
		t.Fatalf("getting BatchJob: %v", err)
	}
	return got
}

// podsOf lists the pods controlled by job (by ownerReference UID), sorted by name.
func podsOf(t *testing.T, job *v1alpha1.BatchJob) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(job.Namespace)); err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == job.UID {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// activePods are pods that are neither terminal nor terminating.
func activePods(pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

// eventually polls cond until it returns true, failing the test with what it last said.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), pollInterval, waitTimeout, true,
		func(context.Context) (bool, error) {
			ok, msg := cond()
			last = msg
			return ok, nil
		})
	if err != nil {
		t.Fatalf("timed out waiting for %s; last: %s", what, last)
	}
}

// consistently checks cond for d, failing on the first false.
func consistently(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(pollInterval) {
		if ok, msg := cond(); !ok {
			t.Fatalf("%s stopped holding: %s", what, msg)
		}
	}
}

// waitForPods waits until job has exactly n active pods and returns them.
func waitForActive(t *testing.T, job *v1alpha1.BatchJob, n int) []corev1.Pod {
	t.Helper()
	var active []corev1.Pod
	eventually(t, fmt.Sprintf("%d active pods", n), func() (bool, string) {
		active = activePods(podsOf(t, job))
		return len(active) == n, fmt.Sprintf("%d active", len(active))
	})
	return active
}

func hasCondition(job *v1alpha1.BatchJob, ct v1alpha1.JobConditionType, reason string) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == ct && c.Status == corev1.ConditionTrue && (reason == "" || c.Reason == reason) {
			return true
		}
	}
	return false
}

// waitForCondition waits until the job has condition ct=True with reason, and returns it.
func waitForCondition(t *testing.T, job *v1alpha1.BatchJob, ct v1alpha1.JobConditionType, reason string) *v1alpha1.BatchJob {
	t.Helper()
	var got *v1alpha1.BatchJob
	eventually(t, fmt.Sprintf("condition %s=%s", ct, reason), func() (bool, string) {
		got = getJob(t, job)
		return hasCondition(got, ct, reason), fmt.Sprintf("%+v", got.Status)
	})
	return got
}

// setPodPhase plays the kubelet: Running (and Ready), Succeeded or Failed with exitCode,
// container finishedAt = now.
func setPodPhase(t *testing.T, pod *corev1.Pod, phase corev1.PodPhase, exitCode int32) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &corev1.Pod{}
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(pod), p); err != nil {
			return err
		}
		p.Status = podStatus(phase, exitCode, 0)
		return k8sClient.Status().Update(context.Background(), p)
	})
	if err != nil {
		t.Fatalf("setting pod %s to %s: %v", pod.Name, phase, err)
	}
}

func podStatus(phase corev1.PodPhase, exitCode, restarts int32) corev1.PodStatus {
	now := metav1.Now()
	st := corev1.PodStatus{Phase: phase}
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
	st.ContainerStatuses = []corev1.ContainerStatus{cs}
	st.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: now}}
	return st
}

// finishAll marks every active pod of job with phase, repeatedly, until cond holds.
func finishUntil(t *testing.T, job *v1alpha1.BatchJob, phase corev1.PodPhase, cond func(*v1alpha1.BatchJob) bool) *v1alpha1.BatchJob {
	t.Helper()
	var got *v1alpha1.BatchJob
	eventually(t, "job to reach the expected state", func() (bool, string) {
		for _, p := range activePods(podsOf(t, job)) {
			setPodPhase(t, &p, phase, exitCodeFor(phase))
		}
		got = getJob(t, job)
		return cond(got), fmt.Sprintf("%+v", got.Status)
	})
	return got
}

func exitCodeFor(phase corev1.PodPhase) int32 {
	if phase == corev1.PodFailed {
		return 1
	}
	return 0
}

// eventReasons returns the reasons of the events recorded on job, in creation order.
func eventReasons(t *testing.T, job *v1alpha1.BatchJob) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(job.Namespace)); err != nil {
		t.Fatalf("listing events: %v", err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.UID == job.UID {
			n := int32(1)
			if e.Series != nil {
				n = max(n, e.Series.Count)
			}
			for range n {
				out = append(out, e.Reason)
			}
		}
	}
	return out
}

// waitForEvents waits until the events on job include every reason of want (with multiplicity).
func waitForEvents(t *testing.T, job *v1alpha1.BatchJob, want ...string) {
	t.Helper()
	eventually(t, fmt.Sprintf("events %v", want), func() (bool, string) {
		got := eventReasons(t, job)
		left := slices.Clone(got)
		for _, w := range want {
			i := slices.Index(left, w)
			if i < 0 {
				return false, fmt.Sprintf("%v", got)
			}
			left = slices.Delete(left, i, i+1)
		}
		return true, ""
	})
}
