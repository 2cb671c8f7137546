package lifecycle

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// manualJob is a job selecting app=<name> with manualSelector.
func manualJob(name, ns string) *testutil.JobWrapper {
	// MakeBatchJob's template label is app=<name>.
	return testutil.MakeBatchJob(name, ns).Parallelism(1).Completions(1).
		ManualSelector(map[string]string{"app": name})
}

// orphanLabels match manualJob(name) and carry the label the pod cache requires.
func orphanLabels(name string) map[string]string {
	return map[string]string{"app": name, v1alpha1.ControllerUIDLabel: "orphan-" + name}
}

// Ownership (upstream ControllerRefManager.ClaimPods): pods matching the selector but controlled by something else (a ReplicaSet,
// a batch/v1 Job) are neither claimed, adopted nor counted, and their tracking
// finalizer stays; the job creates its own pod.
func TestPodsOfOtherControllersAreIgnored(t *testing.T) {
	ns := env.NewNamespace(t, "own-foreign")
	owners := map[string]metav1.OwnerReference{
		"rs-pod":  {APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "rs-uid", Controller: ptr.To(true)},
		"job-pod": {APIVersion: "batch/v1", Kind: "Job", Name: "foreign", UID: "job-uid", Controller: ptr.To(true)},
	}
	for name, ref := range owners {
		p := createPod(t, newPod(ns, name, orphanLabels("foreign"), []string{v1alpha1.JobTrackingFinalizer}, ref))
		env.SetPodPhase(t, p, corev1.PodSucceeded, 0)
		t.Cleanup(func() { removePodFinalizers(t, ns, name) })
	}
	startController(t, ns)
	job := env.CreateJob(t, manualJob("foreign", ns).Obj())
	pods := env.WaitForActivePods(t, job, 1)
	if pods[0].Name == "rs-pod" || pods[0].Name == "job-pod" {
		t.Fatalf("job claimed %s", pods[0].Name)
	}
	keepPodMeta(t, ns, "rs-pod", podMeta{Owners: []string{"ReplicaSet/rs/true"}, Finalizers: []string{v1alpha1.JobTrackingFinalizer}})
	keepPodMeta(t, ns, "job-pod", podMeta{Owners: []string{"Job/foreign/true"}, Finalizers: []string{v1alpha1.JobTrackingFinalizer}})
	if j := env.GetJob(t, job); j.Status.Succeeded != 0 || j.Status.Active != 1 {
		t.Errorf("succeeded %d active %d, want 0 and 1", j.Status.Succeeded, j.Status.Active)
	}
}

// Ownership: an orphan that is itself being deleted is not adopted.
func TestTerminatingOrphanIsNotAdopted(t *testing.T) {
	ns := env.NewNamespace(t, "own-terminating")
	p := createPod(t, newPod(ns, "dying", orphanLabels("dying"), []string{framework.BlockDeletionFinalizer}))
	if err := env.Client.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	startController(t, ns)
	job := env.CreateJob(t, manualJob("dying", ns).Obj())
	pods := env.WaitForActivePods(t, job, 1)
	if pods[0].Name == "dying" {
		t.Fatal("the terminating orphan was adopted")
	}
	keepPodMeta(t, ns, "dying", podMeta{Finalizers: []string{framework.BlockDeletionFinalizer}, Deleting: true})
}

// Ownership and deletion: a job being deleted (foreground) neither adopts a matching orphan nor
// releases its own pod that stopped matching; it creates no pod.
func TestDeletingJobNeitherAdoptsNorReleases(t *testing.T) {
	ns := env.NewNamespace(t, "own-deleting")
	startController(t, ns)
	job := env.CreateJob(t, manualJob("del", ns).Parallelism(2).Completions(2).Obj())
	pods := env.WaitForActivePods(t, job, 2)
	env.DeleteJob(t, job, metav1.DeletePropagationForeground)
	t.Cleanup(func() { removeJobFinalizers(t, job) })
	for _, p := range pods {
		// Deleting: every pod's tracking finalizer goes, ownership stays.
		waitPodMeta(t, ns, p.Name, podMeta{Owners: []string{"BatchJob/del/true"}})
	}
	createPod(t, newPod(ns, "late-orphan", orphanLabels("del"), nil))
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := getPod(t, ns, pods[0].Name)
		p.Labels["app"] = "other"
		return env.Client.Update(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	keepPodMeta(t, ns, "late-orphan", podMeta{})
	keepPodMeta(t, ns, pods[0].Name, podMeta{Owners: []string{"BatchJob/del/true"}})
	if n := len(env.JobPods(t, job)); n != 2 {
		t.Errorf("%d pods, want 2", n)
	}
}

// Appendix A: an orphan whose labels change to match a job's selector triggers a pass
// of that job, which adopts it; a succeeded orphan is counted.
func TestRelabelledOrphanIsAdopted(t *testing.T) {
	ns := env.NewNamespace(t, "own-relabel")
	startController(t, ns)
	job := env.CreateJob(t, manualJob("relabel", ns).Completions(2).Obj())
	env.WaitForActivePods(t, job, 1)
	labels := orphanLabels("relabel")
	labels["app"] = "not-yet"
	p := createPod(t, newPod(ns, "late", labels, nil))
	env.SetPodPhase(t, p, corev1.PodSucceeded, 0)
	keepPodMeta(t, ns, "late", podMeta{})
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := getPod(t, ns, "late")
		p.Labels["app"] = "relabel"
		return env.Client.Update(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	waitPodMeta(t, ns, "late", podMeta{Owners: []string{"BatchJob/relabel/true"}})
	framework.Eventually(t, "adopted pod counted", func() (bool, string) {
		j := env.GetJob(t, job)
		return j.Status.Succeeded == 1 && j.Status.Active == 1, fmt.Sprintf("%+v", j.Status)
	})
}

// Ownership, upstream e2e "should adopt matching orphans and release non-matching pods": a pod
// whose labels are removed no longer matches the generated selector and is released
// (ownerReference and tracking finalizer removed), and a replacement is created. The pod
// cache is filtered on the controller-uid label, so the pod leaves the cache as if deleted;
// the controller must still find and release it.
func TestPodWithLabelsRemovedIsReleased(t *testing.T) {
	ns := env.NewNamespace(t, "own-release")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("release", ns).Parallelism(2).Completions(4).Obj())
	pods := env.WaitForActivePods(t, job, 2)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p := getPod(t, ns, pods[0].Name)
		p.Labels = nil
		return env.Client.Update(ctx, p)
	})
	if err != nil {
		t.Fatal(err)
	}
	waitPodMeta(t, ns, pods[0].Name, podMeta{})
	env.WaitForActivePods(t, job, 2)
}
