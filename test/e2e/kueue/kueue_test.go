package kueue

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueueapi "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/kueue"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/util"
)

func requireKueue(t *testing.T) {
	t.Helper()
	if missing != "" {
		t.Skip(missing)
	}
}

// eventually polls cond every half second until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, last string)) {
	t.Helper()
	util.Eventually(t, timeout, 500*time.Millisecond, what, cond)
}

func create(t *testing.T, c *cluster, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.client.Create(context.Background(), o); err != nil {
			t.Fatalf("%s: creating %T %s: %v", c.name, o, o.GetName(), err)
		}
	}
	t.Cleanup(func() {
		for i := len(objs) - 1; i >= 0; i-- {
			_ = c.client.Delete(context.Background(), objs[i])
		}
	})
}

// newNamespace creates the namespace on each cluster (MultiKueue copies a job into the
// namespace of the same name on the worker) and waits for its default ServiceAccount.
func newNamespace(t *testing.T, name string, clusters ...*cluster) string {
	t.Helper()
	for _, c := range clusters {
		create(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		eventually(t, time.Minute, c.name+": default ServiceAccount in "+name, func() (bool, string) {
			err := c.client.Get(context.Background(), client.ObjectKey{Namespace: name, Name: "default"}, &corev1.ServiceAccount{})
			return err == nil, fmt.Sprint(err)
		})
	}
	return name
}

// newQueue creates a ResourceFlavor and a ClusterQueue named name with cpu quota (taking
// the admission checks given), and the LocalQueue "queue" in ns pointing at it.
func newQueue(t *testing.T, c *cluster, name, ns, cpu string, checks ...string) {
	t.Helper()
	cq := &kueueapi.ClusterQueue{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kueueapi.ClusterQueueSpec{
			NamespaceSelector: &metav1.LabelSelector{},
			Preemption:        &kueueapi.ClusterQueuePreemption{WithinClusterQueue: kueueapi.PreemptionPolicyLowerPriority},
			ResourceGroups: []kueueapi.ResourceGroup{{
				CoveredResources: []corev1.ResourceName{corev1.ResourceCPU},
				Flavors: []kueueapi.FlavorQuotas{{
					Name:      kueueapi.ResourceFlavorReference(name),
					Resources: []kueueapi.ResourceQuota{{Name: corev1.ResourceCPU, NominalQuota: resource.MustParse(cpu)}},
				}},
			}},
		},
	}
	if len(checks) > 0 {
		cq.Spec.AdmissionChecksStrategy = &kueueapi.AdmissionChecksStrategy{}
		for _, ac := range checks {
			cq.Spec.AdmissionChecksStrategy.AdmissionChecks = append(cq.Spec.AdmissionChecksStrategy.AdmissionChecks,
				kueueapi.AdmissionCheckStrategyRule{Name: kueueapi.AdmissionCheckReference(ac)})
		}
	}
	create(t, c, &kueueapi.ResourceFlavor{ObjectMeta: metav1.ObjectMeta{Name: name}}, cq,
		&kueueapi.LocalQueue{ObjectMeta: metav1.ObjectMeta{Name: "queue", Namespace: ns}, Spec: kueueapi.LocalQueueSpec{ClusterQueue: kueueapi.ClusterQueueReference(name)}})
	eventually(t, time.Minute, c.name+": ClusterQueue "+name+" active", func() (bool, string) {
		got := &kueueapi.ClusterQueue{}
		if err := c.client.Get(context.Background(), client.ObjectKey{Name: name}, got); err != nil {
			return false, err.Error()
		}
		return apimeta.IsStatusConditionTrue(got.Status.Conditions, kueueapi.ClusterQueueActive), fmt.Sprintf("%+v", got.Status.Conditions)
	})
}

// queuedJob is a BatchJob in ns's LocalQueue "queue" whose pods request 500m cpu and run
// for duration on the simulated kubelet; it is not created suspended: the admission policy
// does that.
func queuedJob(ns, name string, parallelism, completions int32, duration string) *testutil.JobWrapper {
	w := testutil.MakeBatchJob(name, ns).Parallelism(parallelism).Completions(completions).Label(kueue.QueueNameLabel, "queue")
	w.UID = ""
	w.Spec.Suspend = nil
	w.Spec.Template.Annotations = map[string]string{"batchjob.dev/simulate-duration": duration}
	for i := range w.Spec.Template.Spec.Containers {
		w.Spec.Template.Spec.Containers[i].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}
	}
	return w
}

func getJob(t *testing.T, c *cluster, ns, name string) (*v1alpha1.BatchJob, error) {
	t.Helper()
	j := &v1alpha1.BatchJob{}
	err := c.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, j)
	return j, err
}

func jobState(j *v1alpha1.BatchJob) string {
	var conds []string
	for _, c := range j.Status.Conditions {
		conds = append(conds, fmt.Sprintf("%s=%s", c.Type, c.Status))
	}
	return fmt.Sprintf("suspend=%v active=%d succeeded=%d failed=%d completedIndexes=%q conditions=%v",
		ptr.Deref(j.Spec.Suspend, false), j.Status.Active, j.Status.Succeeded, j.Status.Failed, j.Status.CompletedIndexes, conds)
}

// waitComplete waits for the job's Complete condition and checks its exact counts.
func waitComplete(t *testing.T, c *cluster, ns, name string, succeeded int32, completedIndexes string) *v1alpha1.BatchJob {
	t.Helper()
	var j *v1alpha1.BatchJob
	eventually(t, 2*time.Minute, c.name+": "+name+" Complete", func() (bool, string) {
		var err error
		if j, err = getJob(t, c, ns, name); err != nil {
			return false, err.Error()
		}
		return j.Status.HasTrueCondition(v1alpha1.JobComplete), jobState(j)
	})
	if j.Status.Succeeded != succeeded || j.Status.Failed != 0 || j.Status.CompletedIndexes != completedIndexes {
		t.Errorf("%s: %s finished as %s; want succeeded=%d failed=0 completedIndexes=%q", c.name, name, jobState(j), succeeded, completedIndexes)
	}
	return j
}

// workloadOf is the job's Workload on c (nil while there is none).
func workloadOf(t *testing.T, c *cluster, j *v1alpha1.BatchJob) *kueueapi.Workload {
	t.Helper()
	name := kueue.WorkloadName(j)
	if p := kueue.PrebuiltWorkload(j); p != "" {
		name = p
	}
	wl := &kueueapi.Workload{}
	if err := c.client.Get(context.Background(), client.ObjectKey{Namespace: j.Namespace, Name: name}, wl); err != nil {
		if !apierrors.IsNotFound(err) {
			t.Fatalf("%s: reading Workload %s: %v", c.name, name, err)
		}
		return nil
	}
	return wl
}

func wlState(wl *kueueapi.Workload) string {
	if wl == nil {
		return "no Workload"
	}
	var conds []string
	for _, c := range wl.Status.Conditions {
		conds = append(conds, fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Reason))
	}
	return strings.Join(conds, " ")
}

func podsOf(t *testing.T, c *cluster, ns, name string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := c.client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.JobNameLabel: name}); err != nil {
		t.Fatalf("%s: listing pods: %v", c.name, err)
	}
	return pods.Items
}

// A queued BatchJob on a cluster with Kueue waits, suspended and without pods, while its
// ClusterQueue has no quota; once quota is there Kueue admits it, it runs on the
// simulated nodes and completes with exact counts, and its Workload ends Finished.
func TestQueuedJobWaitsForQuota(t *testing.T) {
	requireKueue(t)
	ns := newNamespace(t, "kueue-quota", worker)
	newQueue(t, worker, ns, ns, "0")
	job := queuedJob(ns, "waits", 2, 4, "1s").Obj()
	create(t, worker, job)
	if !ptr.Deref(job.Spec.Suspend, false) {
		t.Fatalf("the queued job was created with suspend=%v, want true (config/kueue/admission.yaml)", job.Spec.Suspend)
	}
	eventually(t, time.Minute, "a pending Workload", func() (bool, string) {
		wl := workloadOf(t, worker, job)
		return wl != nil && apimeta.IsStatusConditionFalse(wl.Status.Conditions, kueueapi.WorkloadQuotaReserved), wlState(wl)
	})
	time.Sleep(3 * time.Second)
	if j, err := getJob(t, worker, ns, "waits"); err != nil || !ptr.Deref(j.Spec.Suspend, false) || len(podsOf(t, worker, ns, "waits")) != 0 {
		t.Fatalf("the job without quota: %v %s, %d pods; want suspended without pods", err, jobState(j), len(podsOf(t, worker, ns, "waits")))
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cq := &kueueapi.ClusterQueue{}
		if err := worker.client.Get(context.Background(), client.ObjectKey{Name: ns}, cq); err != nil {
			return err
		}
		cq.Spec.ResourceGroups[0].Flavors[0].Resources[0].NominalQuota = resource.MustParse("1")
		return worker.client.Update(context.Background(), cq)
	})
	if err != nil {
		t.Fatalf("raising the quota: %v", err)
	}
	waitComplete(t, worker, ns, "waits", 4, "")
	eventually(t, time.Minute, "the Workload Finished and released", func() (bool, string) {
		wl := workloadOf(t, worker, job)
		return wl != nil && apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueueapi.WorkloadFinished) && len(wl.Finalizers) == 0, wlState(wl)
	})
}

// A higher-priority job preempts a running one in a full ClusterQueue: the running job is
// suspended with its pods removed, the preemptor runs and completes, and the preempted job
// is admitted again, resumes and completes with exact counts (no pod counted failed).
func TestQueuedJobPreempted(t *testing.T) {
	requireKueue(t)
	ns := newNamespace(t, "kueue-preempt", worker)
	newQueue(t, worker, ns, ns, "1")
	for name, value := range map[string]int32{ns + "-low": 10, ns + "-high": 1000} {
		create(t, worker, &kueueapi.WorkloadPriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value})
	}
	low := queuedJob(ns, "low", 2, 4, "4s").Label(kueue.PriorityClassLabel, ns+"-low").Obj()
	create(t, worker, low)
	eventually(t, time.Minute, "the low-priority job running", func() (bool, string) {
		j, err := getJob(t, worker, ns, "low")
		return err == nil && j.Status.Active == 2, jobState(j)
	})
	high := queuedJob(ns, "high", 2, 2, "2s").Label(kueue.PriorityClassLabel, ns+"-high").Obj()
	create(t, worker, high)
	eventually(t, time.Minute, "the low-priority job suspended by preemption", func() (bool, string) {
		j, err := getJob(t, worker, ns, "low")
		wl := workloadOf(t, worker, low)
		evicted := wl != nil && apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueueapi.WorkloadEvicted)
		return err == nil && ptr.Deref(j.Spec.Suspend, false) && evicted, jobState(j) + "; " + wlState(wl)
	})
	waitComplete(t, worker, ns, "high", 2, "")
	waitComplete(t, worker, ns, "low", 4, "")
}
