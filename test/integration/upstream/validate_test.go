package upstream

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// podsByStatus is upstream's podsByStatus (job_test.go:4462).
type podsByStatus struct {
	Active      int
	Ready       *int32
	Failed      int
	Succeeded   int
	Terminating *int32
}

func validateJobsPodsStatusOnly(t testing.TB, jobObj *v1alpha1.BatchJob, statusType string, desired podsByStatus) {
	t.Helper()
	validateJobsPodsStatusOnlyWithTimeout(t, jobObj, statusType, desired, foreverTestTimeout)
}

func validateJobsPodsStatusOnlyWithTimeout(t testing.TB, jobObj *v1alpha1.BatchJob, statusType string, desired podsByStatus, timeout time.Duration) {
	t.Helper()
	var actual podsByStatus
	err := wait.PollUntilContextTimeout(ctx, waitInterval, timeout, true, func(ctx context.Context) (bool, error) {
		j := &v1alpha1.BatchJob{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(jobObj), j); err != nil {
			t.Logf("Failed to get updated Job: %v", err)
			return false, nil
		}
		actual = podsByStatus{
			Active:      int(j.Status.Active),
			Ready:       j.Status.Ready,
			Succeeded:   int(j.Status.Succeeded),
			Failed:      int(j.Status.Failed),
			Terminating: j.Status.Terminating,
		}
		return cmp.Equal(actual, desired), nil
	})
	if err != nil {
		t.Errorf("Waiting for Job %s Status: %v\nPods (-want,+got):\n%s", statusType, err, cmp.Diff(desired, actual))
	}
}

// validateJobStatus compares the whole status but the times, uncounted pods and messages.
func validateJobStatus(t testing.TB, jobObj *v1alpha1.BatchJob, statusType string, want v1alpha1.BatchJobStatus) {
	t.Helper()
	diff := ""
	err := wait.PollUntilContextTimeout(ctx, waitInterval, foreverTestTimeout, true, func(ctx context.Context) (bool, error) {
		got := getJob(t, jobObj)
		diff = cmp.Diff(want, got.Status,
			cmpopts.EquateEmpty(),
			cmpopts.IgnoreFields(v1alpha1.BatchJobStatus{}, "StartTime", "UncountedTerminatedPods", "CompletionTime",
				"State", "CompletionsText", "Duration"),
			cmpopts.IgnoreFields(v1alpha1.JobCondition{}, "LastProbeTime", "LastTransitionTime", "Message"),
		)
		return diff == "", nil
	})
	if err != nil {
		t.Fatalf("Waiting for Job %s Status: %v\n, Status diff (-want,+got):\n%s", statusType, err, diff)
	}
}

// validateJobPodsStatus is validateJobsPodsStatusOnly plus: exactly desired.Active pods are
// Pending or Running, and each of them carries the tracking finalizer.
func validateJobPodsStatus(t testing.TB, jobObj *v1alpha1.BatchJob, statusType string, desired podsByStatus) {
	t.Helper()
	validateJobsPodsStatusOnly(t, jobObj, statusType, desired)
	var active []*corev1.Pod
	err := wait.PollUntilContextTimeout(ctx, waitInterval, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		active = getJobPods(t, jobObj, func(s corev1.PodStatus) bool {
			return s.Phase == corev1.PodPending || s.Phase == corev1.PodRunning
		})
		return len(active) == desired.Active, nil
	})
	if err != nil && len(active) != desired.Active {
		t.Errorf("Found %d active Pods, want %d", len(active), desired.Active)
	}
	for _, p := range active {
		if !hasJobTrackingFinalizer(p) {
			t.Errorf("Active pod %s doesn't have tracking finalizer", p.Name)
		}
	}
}

// getJobPods lists the pods controlled by jobObj whose status passes filter.
func getJobPods(t testing.TB, jobObj *v1alpha1.BatchJob, filter func(corev1.PodStatus) bool) []*corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := env.Client.List(ctx, &list, client.InNamespace(jobObj.Namespace)); err != nil {
		t.Fatalf("Failed to list Job Pods: %v", err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		p := &list.Items[i]
		if metav1.IsControlledBy(p, jobObj) && filter(p.Status) {
			out = append(out, p)
		}
	}
	return out
}

// validateFinishedPodsNoFinalizer is upstream's check (which, as upstream's, looks at
// Pending and Running pods).
func validateFinishedPodsNoFinalizer(t testing.TB, jobObj *v1alpha1.BatchJob) {
	t.Helper()
	for _, p := range getJobPods(t, jobObj, func(s corev1.PodStatus) bool {
		return s.Phase == corev1.PodPending || s.Phase == corev1.PodRunning
	}) {
		if hasJobTrackingFinalizer(p) {
			t.Errorf("Finished pod %s still has a tracking finalizer", p.Name)
		}
	}
}

// validateIndexedJobPods validates the completed and failed indexes, and the indexes and
// hostnames of the active pods of an Indexed job.
func validateIndexedJobPods(t testing.TB, jobObj *v1alpha1.BatchJob, wantActive sets.Set[int], gotCompleted string, wantFailed *string) {
	t.Helper()
	updated := getJob(t, jobObj)
	if updated.Status.CompletedIndexes != gotCompleted {
		t.Errorf("Got completed indexes %q, want %q", updated.Status.CompletedIndexes, gotCompleted)
	}
	if diff := cmp.Diff(wantFailed, updated.Status.FailedIndexes); diff != "" {
		t.Errorf("Got unexpected failed indexes: %s", diff)
	}
	gotActive := sets.New[int]()
	for _, p := range getJobPods(t, jobObj, func(s corev1.PodStatus) bool {
		return s.Phase == corev1.PodPending || s.Phase == corev1.PodRunning
	}) {
		annotationIx, err := getCompletionIndex(p.Annotations)
		if err != nil {
			t.Errorf("Failed getting completion index in annotations for pod %s: %v", p.Name, err)
		}
		labelIx, err := getCompletionIndex(p.Labels)
		if err != nil {
			t.Errorf("Failed getting completion index in labels for pod %s: %v", p.Name, err)
		}
		if annotationIx != labelIx {
			t.Errorf("Mismatch in value of annotation index: %v and label index: %v", labelIx, annotationIx)
		}
		gotActive.Insert(labelIx)
		if want := fmt.Sprintf("%s-%d", jobObj.Name, labelIx); p.Spec.Hostname != want {
			t.Errorf("Got pod hostname %s, want %s", p.Spec.Hostname, want)
		}
	}
	if wantActive == nil {
		wantActive = sets.New[int]()
	}
	if diff := cmp.Diff(sets.List(wantActive), sets.List(gotActive)); diff != "" {
		t.Errorf("Unexpected active indexes (-want,+got):\n%s", diff)
	}
}

// waitForEvent waits for an event with reason on the object with uid, reported by our
// controller (upstream watches for reportingController job-controller).
func waitForEvent(t testing.TB, uid string, reason string) error {
	t.Helper()
	if reason == "" {
		return nil
	}
	return wait.PollUntilContextTimeout(ctx, waitInterval, foreverTestTimeout, true, func(ctx context.Context) (bool, error) {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list); err != nil {
			return false, nil
		}
		return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
			return e.ReportingController == "batchjob-controller" && e.Reason == reason && string(e.Regarding.UID) == uid
		}), nil
	})
}

func getJobConditionStatus(job *v1alpha1.BatchJob, cType v1alpha1.JobConditionType) corev1.ConditionStatus {
	for _, c := range job.Status.Conditions {
		if c.Type == cType {
			return c.Status
		}
	}
	return ""
}

func validateJobFailed(t testing.TB, jobObj *v1alpha1.BatchJob) {
	t.Helper()
	validateJobCondition(t, jobObj, v1alpha1.JobFailed)
}

func validateJobComplete(t testing.TB, jobObj *v1alpha1.BatchJob) {
	t.Helper()
	validateJobCondition(t, jobObj, v1alpha1.JobComplete)
}

func validateJobCondition(t testing.TB, jobObj *v1alpha1.BatchJob, cond v1alpha1.JobConditionType) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, waitInterval, foreverTestTimeout, true, func(ctx context.Context) (bool, error) {
		return getJobConditionStatus(getJob(t, jobObj), cond) == corev1.ConditionTrue, nil
	})
	if err != nil {
		t.Errorf("Waiting for Job to have condition %s: %v; status: %+v", cond, err, getJob(t, jobObj).Status)
	}
}

// validateNoOrphanPodsWithFinalizers waits until no pod matching the job's selector keeps
// the tracking finalizer.
func validateNoOrphanPodsWithFinalizers(t testing.TB, jobObj *v1alpha1.BatchJob) {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(jobObj.Spec.Selector)
	if err != nil {
		t.Fatalf("Job selector: %v", err)
	}
	orphanPods := 0
	err = wait.PollUntilContextTimeout(ctx, waitInterval, foreverTestTimeout, true, func(ctx context.Context) (bool, error) {
		var list corev1.PodList
		if err := env.Client.List(ctx, &list, client.InNamespace(jobObj.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return false, err
		}
		orphanPods = 0
		for i := range list.Items {
			if hasJobTrackingFinalizer(&list.Items[i]) {
				orphanPods++
			}
		}
		return orphanPods == 0, nil
	})
	if err != nil {
		t.Errorf("Failed waiting for pods to be freed from finalizer: %v", err)
		t.Logf("Last saw %d orphan pods", orphanPods)
	}
}

// validateCounterMetric waits until the counter series has the wanted value.
func validateCounterMetric(t testing.TB, vec *prometheus.CounterVec, want float64, labels ...string) {
	t.Helper()
	var got float64
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, foreverTestTimeout, true, func(context.Context) (bool, error) {
		var err error
		got, err = framework.CounterValue(vec, labels...)
		if err != nil {
			t.Fatalf("Reading metric %v: %v", labels, err)
		}
		return got == want, nil
	})
	if err != nil {
		t.Errorf("Metric %v = %v, want %v", labels, got, want)
	}
}

func hasJobTrackingFinalizer(obj metav1.Object) bool {
	return slices.Contains(obj.GetFinalizers(), v1alpha1.JobTrackingFinalizer)
}

// validateJobCounter waits until ok holds for the stored job.
func validateJobCounter(t testing.TB, jobObj *v1alpha1.BatchJob, what string, ok func(*v1alpha1.BatchJob) bool) {
	t.Helper()
	var last *v1alpha1.BatchJob
	err := wait.PollUntilContextTimeout(ctx, waitInterval, foreverTestTimeout, true, func(ctx context.Context) (bool, error) {
		last = getJob(t, jobObj)
		return ok(last), nil
	})
	if err != nil {
		t.Fatalf("Waiting for Job %s: %v; status %+v", what, err, last.Status)
	}
}
