package framework

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// BlockDeletionFinalizer keeps deleted pods terminating, as upstream's tests do.
const BlockDeletionFinalizer = "fake.example.com/blockDeletion"

// NewNamespace creates a namespace named after base for one test. At cleanup its
// BatchJobs and pods go too (no garbage collector or namespace controller runs in
// envtest), so that a shared controller does not keep working on them for later tests.
func (e *Env) NewNamespace(t testing.TB, base string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: base + "-"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("Creating namespace: %v", err)
	}
	t.Cleanup(func() { e.cleanUpNamespace(t, ns.Name) })
	return ns.Name
}

func (e *Env) cleanUpNamespace(t testing.TB, ns string) {
	ctx := context.Background()
	_ = e.Client.DeleteAllOf(ctx, &v1alpha1.BatchJob{}, client.InNamespace(ns),
		client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err := e.RemovePodsFinalizers(ns, BlockDeletionFinalizer, v1alpha1.JobTrackingFinalizer); err != nil {
		t.Logf("Cleanup of namespace %s: %v", ns, err)
	}
	_ = e.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))
	_ = e.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
}

// CreateJob creates job (a copy; the API server assigns the UID) and returns it as stored.
func (e *Env) CreateJob(t testing.TB, job *v1alpha1.BatchJob) *v1alpha1.BatchJob {
	t.Helper()
	job = job.DeepCopy()
	job.UID, job.ResourceVersion = "", ""
	if err := e.Client.Create(context.Background(), job); err != nil {
		t.Fatalf("Failed to create Job: %v", err)
	}
	return job
}

// CreateJobWithDefaults is upstream's createJobWithDefaults: in namespace ns, generateName
// "test-job" unless named, one container "foo"/"bar" unless given, restartPolicy Never
// unless given.
func (e *Env) CreateJobWithDefaults(t testing.TB, ns string, job *v1alpha1.BatchJob) *v1alpha1.BatchJob {
	t.Helper()
	job = job.DeepCopy()
	job.Namespace = ns
	if job.Name == "" {
		job.GenerateName = "test-job"
	}
	if len(job.Spec.Template.Spec.Containers) == 0 {
		job.Spec.Template.Spec.Containers = []corev1.Container{{Name: "foo", Image: "bar"}}
	}
	if job.Spec.Template.Spec.RestartPolicy == "" {
		job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
	return e.CreateJob(t, job)
}

// GetJob reads the stored job.
func (e *Env) GetJob(t testing.TB, job *v1alpha1.BatchJob) *v1alpha1.BatchJob {
	t.Helper()
	got := &v1alpha1.BatchJob{}
	if err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(job), got); err != nil {
		t.Fatalf("Failed to get Job: %v", err)
	}
	return got
}

// UpdateJob is upstream's updateJob: get, mutate, update, retrying on conflicts. It
// returns the error (some tests expect the API server to refuse the update).
func (e *Env) UpdateJob(job *v1alpha1.BatchJob, mutate func(*v1alpha1.BatchJob)) (*v1alpha1.BatchJob, error) {
	var out *v1alpha1.BatchJob
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		out = &v1alpha1.BatchJob{}
		if err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(job), out); err != nil {
			return err
		}
		mutate(out)
		return e.Client.Update(context.Background(), out)
	})
	return out, err
}

// MustUpdateJob is UpdateJob failing the test on an error.
func (e *Env) MustUpdateJob(t testing.TB, job *v1alpha1.BatchJob, mutate func(*v1alpha1.BatchJob)) *v1alpha1.BatchJob {
	t.Helper()
	out, err := e.UpdateJob(job, mutate)
	if err != nil {
		t.Fatalf("Failed to update Job: %v", err)
	}
	return out
}

// DeleteJob deletes the job with the given propagation policy.
func (e *Env) DeleteJob(t testing.TB, job *v1alpha1.BatchJob, policy metav1.DeletionPropagation) {
	t.Helper()
	if err := e.Client.Delete(context.Background(), job, client.PropagationPolicy(policy)); err != nil {
		t.Fatalf("Failed to delete Job: %v", err)
	}
}

// MainContainerTemplate is upstream's pod template of the pod failure policy tests.
func MainContainerTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "main-container", Image: "foo", ImagePullPolicy: corev1.PullIfNotPresent,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}}}}
}
