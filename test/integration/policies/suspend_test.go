package policies

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Port of upstream TestSuspendJob (INT:3690-3768).
func TestSuspendJob(t *testing.T) {
	type step struct {
		flag       bool
		wantActive int
		wantStatus corev1.ConditionStatus
		wantReason string
	}
	cases := []struct{ create, update step }{
		{
			create: step{flag: false, wantActive: 2},
			update: step{flag: true, wantActive: 0, wantStatus: corev1.ConditionTrue, wantReason: "Suspended"},
		},
		{
			create: step{flag: true, wantActive: 0, wantStatus: corev1.ConditionTrue, wantReason: "Suspended"},
			update: step{flag: false, wantActive: 2, wantStatus: corev1.ConditionFalse, wantReason: "Resumed"},
		},
	}
	ns := setup(t, "suspend")
	for _, tc := range cases {
		t.Run(fmt.Sprintf("create=%v,update=%v", tc.create.flag, tc.update.flag), func(t *testing.T) {
			job := createJobWithDefaults(t, ns, v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2),
				Completions: ptr.To[int32](4), Suspend: ptr.To(tc.create.flag)})
			validate := func(s string, want step) {
				t.Helper()
				validateJobPodsStatus(t, job, podsByStatus{Active: want.wantActive, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
				if got := conditionStatus(getJob(t, job), v1alpha1.JobSuspended); got != want.wantStatus {
					t.Errorf("Suspended condition status after %s: got %q, want %q", s, got, want.wantStatus)
				}
				if want.wantReason != "" {
					waitForEvent(t, job, want.wantReason)
				}
			}
			validate("create", tc.create)
			if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(tc.update.flag) }); err != nil {
				t.Fatalf("updating suspend: %v", err)
			}
			validate("update", tc.update)
		})
	}
}

// Port of upstream TestNodeSelectorUpdate (INT:3893-3959): nodeSelector set together with
// suspend=false reaches the pods; once running, the template is immutable again.
func TestNodeSelectorUpdate(t *testing.T) {
	ns := setup(t, "suspend")
	job := createJobWithDefaults(t, ns, v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](1), Suspend: ptr.To(true)})
	waitForPodsToBeActive(t, job, 0)
	validateJobCondition(t, job, v1alpha1.JobSuspended)

	nodeSelector := map[string]string{"foo": "bar"}
	if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) {
		j.Spec.Template.Spec.NodeSelector = nodeSelector
		j.Spec.Suspend = ptr.To(false)
	}); err != nil {
		t.Errorf("Unexpected error: %v", err)
	}
	var pod corev1.Pod
	poll(t, "a pod", func() (bool, string) {
		pods := jobPods(t, job)
		if len(pods) == 0 {
			return false, "none"
		}
		pod = pods[0]
		return true, ""
	})
	if diff := cmp.Diff(nodeSelector, pod.Spec.NodeSelector); diff != "" {
		t.Errorf("Unexpected nodeSelector (-want,+got):\n%s", diff)
	}
	_, err := updateJob(t, job, func(j *v1alpha1.BatchJob) {
		j.Spec.Template.Spec.NodeSelector = map[string]string{"foo": "baz"}
	})
	if err == nil || !strings.Contains(err.Error(), "spec.template: Invalid value") {
		t.Errorf("Expected \"spec.template: Invalid value\" error, got: %v", err)
	}
}

// Port of upstream TestUpdateJobPodResources (INT:3961-4141). The "feature gate
// disabled" case has no counterpart: MutablePodResourcesForSuspendedJobs is always on here.
func TestUpdateJobPodResources(t *testing.T) {
	cases := map[string]struct {
		suspend, expectUpdate, startThenSuspend bool
	}{
		"suspended job, feature gate enabled, update resources":              {suspend: true, expectUpdate: true},
		"non-suspended job, feature gate enabled, update resources":          {expectUpdate: false},
		"started then suspended job, feature gate enabled, update resources": {expectUpdate: true, startThenSuspend: true},
	}
	want := resources("200m", "256Mi", "400m", "512Mi")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := setup(t, "update-job-pod-resources")
			spec := v1alpha1.BatchJobSpec{Suspend: ptr.To(tc.suspend), Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1)}
			spec.Template.Spec.Containers = []corev1.Container{{Name: "test-container", Image: "busybox"}}
			job := createJobWithDefaults(t, ns, spec)
			if tc.startThenSuspend {
				waitForPodsToBeActive(t, job, 1)
				if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) }); err != nil {
					t.Fatalf("suspending: %v", err)
				}
			}
			if tc.suspend || tc.startThenSuspend {
				waitForPodsToBeActive(t, job, 0)
				validateJobCondition(t, job, v1alpha1.JobSuspended)
			}
			_, err := updateJob(t, job, func(j *v1alpha1.BatchJob) {
				for i := range j.Spec.Template.Spec.Containers {
					j.Spec.Template.Spec.Containers[i].Resources = want
				}
			})
			if err != nil && tc.expectUpdate {
				t.Fatalf("updating resources: %v", err)
			}
			if err == nil && !tc.expectUpdate {
				t.Errorf("resources of a running job were updated")
			}
			if tc.suspend || tc.startThenSuspend {
				if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(false) }); err != nil {
					t.Fatalf("resuming: %v", err)
				}
			}
			waitForPodsToBeActive(t, job, 1)
			pods := jobPods(t, job)
			if len(pods) != 1 {
				t.Fatalf("Expected 1 pod, got %d", len(pods))
			}
			got := pods[0].Spec.Containers[0].Resources
			if tc.expectUpdate && !equalResources(want, got) {
				t.Errorf("pod resources %+v, want %+v", got, want)
			}
			if !tc.expectUpdate && (len(got.Requests) > 0 || len(got.Limits) > 0) {
				t.Errorf("Expected no resource updates, got %+v", got)
			}
		})
	}
}

// Port of upstream TestMutableSchedulingDirectivesForSuspendedJobs (INT:4279-4390).
func TestMutableSchedulingDirectivesForSuspendedJobs(t *testing.T) {
	ns := setup(t, "mutable-scheduling-directives-for-suspended-jobs")
	job := createJobWithDefaults(t, ns, v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](2), Suspend: ptr.To(false)})
	validateJobsPodsStatusOnly(t, job, podsByStatus{Active: 1, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	got := getJob(t, job)
	if got.Status.StartTime == nil {
		t.Fatalf("Job startTime was not set")
	}
	running := got.DeepCopy()
	running.Spec.Template.Spec.NodeSelector = map[string]string{"key": "value"}
	if err := k8sClient.Update(context.Background(), running); err == nil {
		t.Fatalf("update of scheduling directives succeeded for an unsuspended job")
	}

	if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) }); err != nil {
		t.Fatalf("suspending: %v", err)
	}
	validateJobsPodsStatusOnly(t, job, podsByStatus{Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	got = getJob(t, job)
	if got.Status.StartTime != nil {
		t.Fatalf("Job startTime was not cleared")
	}
	if conditionStatus(got, v1alpha1.JobSuspended) != corev1.ConditionTrue {
		t.Fatalf("JobSuspended condition was not set to True")
	}
	got.Spec.Template.Spec.NodeSelector = map[string]string{"key": "value"}
	if err := k8sClient.Update(context.Background(), got); err != nil {
		t.Fatalf("update of scheduling directives failed for the suspended job: %v", err)
	}
	got.Spec.Suspend = ptr.To(false)
	if err := k8sClient.Update(context.Background(), got); err != nil {
		t.Fatalf("resuming: %v", err)
	}
	validateJobsPodsStatusOnly(t, job, podsByStatus{Active: 1, Ready: ptrInt32(0), Terminating: ptrInt32(0)})
	got = getJob(t, job)
	if conditionStatus(got, v1alpha1.JobSuspended) != corev1.ConditionFalse {
		t.Error("JobSuspended condition was not set to False")
	}
	if got.Status.StartTime == nil {
		t.Error("Job startTime was not set after resume")
	}
}

// Ports of upstream TestMutableSchedulingDirectivesForSuspendedJobsNotYetStarted and
// TestMutablePodResourcesForSuspendedJobsNotYetStarted (INT:4392-4468): a job created
// suspended accepts the change before the controller wrote any condition. Deviation:
// our controller's first pass writes the generated selector (upstream's API server does
// it at creation), so the update re-reads the job on a conflict instead of failing.
func TestMutableTemplateForSuspendedJobsNotYetStarted(t *testing.T) {
	changes := map[string]func(*corev1.PodSpec){
		"scheduling directives": func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"foo": "bar"} },
		"pod resources": func(s *corev1.PodSpec) {
			s.Containers[0].Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("256Mi"),
			}}
		},
	}
	ns := setup(t, "mutable-not-started")
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			job := createJobWithDefaults(t, ns, v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](1), Completions: ptr.To[int32](1), Suspend: ptr.To(true)})
			if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) { change(&j.Spec.Template.Spec) }); err != nil {
				t.Fatalf("Failed to update the template of a suspended job that never started: %v", err)
			}
		})
	}
}
