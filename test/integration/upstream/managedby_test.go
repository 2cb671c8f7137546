package upstream

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

const customControllerName = "example.com/custom-job-controller"

var mainContainerTemplate = corev1.PodTemplateSpec{Spec: corev1.PodSpec{
	Containers: []corev1.Container{{Name: "main-container", Image: "foo"}},
}}

// TestManagedBy (job_test.go:1715): only jobs without managedBy, or with our controller's
// name, are reconciled; others keep an empty status. The feature-gate-disabled case does
// not apply (managedBy is always honoured) and there is no jobs_by_external_controller
// metric to check.
func TestManagedBy(t *testing.T) {
	testCases := map[string]struct {
		spec                              v1alpha1.BatchJobSpec
		wantReconciledByBuiltInController bool
	}{
		"the Job controller reconciles jobs without the managedBy": {
			spec:                              v1alpha1.BatchJobSpec{Template: mainContainerTemplate},
			wantReconciledByBuiltInController: true,
		},
		"the Job controller reconciles jobs with the well known value of the managedBy field": {
			spec:                              v1alpha1.BatchJobSpec{Template: mainContainerTemplate, ManagedBy: ptr.To(v1alpha1.ControllerName)},
			wantReconciledByBuiltInController: true,
		},
		"the Job controller does not reconcile an unsuspended with the custom value of managedBy": {
			spec: v1alpha1.BatchJobSpec{Suspend: ptr.To(false), Template: mainContainerTemplate, ManagedBy: ptr.To(customControllerName)},
		},
		"the Job controller does not reconcile a suspended with the custom value of managedBy": {
			spec: v1alpha1.BatchJobSpec{Suspend: ptr.To(true), Template: mainContainerTemplate, ManagedBy: ptr.To(customControllerName)},
		},
	}
	ns := env.NewNamespace(t, "managed-by")
	for name, test := range testCases {
		t.Run(name, func(t *testing.T) {
			startJobControllerAndWaitForCaches(t, ns)
			framework.ResetMetrics()
			jobObj := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("", "").FullSpec(&test.spec).Obj())
			t.Cleanup(func() {
				if err := cleanUp(jobObj, []string{framework.BlockDeletionFinalizer, v1alpha1.JobTrackingFinalizer}); err != nil {
					t.Fatalf("Failed cleanup: %v", err)
				}
			})
			if test.wantReconciledByBuiltInController {
				env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{
					Active: int(*jobObj.Spec.Parallelism), Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0),
				})
				return
			}
			// Upstream sleeps, then checks once; checking all along is stronger.
			framework.Consistently(t, framework.ControllerLatency, "no status and no pods", func() (bool, string) {
				diff := cmp.Diff(v1alpha1.BatchJobStatus{}, env.GetJob(t, jobObj).Status)
				pods := env.JobPods(t, jobObj)
				return diff == "" && len(pods) == 0, fmt.Sprintf("%d pods, status (-want,+got): %s", len(pods), diff)
			})
		})
	}
}

// TestManagedBy_RecreatedJob (job_test.go:2194): a sync queued for a deleted job does not
// act on a re-created job of the same name managed by another controller.
func TestManagedBy_RecreatedJob(t *testing.T) {
	ns := env.NewNamespace(t, "managed-by-recreate-job")
	startJobControllerAndWaitForCaches(t, ns)
	baseJob := testutil.MakeEmptyBatchJob("custom-job-test", "").
		Completions(1).Parallelism(1).Template(&mainContainerTemplate).Obj()
	jobObj := env.CreateJobWithDefaults(t, ns, baseJob)
	env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})

	// Marking the pod as complete queues the job reconciliation.
	if _, err := env.SetJobPodsPhase(jobObj, corev1.PodSucceeded, 1); err != nil {
		t.Fatalf("Error %v when setting phase %s on the pod", err, corev1.PodSucceeded)
	}
	env.DeleteJob(t, jobObj, metav1.DeletePropagationBackground)

	jobWithManagedBy := baseJob.DeepCopy()
	jobWithManagedBy.Spec.ManagedBy = ptr.To(customControllerName)
	jobObj = env.CreateJobWithDefaults(t, ns, jobWithManagedBy)

	framework.Consistently(t, framework.ControllerLatency, "empty status", func() (bool, string) {
		diff := cmp.Diff(v1alpha1.BatchJobStatus{}, env.GetJob(t, jobObj).Status)
		return diff == "", "(-want,+got): " + diff
	})
}

// TestManagedBy_UsingReservedJobFinalizers (job_test.go:2275): our controller does not
// remove the tracking finalizer from pods of a job managed by another controller.
func TestManagedBy_UsingReservedJobFinalizers(t *testing.T) {
	ns := env.NewNamespace(t, "managed-by-reserved-finalizers")
	startJobControllerAndWaitForCaches(t, ns)
	jobObj := env.CreateJobWithDefaults(t, ns, testutil.MakeEmptyBatchJob("custom-job-test", "").
		Completions(1).Parallelism(1).Template(&mainContainerTemplate).ManagedBy(customControllerName).Obj())

	// Create the pod manually simulating the external controller, with the finalizer. It
	// carries the labels upstream's API server generates into the template (our pod cache
	// only holds pods with the controller-uid label, so without them the test could not
	// fail).
	pod := testutil.MakeEmptyPod("", ns).WithGenerateName("pod1").
		Label(v1alpha1.ControllerUIDLabel, string(jobObj.UID)).Label(v1alpha1.JobNameLabel, jobObj.Name).
		Finalizer(v1alpha1.JobTrackingFinalizer).
		Owners(*metav1.NewControllerRef(jobObj, v1alpha1.GroupVersion.WithKind("BatchJob"))).
		PodSpec(&mainContainerTemplate.Spec).Obj()
	if err := env.Client.Create(ctx, pod); err != nil {
		t.Fatalf("Error %v when creating a pod for the job", err)
	}
	// Marking the pod as finished (succeeded), before marking the parent job as complete.
	pod.Status.Phase = corev1.PodSucceeded
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatalf("Error %v when marking the pod as succeeded", err)
	}
	// Trigger termination for the Job so that our controller receives an update event.
	jobObj = env.GetJob(t, jobObj)
	jobObj.Status.Conditions = append(jobObj.Status.Conditions, v1alpha1.JobCondition{
		Type: v1alpha1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue,
	})
	jobObj.Status.StartTime = ptr.To(metav1.Now())
	if err := env.Client.Status().Update(ctx, jobObj); err != nil {
		t.Fatalf("Error %v when updating the job as finished", err)
	}
	// Update the pod so that the controller receives a pod update event.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		t.Fatal(err)
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
		Type: corev1.PodConditionType("CustomCondition"), Status: corev1.ConditionTrue,
	})
	if err := env.Client.Status().Update(ctx, pod); err != nil {
		t.Fatalf("Error %v when adding a condition to the pod status", err)
	}

	framework.Consistently(t, framework.ControllerLatency, "the pod keeps the tracking finalizer", func() (bool, string) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return false, err.Error()
		}
		diff := cmp.Diff([]string{v1alpha1.JobTrackingFinalizer}, pod.Finalizers)
		return diff == "", "finalizers of the pod, whose job has a custom managedBy (-want,+got): " + diff
	})
	if err := env.RemovePodsFinalizers(ns, v1alpha1.JobTrackingFinalizer); err != nil {
		t.Fatal(err)
	}
}
