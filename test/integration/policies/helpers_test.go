package policies

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

const (
	waitInterval = 10 * time.Millisecond
	// waitTimeout is upstream's wait.ForeverTestTimeout.
	waitTimeout = 30 * time.Second
	// blockDeletionFinalizer keeps deleted pods terminating, as upstream's tests do.
	blockDeletionFinalizer = "fake.example.com/blockDeletion"
)

// podsByStatus is upstream's struct of the counters the tests compare.
type podsByStatus struct {
	Active      int
	Ready       *int32
	Failed      int
	Succeeded   int
	Terminating *int32
}

// setup creates a namespace for one test; its BatchJobs and pods are cleaned up after.
func setup(t *testing.T, base string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: base + "-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanUpNamespace(t, ns.Name) })
	return ns.Name
}

// cleanUpNamespace deletes the namespace's BatchJobs and pods (no GC or namespace
// controller runs in envtest), so their passes cannot disturb later tests' metrics.
func cleanUpNamespace(t *testing.T, ns string) {
	ctx := context.Background()
	_ = k8sClient.DeleteAllOf(ctx, &v1alpha1.BatchJob{}, client.InNamespace(ns),
		client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err := removePodsFinalizers(t, ns, blockDeletionFinalizer, v1alpha1.JobTrackingFinalizer); err != nil {
		t.Logf("cleanup: %v", err)
	}
	_ = k8sClient.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))
	_ = k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
}

// createJobWithDefaults is upstream's helper: generated name, one container, restartPolicy Never.
func createJobWithDefaults(t *testing.T, ns string, spec v1alpha1.BatchJobSpec) *v1alpha1.BatchJob {
	t.Helper()
	job := &v1alpha1.BatchJob{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-job", Namespace: ns}, Spec: *spec.DeepCopy()}
	if len(job.Spec.Template.Spec.Containers) == 0 {
		job.Spec.Template.Spec.Containers = []corev1.Container{{Name: "foo", Image: "bar"}}
	}
	if job.Spec.Template.Spec.RestartPolicy == "" {
		job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
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

// updateJob is get-modify-update with retries on conflicts.
func updateJob(t *testing.T, job *v1alpha1.BatchJob, fn func(*v1alpha1.BatchJob)) (*v1alpha1.BatchJob, error) {
	t.Helper()
	var out *v1alpha1.BatchJob
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		j := &v1alpha1.BatchJob{}
		if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(job), j); err != nil {
			return err
		}
		fn(j)
		out = j
		return k8sClient.Update(context.Background(), j)
	})
	return out, err
}

// poll waits for cond, failing the test with its last message.
func poll(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), waitInterval, waitTimeout, true,
		func(context.Context) (bool, error) {
			ok, msg := cond()
			last = msg
			return ok, nil
		})
	if err != nil {
		t.Fatalf("timed out waiting for %s; last: %s", what, last)
	}
}

func countsOf(st *v1alpha1.BatchJobStatus) podsByStatus {
	return podsByStatus{Active: int(st.Active), Ready: st.Ready, Succeeded: int(st.Succeeded),
		Failed: int(st.Failed), Terminating: st.Terminating}
}

// validateJobsPodsStatusOnly waits until the status counters equal desired.
func validateJobsPodsStatusOnly(t *testing.T, job *v1alpha1.BatchJob, desired podsByStatus) {
	t.Helper()
	poll(t, "job status counters", func() (bool, string) {
		got := countsOf(&getJob(t, job).Status)
		return cmp.Equal(desired, got), cmp.Diff(desired, got)
	})
}

// validateJobPodsStatus also checks the number of active pods and that each of them
// carries the tracking finalizer.
func validateJobPodsStatus(t *testing.T, job *v1alpha1.BatchJob, desired podsByStatus) {
	t.Helper()
	validateJobsPodsStatusOnly(t, job, desired)
	var active []corev1.Pod
	poll(t, fmt.Sprintf("%d active pods", desired.Active), func() (bool, string) {
		active = filterPods(jobPods(t, job), isActivePhase)
		return len(active) == desired.Active, fmt.Sprintf("%d active", len(active))
	})
	for _, p := range active {
		if !jobpod.HasFinalizer(&p) {
			t.Errorf("Active pod %s doesn't have tracking finalizer", p.Name)
		}
	}
}

// upstreamStatus keeps the batch/v1 fields upstream's validateJobStatus compares
// (it ignores startTime, uncountedTerminatedPods, completionTime and condition times
// and messages); the printing fields are ours only.
func upstreamStatus(st v1alpha1.BatchJobStatus) v1alpha1.BatchJobStatus {
	st.StartTime, st.CompletionTime, st.UncountedTerminatedPods = nil, nil, nil
	st.State, st.CompletionsText, st.Duration = "", "", ""
	return st
}

// validateJobStatus waits until the job's status equals want as upstream compares it.
func validateJobStatus(t *testing.T, job *v1alpha1.BatchJob, want v1alpha1.BatchJobStatus) {
	t.Helper()
	opts := cmp.Options{cmpopts.EquateEmpty(),
		cmpopts.IgnoreFields(v1alpha1.JobCondition{}, "LastProbeTime", "LastTransitionTime", "Message")}
	poll(t, "job status", func() (bool, string) {
		diff := cmp.Diff(upstreamStatus(want), upstreamStatus(getJob(t, job).Status), opts)
		return diff == "", "(-want,+got)\n" + diff
	})
}

func conditionStatus(job *v1alpha1.BatchJob, ct v1alpha1.JobConditionType) corev1.ConditionStatus {
	for _, c := range job.Status.Conditions {
		if c.Type == ct {
			return c.Status
		}
	}
	return ""
}

// validateJobCondition waits for condition ct=True.
func validateJobCondition(t *testing.T, job *v1alpha1.BatchJob, ct v1alpha1.JobConditionType) *v1alpha1.BatchJob {
	t.Helper()
	var got *v1alpha1.BatchJob
	poll(t, fmt.Sprintf("condition %s=True", ct), func() (bool, string) {
		got = getJob(t, job)
		return conditionStatus(got, ct) == corev1.ConditionTrue, fmt.Sprintf("%+v", got.Status.Conditions)
	})
	return got
}

// validateIndexedJobPods checks completedIndexes, failedIndexes and the indexes,
// labels and hostnames of the active pods.
func validateIndexedJobPods(t *testing.T, job *v1alpha1.BatchJob, wantActive sets.Set[int], wantCompleted string, wantFailed *string) {
	t.Helper()
	got := getJob(t, job)
	if got.Status.CompletedIndexes != wantCompleted {
		t.Errorf("Got completed indexes %q, want %q", got.Status.CompletedIndexes, wantCompleted)
	}
	if diff := cmp.Diff(wantFailed, got.Status.FailedIndexes); diff != "" {
		t.Errorf("Unexpected failed indexes (-want,+got):\n%s", diff)
	}
	gotActive := sets.New[int]()
	for _, p := range filterPods(jobPods(t, job), isActivePhase) {
		ix := jobpod.Index(&p)
		if label := p.Labels[v1alpha1.JobCompletionIndexAnnotation]; label != fmt.Sprint(ix) {
			t.Errorf("Pod %s: index label %q, annotation %d", p.Name, label, ix)
		}
		if want := fmt.Sprintf("%s-%d", job.Name, ix); p.Spec.Hostname != want {
			t.Errorf("Pod %s: hostname %q, want %q", p.Name, p.Spec.Hostname, want)
		}
		gotActive.Insert(ix)
	}
	if wantActive == nil {
		wantActive = sets.New[int]()
	}
	if diff := cmp.Diff(sets.List(wantActive), sets.List(gotActive)); diff != "" {
		t.Errorf("Unexpected active indexes (-want,+got):\n%s", diff)
	}
}

// validateFinishedPodsNoFinalizer is upstream's check, kept as written: no pending or
// running pod still carries the tracking finalizer once the job finished.
func validateFinishedPodsNoFinalizer(t *testing.T, job *v1alpha1.BatchJob) {
	t.Helper()
	for _, p := range filterPods(jobPods(t, job), isActivePhase) {
		if jobpod.HasFinalizer(&p) {
			t.Errorf("Finished pod %s still has a tracking finalizer", p.Name)
		}
	}
}

// validateNoFinalizers waits until no pod of job carries the tracking finalizer.
func validateNoFinalizers(t *testing.T, job *v1alpha1.BatchJob) {
	t.Helper()
	poll(t, "no pod with the tracking finalizer", func() (bool, string) {
		var with []string
		for _, p := range jobPods(t, job) {
			if jobpod.HasFinalizer(&p) {
				with = append(with, p.Name)
			}
		}
		return len(with) == 0, strings.Join(with, ",")
	})
}

// waitForPodsToBeActive waits for status.active == n.
func waitForPodsToBeActive(t *testing.T, job *v1alpha1.BatchJob, n int32) {
	t.Helper()
	poll(t, fmt.Sprintf("status.active == %d", n), func() (bool, string) {
		got := getJob(t, job).Status.Active
		return got == n, fmt.Sprint(got)
	})
}

// waitForEvent waits for an event with reason on the job from our controller.
func waitForEvent(t *testing.T, job *v1alpha1.BatchJob, reason string) {
	t.Helper()
	poll(t, "event "+reason, func() (bool, string) {
		var list eventsv1.EventList
		if err := k8sClient.List(context.Background(), &list, client.InNamespace(job.Namespace)); err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if e.Regarding.UID == job.UID {
				if e.Reason == reason {
					return true, ""
				}
				seen = append(seen, e.Reason)
			}
		}
		return false, fmt.Sprint(seen)
	})
}

// counter reads one series of a counter vector. Metrics are process-wide and cannot be
// reset as upstream's resetMetrics does, so tests compare deltas.
func counter(vec *prometheus.CounterVec, labels ...string) int {
	var m dto.Metric
	if err := vec.WithLabelValues(labels...).Write(&m); err != nil {
		panic(err)
	}
	return int(m.GetCounter().GetValue())
}

// counterDelta remembers the values of some series and later checks how they moved.
type counterDelta struct {
	vec    *prometheus.CounterVec
	before map[string]int
}

func newCounterDelta(vec *prometheus.CounterVec, series ...[]string) *counterDelta {
	d := &counterDelta{vec: vec, before: map[string]int{}}
	for _, s := range series {
		d.before[strings.Join(s, "/")] = counter(vec, s...)
	}
	return d
}

// validate waits until the series moved by want since newCounterDelta.
func (d *counterDelta) validate(t *testing.T, want int, labels ...string) {
	t.Helper()
	key := strings.Join(labels, "/")
	poll(t, "metric "+key, func() (bool, string) {
		got := counter(d.vec, labels...) - d.before[key]
		return got == want, fmt.Sprintf("delta %d, want %d", got, want)
	})
}

func sortedByName(pods []corev1.Pod) []corev1.Pod {
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods
}

func ptrInt32(n int32) *int32 { return ptr.To(n) }
