package upstream

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

func resources(cpuReq, memReq, cpuLim, memLim string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuReq), corev1.ResourceMemory: resource.MustParse(memReq)},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLim), corev1.ResourceMemory: resource.MustParse(memLim)},
	}
}

func setResources(r corev1.ResourceRequirements) func(*v1alpha1.BatchJob) {
	return func(j *v1alpha1.BatchJob) {
		for i := range j.Spec.Template.Spec.Containers {
			j.Spec.Template.Spec.Containers[i].Resources = r
		}
	}
}

// TestUpdateJobPodResources (job_test.go:3961): pod resources may change while the job
// is suspended (the MutablePodResourcesForSuspendedJobs behaviour; the gate-disabled case
// does not apply).
func TestUpdateJobPodResources(t *testing.T) {
	testCases := map[string]struct {
		suspend          bool
		expectUpdate     bool
		startThenSuspend bool
	}{
		"suspended job, update resources":              {suspend: true, expectUpdate: true},
		"non-suspended job, update resources":          {suspend: false, expectUpdate: false},
		"started then suspended job, update resources": {startThenSuspend: true, expectUpdate: true},
	}
	want := resources("200m", "256Mi", "400m", "512Mi")
	for name, tc := range testCases {
		t.Run(name, func(t *testing.T) {
			ns := env.NewNamespace(t, "update-job-pod-resources")
			startJobControllerAndWaitForCaches(t, ns)
			job := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
				s.Suspend = ptr.To(tc.suspend)
				s.Parallelism = ptr.To[int32](1)
				s.Completions = ptr.To[int32](1)
				s.Template.Spec.Containers = []corev1.Container{{Name: "test-container", Image: "busybox"}}
			}))
			if tc.startThenSuspend {
				env.WaitForPodsToBeActive(t, job, 1)
				if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) }); err != nil {
					t.Fatalf("Failed to suspend Job: %v", err)
				}
			}
			if tc.suspend || tc.startThenSuspend {
				env.WaitForPodsToBeActive(t, job, 0)
				env.ValidateJobCondition(t, job, v1alpha1.JobSuspended)
			}
			if _, err := env.UpdateJob(job, setResources(want)); (err == nil) != tc.expectUpdate {
				t.Fatalf("Updating resources: got error %v, want an error: %v", err, !tc.expectUpdate)
			}
			if tc.suspend || tc.startThenSuspend {
				if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(false) }); err != nil {
					t.Fatalf("Failed to unsuspend Job: %v", err)
				}
			}
			env.WaitForPodsToBeActive(t, job, 1)
			pods := env.JobPods(t, job)
			if len(pods) != 1 {
				t.Fatalf("Expected 1 pod, got %d", len(pods))
			}
			got := pods[0].Spec.Containers[0].Resources
			if tc.expectUpdate {
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Unexpected resources in pod spec (-want +got):\n%s", diff)
				}
			} else if len(got.Requests) > 0 || len(got.Limits) > 0 {
				t.Errorf("Expected no resource updates, but got: %+v", got)
			}
		})
	}
}

// TestMutablePodResourcesWithPodReplacementPolicyFailed (job_test.go:5112): with
// podReplacementPolicy Failed a resumed job creates pods only once the terminating ones
// are gone, and with the updated resources.
func TestMutablePodResourcesWithPodReplacementPolicyFailed(t *testing.T) {
	ns := env.NewNamespace(t, "mutable-resources-pod-replacement")
	startJobControllerAndWaitForCaches(t, ns)
	job := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](2)
		s.Completions = ptr.To[int32](2)
		s.PodReplacementPolicy = ptr.To(v1alpha1.Failed)
		s.Template.Finalizers = []string{framework.BlockDeletionFinalizer}
		s.Template.Spec.Containers = []corev1.Container{{
			Name: "test-container", Image: "busybox", Resources: resources("100m", "128Mi", "200m", "256Mi"),
		}}
	}))
	t.Cleanup(func() { _ = env.RemovePodsFinalizers(ns, framework.BlockDeletionFinalizer) })
	env.WaitForPodsToBeActive(t, job, 2)
	if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) }); err != nil {
		t.Fatalf("Failed to suspend Job: %v", err)
	}
	// Delete the pods to make them go to Terminating state (the finalizer keeps them).
	env.DeletePods(t, ns)
	env.ValidateJobsPodsStatusOnly(t, job, framework.PodsByStatus{Terminating: ptr.To[int32](2), Active: 0, Ready: ptr.To[int32](0)})

	newResources := resources("300m", "384Mi", "600m", "768Mi")
	if _, err := env.UpdateJob(job, setResources(newResources)); err != nil {
		t.Fatalf("Failed to update Job resources: %v", err)
	}
	// No new pods are created while old pods are terminating.
	framework.Consistently(t, framework.ControllerLatency, "no pod created while 2 terminate", func() (bool, string) {
		st := env.GetJob(t, job).Status
		return st.Active == 0 && ptr.Deref(st.Terminating, 0) == 2 && len(env.JobPods(t, job)) == 2,
			fmt.Sprintf("active %d terminating %v, %d pods", st.Active, st.Terminating, len(env.JobPods(t, job)))
	})
	env.ValidateJobsPodsStatusOnly(t, job, framework.PodsByStatus{Terminating: ptr.To[int32](2), Active: 0, Ready: ptr.To[int32](0)})

	if err := env.RemovePodsFinalizers(ns, framework.BlockDeletionFinalizer); err != nil {
		t.Fatalf("Failed to remove finalizers: %v", err)
	}
	err := wait.PollUntilContextTimeout(ctx, framework.WaitInterval, framework.WaitTimeout, true, func(context.Context) (bool, error) {
		j := env.GetJob(t, job)
		return j.Status.Terminating == nil || *j.Status.Terminating == 0, nil
	})
	if err != nil {
		t.Fatalf("Failed to wait for terminating pods to be removed: %v", err)
	}
	if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(false) }); err != nil {
		t.Fatalf("Failed to unsuspend Job: %v", err)
	}
	env.WaitForPodsToBeActive(t, job, 2)
	pods := env.JobPods(t, job)
	if len(pods) != 2 {
		t.Fatalf("Expected 2 pods, got %d", len(pods))
	}
	for _, pod := range pods {
		if diff := cmp.Diff(newResources, pod.Spec.Containers[0].Resources); diff != "" {
			t.Errorf("Unexpected resources in pod %s (-want +got):\n%s", pod.Name, diff)
		}
	}
}
