package e2e

// Helpers for the ports of upstream's Job e2e tests (test/e2e/apps/job.go,
// ttl_after_finished.go and test/e2e/framework/job in k8s.io/kubernetes v1.37.2). Unlike
// the kubectl-driven tests of this package, these use a Go client, as upstream does, so
// that they can write pod status (play the kubelet), watch, and patch subresources.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

var (
	upOnce   sync.Once
	upCl     client.WithWatch
	upErr    error
	upScheme = runtime.NewScheme()
)

// upClient is a Go client for the e2e cluster that knows BatchJob and the core types.
func upClient(t *testing.T) client.WithWatch {
	t.Helper()
	upOnce.Do(func() {
		_ = clientgoscheme.AddToScheme(upScheme)
		_ = v1alpha1.AddToScheme(upScheme)
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			upErr = err
			return
		}
		cfg.QPS, cfg.Burst = 200, 400
		upCl, upErr = client.NewWithWatch(cfg, client.Options{Scheme: upScheme})
	})
	if upErr != nil {
		t.Fatalf("client for the e2e cluster: %v", upErr)
	}
	return upCl
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Behaviours of upstream's e2ejob.NewTestJob that the KWOK stages play from annotations.
// Behaviours that depend on the index or on earlier attempts are played by a
// testKubelet instead (behaviour "kubelet").
const (
	bhSucceed      = "succeed"      // exits 0 after a second
	bhFail         = "fail"         // exits 1 after a second
	bhNotTerminate = "notTerminate" // runs for an hour
	bhKubelet      = "kubelet"      // on no KWOK node: a testKubelet drives it
)

// kubeletNode is the nodeName of pods that a testKubelet drives. No such Node exists, so
// neither the scheduler nor KWOK ever touch these pods.
const kubeletNode = "upstream-test-kubelet"

// newTestJob mirrors e2ejob.NewTestJob(behavior, name, rPol, parallelism, completions,
// activeDeadlineSeconds, backoffLimit) for a BatchJob.
func newTestJob(behaviour, name string, rPol corev1.RestartPolicy, parallelism, completions int32, ads *int64, backoffLimit int32) *v1alpha1.BatchJob {
	ann := map[string]string{}
	var nodeName string
	switch behaviour {
	case bhSucceed:
		ann["batchjob.dev/simulate-duration"] = "1s"
	case bhFail:
		ann["batchjob.dev/simulate-duration"] = "1s"
		ann["batchjob.dev/simulate-exit-code"] = "1"
	case bhNotTerminate:
		ann["batchjob.dev/simulate-duration"] = "1h"
	case bhKubelet:
		nodeName = kubeletNode
	default:
		panic("unknown behaviour " + behaviour)
	}
	w := testutil.MakeEmptyBatchJob(name, "").Parallelism(parallelism).Completions(completions).BackoffLimit(backoffLimit).
		Template(&corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"somekey": "somevalue"}, Annotations: ann},
			Spec: corev1.PodSpec{
				RestartPolicy:                 rPol,
				NodeName:                      nodeName,
				TerminationGracePeriodSeconds: ptr.To[int64](30),
				Containers:                    []corev1.Container{{Name: "c", Image: "busybox:1.36"}},
			},
		})
	if ads != nil {
		w.ActiveDeadlineSeconds(*ads)
	}
	return w.Obj()
}

// createJob creates the BatchJob in ns, retrying the apiserver's ServiceUnavailable of a
// freshly installed CRD.
func createJob(t *testing.T, ns string, job *v1alpha1.BatchJob) *v1alpha1.BatchJob {
	t.Helper()
	job.Namespace = ns
	deadline := time.Now().Add(time.Minute)
	for {
		err := upClient(t).Create(ctxFor(t), job)
		if err == nil {
			return job
		}
		if !apierrors.IsServiceUnavailable(err) || time.Now().After(deadline) {
			t.Fatalf("creating BatchJob %s/%s: %v", ns, job.Name, err)
		}
		time.Sleep(time.Second)
	}
}

func getJob(t *testing.T, ns, name string) *v1alpha1.BatchJob {
	t.Helper()
	var j v1alpha1.BatchJob
	if err := upClient(t).Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &j); err != nil {
		t.Fatalf("get BatchJob %s/%s: %v", ns, name, err)
	}
	return &j
}

// updateJob applies mutate to the latest BatchJob and updates it, retrying conflicts.
func updateJob(t *testing.T, ns, name string, mutate func(*v1alpha1.BatchJob)) *v1alpha1.BatchJob {
	t.Helper()
	for i := 0; ; i++ {
		j := getJob(t, ns, name)
		mutate(j)
		err := upClient(t).Update(ctxFor(t), j)
		if err == nil {
			return j
		}
		if !apierrors.IsConflict(err) || i == 10 {
			t.Fatalf("update BatchJob %s/%s: %v", ns, name, err)
		}
	}
}

const jobWait = 2 * time.Minute

// waitForJobState polls the BatchJob until state returns "" (upstream's WaitForJobState).
func waitForJobState(t *testing.T, ns, name string, timeout time.Duration, what string, state func(*v1alpha1.BatchJob) string) *v1alpha1.BatchJob {
	t.Helper()
	var j *v1alpha1.BatchJob
	eventually(t, timeout, what, func() (bool, string) {
		j = getJob(t, ns, name)
		msg := state(j)
		return msg == "", msg + "; status " + statusSummary(j)
	})
	return j
}

func findCondition(j *v1alpha1.BatchJob, ct v1alpha1.JobConditionType) *v1alpha1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == ct {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func isConditionTrue(j *v1alpha1.BatchJob, ct v1alpha1.JobConditionType) bool {
	c := findCondition(j, ct)
	return c != nil && c.Status == corev1.ConditionTrue
}

// waitForJobCondition is upstream's WaitForJobCondition: the condition is True, with the
// reason when one is given.
func waitForJobCondition(t *testing.T, ns, name string, ct v1alpha1.JobConditionType, reason string) *v1alpha1.BatchJob {
	t.Helper()
	return waitForJobState(t, ns, name, jobWait, fmt.Sprintf("condition %s=True reason %q", ct, reason), func(j *v1alpha1.BatchJob) string {
		if c := findCondition(j, ct); c != nil && c.Status == corev1.ConditionTrue && (reason == "" || c.Reason == reason) {
			return ""
		}
		return "condition not there yet"
	})
}

// waitForJobComplete is upstream's WaitForJobComplete: succeeded reaches completions (an
// early Failed condition stops the wait), then Complete with the reason.
func waitForJobComplete(t *testing.T, ns, name, reason string, completions int32) *v1alpha1.BatchJob {
	t.Helper()
	waitForJobState(t, ns, name, jobWait, fmt.Sprintf("%d succeeded pods", completions), func(j *v1alpha1.BatchJob) string {
		if isConditionTrue(j, v1alpha1.JobFailed) {
			t.Fatalf("BatchJob failed while waiting for its completion: %s", statusSummary(j))
		}
		if j.Status.Succeeded == completions {
			return ""
		}
		return "not enough succeeded"
	})
	return waitForJobCondition(t, ns, name, v1alpha1.JobComplete, reason)
}

// waitForJobFailed is upstream's WaitForJobFailed.
func waitForJobFailed(t *testing.T, ns, name string) *v1alpha1.BatchJob {
	t.Helper()
	return waitForJobCondition(t, ns, name, v1alpha1.JobFailed, "")
}

// expectFinalCounts checks active 0, ready 0, terminating 0, as upstream does after a
// BatchJob finished.
func expectFinalCounts(t *testing.T, j *v1alpha1.BatchJob) {
	t.Helper()
	if j.Status.Active != 0 || !ptr.Equal(j.Status.Ready, ptr.To[int32](0)) || !ptr.Equal(j.Status.Terminating, ptr.To[int32](0)) {
		t.Errorf("final status: want active 0, ready 0, terminating 0; got %s", statusSummary(j))
	}
}

func statusSummary(j *v1alpha1.BatchJob) string {
	var conds []string
	for _, c := range j.Status.Conditions {
		conds = append(conds, fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Reason))
	}
	return fmt.Sprintf("active=%d ready=%s terminating=%s succeeded=%d failed=%d completed=%q failedIndexes=%s conditions=%v",
		j.Status.Active, i32(j.Status.Ready), i32(j.Status.Terminating), j.Status.Succeeded, j.Status.Failed,
		j.Status.CompletedIndexes, str(j.Status.FailedIndexes), strings.Join(conds, ","))
}

func i32(p *int32) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func str(p *string) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("%q", *p)
}

// jobPods lists the pods of the BatchJob by its job-name label (upstream's GetJobPods).
func jobPods(t *testing.T, ns, name string) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := upClient(t).List(ctxFor(t), &list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.JobNameLabel: name}); err != nil {
		t.Fatalf("list pods of %s/%s: %v", ns, name, err)
	}
	return list.Items
}

// waitForJobPodsRunning is upstream's WaitForJobPodsRunning: exactly n pods Running.
func waitForJobPodsRunning(t *testing.T, ns, name string, n int) []corev1.Pod {
	t.Helper()
	var running []corev1.Pod
	eventually(t, jobWait, fmt.Sprintf("%d running pods", n), func() (bool, string) {
		running = running[:0]
		for _, p := range jobPods(t, ns, name) {
			if p.Status.Phase == corev1.PodRunning {
				running = append(running, p)
			}
		}
		return len(running) == n, fmt.Sprintf("%d running", len(running))
	})
	return running
}

// waitForAllJobPodsGone is upstream's WaitForAllJobPodsGone.
func waitForAllJobPodsGone(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, jobWait, "all pods gone", func() (bool, string) {
		pods := jobPods(t, ns, name)
		return len(pods) == 0, describePods(pods)
	})
}

// waitForJobGone waits until the BatchJob no longer exists.
func waitForJobGone(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, jobWait, "BatchJob gone", func() (bool, string) {
		err := upClient(t).Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.BatchJob{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

func succeededPods(pods []corev1.Pod) int32 {
	n := int32(0)
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded {
			n++
		}
	}
	return n
}
