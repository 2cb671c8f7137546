package lifecycle

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// Stray finalizers (upstream Controller.cleanupPodFinalizers): the tracking finalizer is stripped from pods no BatchJob will count (no
// controller and no matching job; controller BatchJob missing; controller BatchJob
// re-created under the same name) and kept on pods of other controllers; a finalized
// orphan matching an unfinished job of ours is adopted (documented deviation: upstream
// strips it first and re-adds it on adoption, ending in the same state).
func TestStrayTrackingFinalizers(t *testing.T) {
	ns := env.NewNamespace(t, "orph-stray")
	startController(t, ns)
	live := env.CreateJob(t, manualJob("live", ns).Obj())
	env.WaitForActivePods(t, live, 1)
	fin := []string{v1alpha1.JobTrackingFinalizer}
	stale := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BatchJob", Name: "live",
		UID: "previous-live-uid", Controller: ptr.To(true)}
	missing := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BatchJob", Name: "gone",
		UID: "gone-uid", Controller: ptr.To(true)}
	rs := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "rs-uid", Controller: ptr.To(true)}
	nonController := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BatchJob", Name: "live", UID: live.UID}
	// The adoptable orphan is scheduled, so when its adoption makes the job exceed its
	// parallelism of 1 the job's own unscheduled pod is the one deleted (upstream's
	// ActivePods order), and the adopted pod stays, owned and tracked.
	adoptable := newPod(ns, "adoptable", orphanLabels("live"), fin)
	adoptable.Spec.NodeName = "node-a"
	cases := []struct {
		pod  *corev1.Pod
		want podMeta
	}{
		{newPod(ns, "no-owner", orphanLabels("nobody"), fin), podMeta{}},
		{newPod(ns, "owner-missing", orphanLabels("gone"), fin, missing), podMeta{Owners: []string{"BatchJob/gone/true"}}},
		{newPod(ns, "owner-recreated", orphanLabels("other"), fin, stale), podMeta{Owners: []string{"BatchJob/live/true"}}},
		{newPod(ns, "non-controller-ref", orphanLabels("nobody"), fin, nonController), podMeta{Owners: []string{"BatchJob/live/false"}}},
		{newPod(ns, "replicaset", orphanLabels("nobody"), fin, rs), podMeta{Owners: []string{"ReplicaSet/rs/true"}, Finalizers: fin}},
		{adoptable, podMeta{Owners: []string{"BatchJob/live/true"}, Finalizers: fin}},
	}
	for _, c := range cases {
		p := createPod(t, c.pod)
		t.Cleanup(func() { removePodFinalizers(t, ns, p.Name) })
	}
	for _, c := range cases {
		waitPodMeta(t, ns, c.pod.Name, c.want)
	}
	for _, c := range cases {
		keepPodMeta(t, ns, c.pod.Name, c.want)
	}
}

// Stray finalizers: pods of a finished BatchJob lose the tracking finalizer without being counted,
// whether it owns them or they are orphans matching its selector (a finished job adopts
// nothing).
func TestFinishedJobPodsLoseFinalizer(t *testing.T) {
	ns := env.NewNamespace(t, "orph-finished")
	startController(t, ns)
	job := env.CreateJob(t, manualJob("fin", ns).Obj())
	env.WaitForActivePods(t, job, 1)
	finished := finishJob(t, job, corev1.PodSucceeded, v1alpha1.JobComplete)
	fin := []string{v1alpha1.JobTrackingFinalizer}
	owned := createPod(t, newPod(ns, "late-owned", orphanLabels("fin"), fin, jobRef(finished)))
	env.SetPodPhase(t, owned, corev1.PodSucceeded, 0)
	createPod(t, newPod(ns, "late-orphan", orphanLabels("fin"), fin))
	waitPodMeta(t, ns, "late-owned", podMeta{Owners: []string{"BatchJob/fin/true"}})
	waitPodMeta(t, ns, "late-orphan", podMeta{})
	keepPodMeta(t, ns, "late-orphan", podMeta{})
	got := env.GetJob(t, job)
	if got.Status.Succeeded != 1 || got.Status.Failed != 0 || got.Status.Active != 0 {
		t.Errorf("succeeded %d failed %d active %d, want 1, 0, 0", got.Status.Succeeded, got.Status.Failed, got.Status.Active)
	}
}

// Stray finalizers and managedBy: pods of a job managed by another controller keep the tracking finalizer
// while the job exists; once the job is deleted nothing will count them, so it is
// stripped (upstream: the owner cannot be resolved, Controller.resolveControllerRef).
func TestForeignJobPodsReleasedWhenJobDeleted(t *testing.T) {
	ns := env.NewNamespace(t, "orph-foreign")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("foreign", ns).ManagedBy("example.com/other").Obj())
	labels := map[string]string{v1alpha1.ControllerUIDLabel: string(job.UID)}
	p := createPod(t, newPod(ns, "foreign-pod", labels, []string{v1alpha1.JobTrackingFinalizer}, jobRef(job)))
	env.SetPodPhase(t, p, corev1.PodSucceeded, 0)
	keepPodMeta(t, ns, p.Name, podMeta{Owners: []string{"BatchJob/foreign/true"}, Finalizers: []string{v1alpha1.JobTrackingFinalizer}})
	env.DeleteJob(t, job, metav1.DeletePropagationBackground)
	waitPodMeta(t, ns, p.Name, podMeta{Owners: []string{"BatchJob/foreign/true"}})
}

// Deletion and stray finalizers: a job deleted in the background vanishes at once (no finalizer holds it);
// its pods lose the tracking finalizer so the garbage collector can delete them, and
// the controller deletes none itself.
func TestBackgroundDeletionStripsFinalizers(t *testing.T) {
	ns := env.NewNamespace(t, "orph-background")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("bg", ns).Parallelism(2).Completions(2).Obj())
	pods := env.WaitForActivePods(t, job, 2)
	env.DeleteJob(t, job, metav1.DeletePropagationBackground)
	framework.Eventually(t, "job gone", func() (bool, string) {
		j := jobState(t, job)
		return j == nil, fmt.Sprintf("%v", j)
	})
	for _, p := range pods {
		waitPodMeta(t, ns, p.Name, podMeta{Owners: []string{"BatchJob/bg/true"}})
		keepPodMeta(t, ns, p.Name, podMeta{Owners: []string{"BatchJob/bg/true"}})
	}
}
