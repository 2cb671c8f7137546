package kueue

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueueapi "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/kueue"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// queue is a ResourceFlavor, a ClusterQueue with cpu quota in it (preempting lower
// priorities within the queue) and a LocalQueue in the test's namespace, all named after
// the test; removed at cleanup.
type queue struct {
	flavor, cq, lq string
	ns             string
}

var flavorLabels = map[string]string{"example.com/pool": "batch"}

var flavorToleration = corev1.Toleration{Key: "example.com/batch", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}

func newQueue(t *testing.T, cpu string) queue {
	t.Helper()
	ctx := context.Background()
	ns := env.NewNamespace(t, "kueue")
	q := queue{flavor: ns + "-flavor", cq: ns + "-cq", lq: "queue", ns: ns}
	rf := &kueueapi.ResourceFlavor{
		ObjectMeta: metav1.ObjectMeta{Name: q.flavor},
		Spec:       kueueapi.ResourceFlavorSpec{NodeLabels: flavorLabels, Tolerations: []corev1.Toleration{flavorToleration}},
	}
	cq := &kueueapi.ClusterQueue{
		ObjectMeta: metav1.ObjectMeta{Name: q.cq},
		Spec: kueueapi.ClusterQueueSpec{
			NamespaceSelector: &metav1.LabelSelector{},
			Preemption:        &kueueapi.ClusterQueuePreemption{WithinClusterQueue: kueueapi.PreemptionPolicyLowerPriority},
			ResourceGroups: []kueueapi.ResourceGroup{{
				CoveredResources: []corev1.ResourceName{corev1.ResourceCPU},
				Flavors: []kueueapi.FlavorQuotas{{
					Name:      kueueapi.ResourceFlavorReference(q.flavor),
					Resources: []kueueapi.ResourceQuota{{Name: corev1.ResourceCPU, NominalQuota: resource.MustParse(cpu)}},
				}},
			}},
		},
	}
	lq := &kueueapi.LocalQueue{
		ObjectMeta: metav1.ObjectMeta{Name: q.lq, Namespace: ns},
		Spec:       kueueapi.LocalQueueSpec{ClusterQueue: kueueapi.ClusterQueueReference(q.cq)},
	}
	for _, o := range []client.Object{rf, cq, lq} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("Creating %T %s: %v", o, o.GetName(), err)
		}
	}
	t.Cleanup(func() {
		for _, o := range []client.Object{lq, cq, rf} {
			_ = env.Client.Delete(ctx, o)
		}
	})
	return q
}

func newPriorityClass(t *testing.T, name string, value int32) string {
	t.Helper()
	wpc := &kueueapi.WorkloadPriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
	if err := env.Client.Create(context.Background(), wpc); err != nil {
		t.Fatalf("Creating WorkloadPriorityClass: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), wpc) })
	return name
}

// queuedJob is a BatchJob in q's LocalQueue whose pods request cpu each; it is not created
// suspended: the admission policy does that.
func queuedJob(q queue, name string, parallelism, completions int32, cpu string) *testutil.JobWrapper {
	w := testutil.MakeBatchJob(name, q.ns).Parallelism(parallelism).Completions(completions).
		Label(kueue.QueueNameLabel, q.lq).TemplateLabel("app", name)
	w.Spec.Suspend = nil
	w.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/os": "linux"}
	for i := range w.Spec.Template.Spec.Containers {
		w.Spec.Template.Spec.Containers[i].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	return w
}

func workloadOf(t *testing.T, job *v1alpha1.BatchJob) *kueueapi.Workload {
	t.Helper()
	wl := &kueueapi.Workload{}
	key := types.NamespacedName{Namespace: job.Namespace, Name: kueue.WorkloadName(job)}
	if name := kueue.PrebuiltWorkload(job); name != "" {
		key.Name = name
	}
	if err := env.Client.Get(context.Background(), key, wl); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		t.Fatalf("Reading Workload: %v", err)
	}
	return wl
}

func wlCond(wl *kueueapi.Workload, c string) bool {
	return wl != nil && apimeta.IsStatusConditionTrue(wl.Status.Conditions, c)
}

func conds(wl *kueueapi.Workload) string {
	if wl == nil {
		return "no Workload"
	}
	s := ""
	for _, c := range wl.Status.Conditions {
		s += fmt.Sprintf("%s=%s(%s) ", c.Type, c.Status, c.Reason)
	}
	return s
}

// waitQueued waits until the job has a Workload that is pending (no quota reserved) and
// checks the job stays suspended without pods for a moment.
func waitQueued(t *testing.T, job *v1alpha1.BatchJob) {
	t.Helper()
	framework.Eventually(t, "a pending Workload", func() (bool, string) {
		wl := workloadOf(t, job)
		return wl != nil && apimeta.IsStatusConditionFalse(wl.Status.Conditions, kueueapi.WorkloadQuotaReserved), conds(wl)
	})
	framework.Consistently(t, 2*time.Second, "the queued job waiting", func() (bool, string) {
		j := env.GetJob(t, job)
		pods := framework.ActivePods(env.JobPods(t, j))
		return ptr.Deref(j.Spec.Suspend, false) && len(pods) == 0, fmt.Sprintf("suspend=%v, %d active pods", ptr.Deref(j.Spec.Suspend, false), len(pods))
	})
}

// waitRunning waits until the job is resumed with the flavor applied and has n active pods
// carrying the flavor's node selector, toleration and the pod-set label.
func waitRunning(t *testing.T, job *v1alpha1.BatchJob, n int) []corev1.Pod {
	t.Helper()
	framework.Eventually(t, "the admitted job running", func() (bool, string) {
		j := env.GetJob(t, job)
		return !ptr.Deref(j.Spec.Suspend, true), fmt.Sprintf("suspend=%v", ptr.Deref(j.Spec.Suspend, true))
	})
	pods := env.WaitForActivePods(t, job, n)
	for _, p := range pods {
		for k, v := range flavorLabels {
			if p.Spec.NodeSelector[k] != v {
				t.Errorf("Pod %s: nodeSelector %v lacks the flavor's %s=%s", p.Name, p.Spec.NodeSelector, k, v)
			}
		}
		if p.Spec.NodeSelector["kubernetes.io/os"] != "linux" {
			t.Errorf("Pod %s: nodeSelector %v lost the job's own kubernetes.io/os=linux", p.Name, p.Spec.NodeSelector)
		}
		found := false
		for _, tol := range p.Spec.Tolerations {
			found = found || tol == flavorToleration
		}
		if !found {
			t.Errorf("Pod %s: tolerations %v lack the flavor's", p.Name, p.Spec.Tolerations)
		}
		if p.Labels[kueue.PodSetLabel] != "main" {
			t.Errorf("Pod %s: label %s=%q, want main", p.Name, kueue.PodSetLabel, p.Labels[kueue.PodSetLabel])
		}
	}
	return pods
}

// succeed plays the kubelet: n active pods of the job succeed.
func succeed(t *testing.T, job *v1alpha1.BatchJob, n int) {
	t.Helper()
	if _, err := env.SetJobPodsPhase(job, corev1.PodSucceeded, n); err != nil {
		t.Fatalf("Setting pods Succeeded: %v", err)
	}
}

// waitFinished waits for the job's Complete condition with exactly succeeded successes and
// no failures, and for its Workload to be Finished (quota released) without Kueue's
// finalizer.
func waitFinished(t *testing.T, job *v1alpha1.BatchJob, succeeded int32) {
	t.Helper()
	j := env.WaitForCondition(t, job, v1alpha1.JobComplete, "")
	if j.Status.Succeeded != succeeded || j.Status.Failed != 0 {
		t.Errorf("Job %s finished with succeeded=%d failed=%d, want %d and 0", job.Name, j.Status.Succeeded, j.Status.Failed, succeeded)
	}
	framework.Eventually(t, "the Workload Finished", func() (bool, string) {
		wl := workloadOf(t, job)
		return wlCond(wl, kueueapi.WorkloadFinished) && len(wl.Finalizers) == 0, conds(wl)
	})
	wl := workloadOf(t, job)
	if c := apimeta.FindStatusCondition(wl.Status.Conditions, kueueapi.WorkloadFinished); c.Reason != kueueapi.WorkloadFinishedReasonSucceeded {
		t.Errorf("Workload Finished reason %q, want %q", c.Reason, kueueapi.WorkloadFinishedReasonSucceeded)
	}
}

func setQuota(t *testing.T, q queue, cpu string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cq := &kueueapi.ClusterQueue{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: q.cq}, cq); err != nil {
			return err
		}
		cq.Spec.ResourceGroups[0].Flavors[0].Resources[0].NominalQuota = resource.MustParse(cpu)
		return env.Client.Update(context.Background(), cq)
	})
	if err != nil {
		t.Fatalf("Raising the quota: %v", err)
	}
}

// A queued job is created suspended, gets a Workload with one pod set (count =
// parallelism, the template), waits while the queue has no quota, and runs with the
// flavor's scheduling directives once quota frees; when it completes its Workload is
// Finished.
func TestWaitsForQuota(t *testing.T) {
	requireKueue(t)
	q := newQueue(t, "0")
	job := env.CreateJob(t, queuedJob(q, "waits", 2, 4, "1").Obj())
	if !ptr.Deref(job.Spec.Suspend, false) {
		t.Fatalf("The queued job was created with suspend=%v, want true (config/kueue/admission.yaml)", job.Spec.Suspend)
	}
	waitQueued(t, job)
	wl := workloadOf(t, job)
	if len(wl.Spec.PodSets) != 1 || wl.Spec.PodSets[0].Count != 2 || wl.Spec.PodSets[0].MinCount != nil {
		t.Errorf("Workload pod sets %+v, want one of count 2 without minCount", wl.Spec.PodSets)
	}
	if string(wl.Spec.QueueName) != q.lq || !metav1.IsControlledBy(wl, job) {
		t.Errorf("Workload queue %q controlled by job: %v", wl.Spec.QueueName, metav1.IsControlledBy(wl, job))
	}

	setQuota(t, q, "2")
	waitRunning(t, job, 2)
	succeed(t, job, 2)
	waitRunning(t, job, 2)
	succeed(t, job, 2)
	waitFinished(t, job, 4)
}

// Two jobs compete for quota for one: the second waits until the first finishes.
func TestJobsCompete(t *testing.T) {
	requireKueue(t)
	q := newQueue(t, "2")
	first := env.CreateJob(t, queuedJob(q, "first", 2, 2, "1").Obj())
	waitRunning(t, first, 2)
	second := env.CreateJob(t, queuedJob(q, "second", 2, 2, "1").Obj())
	waitQueued(t, second)

	succeed(t, first, 2)
	waitFinished(t, first, 2)
	waitRunning(t, second, 2)
	succeed(t, second, 2)
	waitFinished(t, second, 2)
}

// A higher-priority job preempts a running one: the preempted job is suspended, its pods
// are removed and its template restored; it resumes when the quota frees and completes
// with exact counts, the successes before the preemption kept.
func TestPreemption(t *testing.T) {
	requireKueue(t)
	q := newQueue(t, "2")
	low := newPriorityClass(t, q.ns+"-low", 100)
	high := newPriorityClass(t, q.ns+"-high", 1000)

	lowJob := env.CreateJob(t, queuedJob(q, "low", 2, 4, "1").Label(kueue.PriorityClassLabel, low).Obj())
	original := env.GetJob(t, lowJob).Spec.Template
	waitRunning(t, lowJob, 2)
	if wl := workloadOf(t, lowJob); ptr.Deref(wl.Spec.Priority, 0) != 100 || wl.Spec.PriorityClassRef == nil || wl.Spec.PriorityClassRef.Name != low {
		t.Errorf("Workload priority %v, class %+v; want 100 from %s", wl.Spec.Priority, wl.Spec.PriorityClassRef, low)
	}
	succeed(t, lowJob, 1)
	env.ValidateJobsPodsStatusOnly(t, lowJob, framework.PodsByStatus{Active: 2, Succeeded: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	preempted := framework.ActivePods(env.JobPods(t, lowJob))

	highJob := env.CreateJob(t, queuedJob(q, "high", 2, 2, "1").Label(kueue.PriorityClassLabel, high).Obj())

	// The low job is stopped: suspended, its pods removed, the template as it was.
	framework.Eventually(t, "the preempted job stopped and restored", func() (bool, string) {
		j := env.GetJob(t, lowJob)
		active := framework.ActivePods(env.JobPods(t, j))
		restored := maps.Equal(j.Spec.Template.Spec.NodeSelector, original.Spec.NodeSelector) &&
			len(j.Spec.Template.Spec.Tolerations) == 0 && j.Spec.Template.Labels[kueue.PodSetLabel] == "" &&
			j.Annotations[kueue.StoppingAnnotation] == ""
		return ptr.Deref(j.Spec.Suspend, false) && len(active) == 0 && restored,
			fmt.Sprintf("suspend=%v active=%d nodeSelector=%v tolerations=%v", ptr.Deref(j.Spec.Suspend, false), len(active),
				j.Spec.Template.Spec.NodeSelector, j.Spec.Template.Spec.Tolerations)
	})
	for _, p := range preempted {
		got := &corev1.Pod{}
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(&p), got)
		if err == nil && got.DeletionTimestamp == nil {
			t.Errorf("Preempted pod %s was not deleted", p.Name)
		}
	}
	framework.Eventually(t, "the preempted Workload requeued", func() (bool, string) {
		wl := workloadOf(t, lowJob)
		return wl != nil && wl.Status.Admission == nil && apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueueapi.WorkloadRequeued) ||
			wlCond(wl, kueueapi.WorkloadQuotaReserved) && !wlCond(wl, kueueapi.WorkloadEvicted), conds(wl)
	})

	waitRunning(t, highJob, 2)
	succeed(t, highJob, 2)
	waitFinished(t, highJob, 2)

	// The low job resumes for its remaining 3 completions.
	waitRunning(t, lowJob, 2)
	succeed(t, lowJob, 2)
	waitRunning(t, lowJob, 1)
	succeed(t, lowJob, 1)
	waitFinished(t, lowJob, 4)
}

// A job that allows partial admission (kueue.x-k8s.io/job-min-parallelism) runs with the
// parallelism Kueue admits when the queue has room for fewer pods, and completes.
func TestPartialAdmission(t *testing.T) {
	requireKueue(t)
	q := newQueue(t, "2")
	w := queuedJob(q, "partial", 4, 4, "1")
	w.Annotations = map[string]string{kueue.MinParallelismAnnotation: "1"}
	job := env.CreateJob(t, w.Obj())
	framework.Eventually(t, "the Workload with a minimum count", func() (bool, string) {
		wl := workloadOf(t, job)
		return wl != nil && ptr.Deref(wl.Spec.PodSets[0].MinCount, 0) == 1 && wl.Spec.PodSets[0].Count == 4, conds(wl)
	})
	waitRunning(t, job, 2)
	if got := env.GetJob(t, job); ptr.Deref(got.Spec.Parallelism, 0) != 2 {
		t.Errorf("admitted parallelism %v, want 2", got.Spec.Parallelism)
	}
	succeed(t, job, 2)
	waitRunning(t, job, 2)
	succeed(t, job, 2)
	waitFinished(t, job, 4)
}

// Deleting a queued job releases its Workload: Kueue's finalizer is removed, so that the
// garbage collector (not running in envtest) can delete it.
func TestDeletionReleasesWorkload(t *testing.T) {
	requireKueue(t)
	q := newQueue(t, "2")
	job := env.CreateJob(t, queuedJob(q, "deleted", 2, 2, "1").Obj())
	waitRunning(t, job, 2)
	env.DeleteJob(t, job, metav1.DeletePropagationBackground)
	framework.Eventually(t, "the Workload without Kueue's finalizer", func() (bool, string) {
		wl := workloadOf(t, job)
		if wl == nil {
			return true, "gone"
		}
		return len(wl.Finalizers) == 0, fmt.Sprintf("finalizers %v", wl.Finalizers)
	})
}

// Setting the priority-class label on a queued job gives its Workload that priority.
func TestPriorityLabelChange(t *testing.T) {
	requireKueue(t)
	q := newQueue(t, "0")
	high := newPriorityClass(t, q.ns+"-high", 1000)
	job := env.CreateJob(t, queuedJob(q, "relabelled", 1, 1, "1").Obj())
	waitQueued(t, job)
	env.MustUpdateJob(t, job, func(j *v1alpha1.BatchJob) { j.Labels[kueue.PriorityClassLabel] = high })
	framework.Eventually(t, "the Workload's priority from the new label", func() (bool, string) {
		wl := workloadOf(t, job)
		return ptr.Deref(wl.Spec.Priority, 0) == 1000 && wl.Spec.PriorityClassRef != nil && wl.Spec.PriorityClassRef.Name == high,
			fmt.Sprintf("priority %v class %+v", wl.Spec.Priority, wl.Spec.PriorityClassRef)
	})
}

// prebuiltWorkload is the Workload MultiKueue creates on a worker cluster for a job it is
// about to copy there: named by the job's prebuilt-workload label, in the job's queue, no
// owner yet, with the pod sets of job (whose count may be overridden).
func prebuiltWorkload(q queue, name string, job *v1alpha1.BatchJob, count int32) *kueueapi.Workload {
	podSets := kueue.PodSets(job)
	podSets[0].Count = count
	return &kueueapi.Workload{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: q.ns, Finalizers: []string{kueueapi.ResourceInUseFinalizerName}},
		Spec:       kueueapi.WorkloadSpec{QueueName: kueueapi.LocalQueueName(q.lq), PodSets: podSets},
	}
}

// A job labelled with a prebuilt Workload's name (MultiKueue's copy on a worker) waits for
// that Workload instead of creating its own, adopts it when it appears, runs when Kueue
// admits it, and finishes it.
func TestPrebuiltWorkload(t *testing.T) {
	requireKueue(t)
	q := newQueue(t, "2")
	w := queuedJob(q, "prebuilt", 2, 2, "1").Label(kueue.PrebuiltWorkloadLabel, "prebuilt-wl")
	job := env.CreateJob(t, w.Obj())
	framework.Consistently(t, 2*time.Second, "the job waiting for its prebuilt Workload", func() (bool, string) {
		own := &kueueapi.Workload{}
		err := env.Client.Get(context.Background(), types.NamespacedName{Namespace: q.ns, Name: kueue.WorkloadName(job)}, own)
		j := env.GetJob(t, job)
		return apierrors.IsNotFound(err) && ptr.Deref(j.Spec.Suspend, false), fmt.Sprintf("own Workload: %v, suspend=%v", err, j.Spec.Suspend)
	})
	if err := env.Client.Create(context.Background(), prebuiltWorkload(q, "prebuilt-wl", job, 2)); err != nil {
		t.Fatalf("Creating the prebuilt Workload: %v", err)
	}
	framework.Eventually(t, "the prebuilt Workload adopted", func() (bool, string) {
		wl := workloadOf(t, job)
		return metav1.IsControlledBy(wl, job) && wl.Labels[kueue.JobUIDLabel] == string(job.UID), fmt.Sprintf("owners %v labels %v", wl.OwnerReferences, wl.Labels)
	})
	waitRunning(t, job, 2)
	succeed(t, job, 2)
	waitFinished(t, job, 2)
}

// A prebuilt Workload that does not describe the job (another pod count) is finished as
// out of sync, and the job never runs.
func TestPrebuiltWorkloadOutOfSync(t *testing.T) {
	requireKueue(t)
	q := newQueue(t, "0")
	w := queuedJob(q, "outofsync", 2, 2, "1").Label(kueue.PrebuiltWorkloadLabel, "outofsync-wl")
	job := env.CreateJob(t, w.Obj())
	if err := env.Client.Create(context.Background(), prebuiltWorkload(q, "outofsync-wl", job, 3)); err != nil {
		t.Fatalf("Creating the prebuilt Workload: %v", err)
	}
	framework.Eventually(t, "the Workload finished as OutOfSync", func() (bool, string) {
		wl := workloadOf(t, job)
		c := apimeta.FindStatusCondition(wl.Status.Conditions, kueueapi.WorkloadFinished)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == kueueapi.WorkloadFinishedReasonOutOfSync, conds(wl)
	})
	framework.Consistently(t, 2*time.Second, "the job still suspended", func() (bool, string) {
		j := env.GetJob(t, job)
		return ptr.Deref(j.Spec.Suspend, false) && j.Status.Active == 0, fmt.Sprintf("suspend=%v active=%d", j.Spec.Suspend, j.Status.Active)
	})
}
