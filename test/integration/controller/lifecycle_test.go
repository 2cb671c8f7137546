package controller

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

func TestSuspendAndResume(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("suspend", ns).Parallelism(2).Completions(4).Suspend(true).Obj())
	got := env.WaitForCondition(t, job, v1alpha1.JobSuspended, v1alpha1.ReasonJobSuspended)
	if got.Status.StartTime != nil {
		t.Errorf("suspended job has startTime %v", got.Status.StartTime)
	}
	env.WaitForEvents(t, job, "Suspended")

	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(false) })
	pods := env.WaitForActivePods(t, job, 2)
	framework.Eventually(t, "Suspended=False JobResumed and startTime", func() (bool, string) {
		j := env.GetJob(t, job)
		for _, c := range j.Status.Conditions {
			if c.Type == v1alpha1.JobSuspended && c.Status == corev1.ConditionFalse && c.Reason == v1alpha1.ReasonJobResumed {
				return j.Status.StartTime != nil, "no startTime"
			}
		}
		return false, fmt.Sprintf("%+v", j.Status.Conditions)
	})
	env.WaitForEvents(t, job, "Resumed")
	env.SetPodPhase(t, &pods[0], corev1.PodRunning, 0)

	// Suspending again deletes the active pods without counting them.
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) })
	env.WaitForCondition(t, job, v1alpha1.JobSuspended, v1alpha1.ReasonJobSuspended)
	framework.Eventually(t, "pods deleted and nothing counted", func() (bool, string) {
		j := env.GetJob(t, job)
		return len(framework.ActivePods(env.JobPods(t, job))) == 0 && j.Status.Active == 0,
			fmt.Sprintf("%d active pods, status %+v", len(framework.ActivePods(env.JobPods(t, job))), j.Status)
	})
	if j := env.GetJob(t, job); j.Status.Failed != 0 || j.Status.StartTime != nil {
		t.Errorf("after suspend: failed %d startTime %v, want 0 and nil", j.Status.Failed, j.Status.StartTime)
	}
}

// A finished job with ttlSecondsAfterFinished is deleted in the foreground; with no garbage
// collector in envtest, the request shows as a deletionTimestamp and the foreground
// finalizer (or, if nothing holds it, the object is gone).
func TestTTLDeletesFinishedJob(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("ttl", ns).TTLSecondsAfterFinished(1).Obj())
	finishUntil(t, job, corev1.PodSucceeded, func(j *v1alpha1.BatchJob) bool {
		return framework.HasCondition(j, v1alpha1.JobComplete, "")
	})
	finished := time.Now()
	framework.Eventually(t, "deletion requested", func() (bool, string) {
		j := &v1alpha1.BatchJob{}
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(job), j)
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return j.DeletionTimestamp != nil && slices.Contains(j.Finalizers, metav1.FinalizerDeleteDependents),
			fmt.Sprintf("deletionTimestamp %v finalizers %v", j.DeletionTimestamp, j.Finalizers)
	})
	if d := time.Since(finished); d > 5*time.Second {
		t.Errorf("deleted %v after finishing with a 1s TTL", d)
	}
}

// An orphan pod matching a manualSelector is adopted (ownerRef and finalizer) and fills
// parallelism; once its labels stop matching it is released (ownerRef and finalizer
// removed) and replaced.
func TestAdoptionAndRelease(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	labels := map[string]string{"app": "adopt", v1alpha1.ControllerUIDLabel: "adopt-orphan"}
	orphan := testutil.MakeBarePod("orphan", ns).WithLabels(labels).Obj()
	if err := env.Client.Create(context.Background(), orphan); err != nil {
		t.Fatal(err)
	}
	job := env.CreateJob(t, testutil.MakeBatchJob("adopt", ns).
		ManualSelector(map[string]string{"app": "adopt"}).
		TemplateLabel(v1alpha1.ControllerUIDLabel, labels[v1alpha1.ControllerUIDLabel]).Obj())
	framework.Eventually(t, "adoption", func() (bool, string) {
		p := &corev1.Pod{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(orphan), p); err != nil {
			return false, err.Error()
		}
		ref := metav1.GetControllerOf(p)
		return ref != nil && ref.UID == job.UID && slices.Contains(p.Finalizers, v1alpha1.JobTrackingFinalizer),
			fmt.Sprintf("owners %v finalizers %v", p.OwnerReferences, p.Finalizers)
	})
	framework.Consistently(t, time.Second, "adopted pod is the only pod", func() (bool, string) {
		pods := env.JobPods(t, job)
		return len(pods) == 1 && pods[0].Name == "orphan", fmt.Sprintf("%d pods", len(pods))
	})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := &corev1.Pod{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(orphan), p); err != nil {
			return err
		}
		p.Labels["app"] = "something-else"
		return env.Client.Update(context.Background(), p)
	})
	if err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "release and replacement", func() (bool, string) {
		p := &corev1.Pod{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(orphan), p); err != nil {
			return false, err.Error()
		}
		active := framework.ActivePods(env.JobPods(t, job))
		return len(p.OwnerReferences) == 0 && len(p.Finalizers) == 0 && len(active) == 1 && active[0].Name != "orphan",
			fmt.Sprintf("owners %v finalizers %v, %d active", p.OwnerReferences, p.Finalizers, len(active))
	})
	if j := env.GetJob(t, job); j.Status.Failed != 0 || j.Status.Succeeded != 0 {
		t.Errorf("release counted the pod: failed %d succeeded %d", j.Status.Failed, j.Status.Succeeded)
	}
}

// A BatchJob managed by another controller is left alone: no pods, no status, and the
// finalizer on a pod it owns stays.
func TestForeignManagedByIsIgnored(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("foreign", ns).ManagedBy("example.com/other").Parallelism(2).Obj())
	pod := testutil.MakeEmptyPod("foreign-pod", ns).Finalizer(v1alpha1.JobTrackingFinalizer).
		Label(v1alpha1.ControllerUIDLabel, string(job.UID)).
		Owners(metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BatchJob",
			Name: job.Name, UID: job.UID, Controller: ptr.To(true)}).
		PodSpec(&job.Spec.Template.Spec).Obj()
	if err := env.Client.Create(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	env.SetPodPhase(t, pod, corev1.PodSucceeded, 0)
	// A job of ours created afterwards proves the controller is running meanwhile.
	ours := env.CreateJob(t, testutil.MakeBatchJob("ours", ns).Obj())
	finishUntil(t, ours, corev1.PodSucceeded, func(j *v1alpha1.BatchJob) bool { return framework.HasCondition(j, v1alpha1.JobComplete, "") })
	framework.Consistently(t, 2*time.Second, "foreign job untouched", func() (bool, string) {
		j := env.GetJob(t, job)
		p := &corev1.Pod{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(pod), p); err != nil {
			return false, err.Error()
		}
		empty := j.Spec.Selector == nil && len(j.Status.Conditions) == 0 && j.Status.StartTime == nil &&
			j.Status.Ready == nil && j.Status.UncountedTerminatedPods == nil && j.Status.State == ""
		return empty && len(env.JobPods(t, job)) == 1 && slices.Contains(p.Finalizers, v1alpha1.JobTrackingFinalizer),
			fmt.Sprintf("status %+v selector %v finalizers %v", j.Status, j.Spec.Selector, p.Finalizers)
	})
	// Let the namespace go.
	if err := env.Client.Patch(context.Background(), pod, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`))); err != nil {
		t.Fatal(err)
	}
}

// Deleting a job whose pods still run strips their tracking finalizers, so nothing stays
// stuck once the garbage collector (absent here) deletes them.
func TestDeletedJobReleasesPodFinalizers(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("deleted", ns).Parallelism(2).Completions(2).Obj())
	pods := env.WaitForActivePods(t, job, 2)
	if err := env.Client.Delete(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, "finalizers stripped", func() (bool, string) {
		for _, p := range pods {
			got := &corev1.Pod{}
			if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(&p), got); err != nil {
				return false, err.Error()
			}
			if slices.Contains(got.Finalizers, v1alpha1.JobTrackingFinalizer) {
				return false, "pod " + p.Name + " still has the finalizer"
			}
		}
		return true, ""
	})
}

// The controller stopped mid-job and started again finishes with exact counts: pods that
// finished while it was down are counted once, and no extra pod is created.
func TestControllerRestartMidJob(t *testing.T) {
	ns := env.NewNamespace(t, "bj")
	job := env.CreateJob(t, testutil.MakeBatchJob("restart", ns).Completions(4).Parallelism(2).Obj())
	pods := env.WaitForActivePods(t, job, 2)
	env.SetPodPhase(t, &pods[0], corev1.PodSucceeded, 0)
	framework.Eventually(t, "first success counted", func() (bool, string) {
		j := env.GetJob(t, job)
		return j.Status.Succeeded == 1 && len(framework.ActivePods(env.JobPods(t, job))) == 2, fmt.Sprintf("%+v", j.Status)
	})
	env.StopShared()
	for _, p := range framework.ActivePods(env.JobPods(t, job)) {
		env.SetPodPhase(t, &p, corev1.PodSucceeded, 0)
	}
	env.ResumeShared(t)
	got := finishUntil(t, job, corev1.PodSucceeded, func(j *v1alpha1.BatchJob) bool {
		return framework.HasCondition(j, v1alpha1.JobComplete, "")
	})
	if got.Status.Succeeded != 4 || got.Status.Failed != 0 {
		t.Errorf("succeeded %d failed %d, want 4 and 0", got.Status.Succeeded, got.Status.Failed)
	}
	if n := len(env.JobPods(t, job)); n != 4 {
		t.Errorf("%d pods, want 4", n)
	}
}
