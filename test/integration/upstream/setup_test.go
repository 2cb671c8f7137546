package upstream

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// Upstream's test constants (job_test.go:72-83).
const (
	waitInterval          = 50 * time.Millisecond // upstream polls every second; faster here
	foreverTestTimeout    = 30 * time.Second      // wait.ForeverTestTimeout
	fastPodFailureBackoff = 100 * time.Millisecond
	// Time to wait when asserting that the controller does NOT change something.
	// Upstream waits 100ms; our controller reacts to pod events without upstream's 1s
	// batching delay, so a short wait still covers a couple of passes.
	sleepDurationForControllerLatency = 500 * time.Millisecond
)

var ctx = context.Background()

// setup creates the test's namespace (upstream also starts an API server per test; here
// all tests share one and are isolated by namespace).
func setup(t testing.TB, nsBaseName string) *corev1.Namespace {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: nsBaseName + "-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatalf("Creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, ns) })
	return ns
}

// startJobControllerAndWaitForCaches starts our controller manager for ns, as upstream
// starts its Job controller, with upstream's test-shortened pod failure backoff unless
// opts says otherwise. The returned cancel stops it (and is also run at cleanup).
func startJobControllerAndWaitForCaches(t testing.TB, ns *corev1.Namespace, opts ...func(*framework.ControllerOptions)) (cancel func()) {
	t.Helper()
	o := framework.ControllerOptions{Namespaces: []string{ns.Name}, PodFailureBackoff: fastPodFailureBackoff}
	for _, f := range opts {
		f(&o)
	}
	stop, err := env.StartController(o)
	if err != nil {
		t.Fatalf("Starting the controller: %v", err)
	}
	t.Cleanup(stop)
	return stop
}

func withPodFailureBackoff(d time.Duration) func(*framework.ControllerOptions) {
	return func(o *framework.ControllerOptions) { o.PodFailureBackoff = d }
}

// resetMetrics mirrors upstream's resetMetrics for the collectors we have.
func resetMetrics() {
	metrics.TerminatedPodsTrackingFinalizerTotal.Reset()
	metrics.JobsFinishedTotal.Reset()
	metrics.PodsFinishedTotal.Reset()
	metrics.PodFailuresHandledByFailurePolicy.Reset()
	metrics.PodsCreationTotal.Reset()
}

// createJobWithDefaults mirrors upstream's helper: generateName "test-job", one container
// "foo"/"bar", restartPolicy Never.
func createJobWithDefaults(t testing.TB, ns string, jobObj *v1alpha1.BatchJob) *v1alpha1.BatchJob {
	t.Helper()
	jobObj = jobObj.DeepCopy()
	jobObj.Namespace = ns
	if jobObj.Name == "" {
		jobObj.GenerateName = "test-job"
	}
	if len(jobObj.Spec.Template.Spec.Containers) == 0 {
		jobObj.Spec.Template.Spec.Containers = []corev1.Container{{Name: "foo", Image: "bar"}}
	}
	if jobObj.Spec.Template.Spec.RestartPolicy == "" {
		jobObj.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
	if err := env.Client.Create(ctx, jobObj); err != nil {
		t.Fatalf("Failed to create Job: %v", err)
	}
	return jobObj
}

func getJob(t testing.TB, jobObj *v1alpha1.BatchJob) *v1alpha1.BatchJob {
	t.Helper()
	got := &v1alpha1.BatchJob{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(jobObj), got); err != nil {
		t.Fatalf("Failed to get Job: %v", err)
	}
	return got
}

// updateJob mirrors upstream's updateJob: get, mutate, update, retrying on conflicts.
func updateJob(jobObj *v1alpha1.BatchJob, updateFunc func(*v1alpha1.BatchJob)) (*v1alpha1.BatchJob, error) {
	var job *v1alpha1.BatchJob
	err := retryOnConflict(func() error {
		job = &v1alpha1.BatchJob{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(jobObj), job); err != nil {
			return err
		}
		updateFunc(job)
		return env.Client.Update(ctx, job)
	})
	return job, err
}

// deleteJob deletes with background propagation, as upstream's tests do when they do not
// want to wait for the object to go.
func deleteJob(t testing.TB, jobObj *v1alpha1.BatchJob, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := env.Client.Delete(ctx, jobObj, client.PropagationPolicy(policy)); err != nil {
		t.Fatalf("Failed to delete Job: %v", err)
	}
}

func jobSpec(f func(*v1alpha1.BatchJobSpec)) *v1alpha1.BatchJob {
	j := &v1alpha1.BatchJob{}
	f(&j.Spec)
	return j
}

var (
	indexedCompletion    = ptr.To(v1alpha1.IndexedCompletion)
	nonIndexedCompletion = ptr.To(v1alpha1.NonIndexedCompletion)
)
