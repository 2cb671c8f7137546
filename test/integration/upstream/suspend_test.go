package upstream

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestSuspendJob (job_test.go:3690).
func TestSuspendJob(t *testing.T) {
	type step struct {
		flag       bool
		wantActive int
		wantStatus corev1.ConditionStatus
		wantReason string
	}
	testCases := []struct {
		create step
		update step
	}{
		{
			create: step{flag: false, wantActive: 2},
			update: step{flag: true, wantActive: 0, wantStatus: corev1.ConditionTrue, wantReason: "Suspended"},
		},
		{
			create: step{flag: true, wantActive: 0, wantStatus: corev1.ConditionTrue, wantReason: "Suspended"},
			update: step{flag: false, wantActive: 2, wantStatus: corev1.ConditionFalse, wantReason: "Resumed"},
		},
	}
	ns := env.NewNamespace(t, "suspend")
	for _, tc := range testCases {
		t.Run(fmt.Sprintf("create=%v,update=%v", tc.create.flag, tc.update.flag), func(t *testing.T) {
			startJobControllerAndWaitForCaches(t, ns)
			job := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
				s.Parallelism = ptr.To[int32](2)
				s.Completions = ptr.To[int32](4)
				s.Suspend = ptr.To(tc.create.flag)
			}))
			validate := func(s string, active int, status corev1.ConditionStatus, reason string) {
				t.Helper()
				env.ValidateJobPodsStatus(t, job, framework.PodsByStatus{Active: active, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
				job = env.GetJob(t, job)
				if got, want := framework.ConditionStatus(job, v1alpha1.JobSuspended), status; got != want {
					t.Errorf("Unexpected Job condition %q status after %s: got %q, want %q", v1alpha1.JobSuspended, s, got, want)
				}
				if reason != "" {
					env.WaitForEvents(t, job, reason)
				}
			}
			validate("create", tc.create.wantActive, tc.create.wantStatus, tc.create.wantReason)
			if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(tc.update.flag) }); err != nil {
				t.Fatalf("Failed to update Job: %v", err)
			}
			validate("update", tc.update.wantActive, tc.update.wantStatus, tc.update.wantReason)
		})
	}
}

// TestStartTimeUpdateOnResume (job_test.go:3770): the controller may reset startTime when
// it resumes a job (kubernetes#134521).
func TestStartTimeUpdateOnResume(t *testing.T) {
	ns := env.NewNamespace(t, "suspend-starttime-validation")
	startJobControllerAndWaitForCaches(t, ns)
	job := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](1)
		s.Completions = ptr.To[int32](2)
		s.Suspend = ptr.To(false)
	}))
	env.ValidateJobsPodsStatusOnly(t, job, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	if env.GetJob(t, job).Status.StartTime == nil {
		t.Fatalf("Job startTime was not set")
	}
	if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) }); err != nil {
		t.Fatalf("Failed to suspend Job: %v", err)
	}
	env.ValidateJobsPodsStatusOnly(t, job, framework.PodsByStatus{Active: 0, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	if framework.ConditionStatus(env.GetJob(t, job), v1alpha1.JobSuspended) != corev1.ConditionTrue {
		t.Fatalf("JobSuspended condition was not set to True")
	}
	if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(false) }); err != nil {
		t.Fatalf("Failed to resume Job: %v", err)
	}
	env.ValidateJobsPodsStatusOnly(t, job, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	got := env.GetJob(t, job)
	if framework.ConditionStatus(got, v1alpha1.JobSuspended) != corev1.ConditionFalse {
		t.Error("JobSuspended condition was not set to False")
	}
	if got.Status.StartTime == nil {
		t.Error("Job startTime was not set after resume")
	}
}

// TestSuspendJobWithZeroCompletions (job_test.go:3849): a suspended job with completions 0
// is complete.
func TestSuspendJobWithZeroCompletions(t *testing.T) {
	ns := env.NewNamespace(t, "suspended-with-zero-completions")
	startJobControllerAndWaitForCaches(t, ns)
	jobObj := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Completions = ptr.To[int32](0)
		s.Suspend = ptr.To(true)
	}))
	for _, c := range []v1alpha1.JobConditionType{v1alpha1.JobSuccessCriteriaMet, v1alpha1.JobComplete} {
		env.ValidateJobCondition(t, jobObj, c)
	}
}

// TestSuspendJobControllerRestart (job_test.go:3870).
func TestSuspendJobControllerRestart(t *testing.T) {
	ns := env.NewNamespace(t, "suspend")
	startJobControllerAndWaitForCaches(t, ns)
	job := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](2)
		s.Completions = ptr.To[int32](4)
		s.Suspend = ptr.To(true)
	}))
	env.ValidateJobPodsStatus(t, job, framework.PodsByStatus{Active: 0, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
}

// TestNodeSelectorUpdate (job_test.go:3893): scheduling directives may change while the
// job is suspended, together with resuming it, but not afterwards.
func TestNodeSelectorUpdate(t *testing.T) {
	ns := env.NewNamespace(t, "suspend")
	startJobControllerAndWaitForCaches(t, ns)
	job := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](1)
		s.Suspend = ptr.To(true)
	}))
	env.WaitForPodsToBeActive(t, job, 0)
	env.ValidateJobCondition(t, job, v1alpha1.JobSuspended)

	// (1) set node selector in the same update.
	nodeSelector := map[string]string{"foo": "bar"}
	if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) {
		j.Spec.Template.Spec.NodeSelector = nodeSelector
		j.Spec.Suspend = ptr.To(false)
	}); err != nil {
		t.Errorf("Unexpected error: %v", err)
	}

	// (2) Check that the pod was created using the expected node selector.
	var pod *corev1.Pod
	if err := wait.PollUntilContextTimeout(ctx, framework.WaitInterval, framework.WaitTimeout, true, func(context.Context) (bool, error) {
		pods := env.JobPods(t, job)
		if len(pods) == 0 {
			return false, nil
		}
		pod = &pods[0]
		return true, nil
	}); err != nil || pod == nil {
		t.Fatalf("pod not found: %v", err)
	}
	if diff := cmp.Diff(nodeSelector, pod.Spec.NodeSelector); diff != "" {
		t.Errorf("Unexpected nodeSelector (-want,+got):\n%s", diff)
	}

	// (3) Update node selector again. It should fail since the job is unsuspended.
	_, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) {
		j.Spec.Template.Spec.NodeSelector = map[string]string{"foo": "baz"}
	})
	// Upstream's message is "spec.template: Invalid value: ...: field is immutable"; the
	// CRD's CEL rule reports the same field and reason.
	if err == nil || !strings.Contains(err.Error(), "spec.template: Invalid value") || !strings.Contains(err.Error(), "immutable") {
		t.Errorf("Expected \"spec.template: Invalid value\" immutability error, got: %v", err)
	}
}

// TestMutableSchedulingDirectivesForSuspendedJobs (job_test.go:4279).
func TestMutableSchedulingDirectivesForSuspendedJobs(t *testing.T) {
	ns := env.NewNamespace(t, "mutable-scheduling-directives-for-suspended-jobs")
	startJobControllerAndWaitForCaches(t, ns)
	job := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
		s.Parallelism = ptr.To[int32](1)
		s.Completions = ptr.To[int32](2)
		s.Suspend = ptr.To(false)
	}))
	env.ValidateJobsPodsStatusOnly(t, job, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	job = env.GetJob(t, job)
	if job.Status.StartTime == nil {
		t.Fatalf("Job startTime was not set")
	}
	// An update of an unsuspended job fails.
	jobCopy := job.DeepCopy()
	jobCopy.Spec.Template.Spec.NodeSelector = map[string]string{"key": "value"}
	if err := env.Client.Update(ctx, jobCopy); err == nil {
		t.Fatalf("update of scheduling directives succeeded for unsuspended job %s", job.Name)
	}
	// Suspend the Job.
	job.Spec.Suspend = ptr.To(true)
	if err := env.Client.Update(ctx, job); err != nil {
		t.Fatalf("Failed to suspend Job: %v", err)
	}
	env.ValidateJobsPodsStatusOnly(t, job, framework.PodsByStatus{Active: 0, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	job = env.GetJob(t, job)
	if job.Status.StartTime != nil {
		t.Fatalf("Job startTime was not cleaned")
	}
	if framework.ConditionStatus(job, v1alpha1.JobSuspended) != corev1.ConditionTrue {
		t.Fatalf("JobSuspended condition was not set to True")
	}
	// Since the Job is suspended the update is now accepted.
	job.Spec.Template.Spec.NodeSelector = map[string]string{"key": "value"}
	if err := env.Client.Update(ctx, job); err != nil {
		t.Fatalf("update of scheduling directives failed for suspended job %s: %v", job.Name, err)
	}
	// Resume the Job again and the Pods get created.
	job.Spec.Suspend = ptr.To(false)
	if err := env.Client.Update(ctx, job); err != nil {
		t.Fatalf("Failed to resume Job: %v", err)
	}
	env.ValidateJobsPodsStatusOnly(t, job, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	job = env.GetJob(t, job)
	if framework.ConditionStatus(job, v1alpha1.JobSuspended) != corev1.ConditionFalse {
		t.Error("JobSuspended condition was not set to False")
	}
	if job.Status.StartTime == nil {
		t.Error("Job startTime was not set after resume")
	}
}

// TestMutableSchedulingDirectivesForSuspendedJobsNotYetStarted (job_test.go:4392) and
// TestMutablePodResourcesForSuspendedJobsNotYetStarted (job_test.go:4426): a suspended job
// that never started accepts template updates before the controller saw it.
func TestMutableSchedulingDirectivesForSuspendedJobsNotYetStarted(t *testing.T) {
	for name, mutate := range map[string]func(*corev1.PodSpec){
		"nodeSelector": func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"foo": "bar"} },
		"resources": func(s *corev1.PodSpec) {
			s.Containers[0].Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("256Mi"),
			}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			ns := env.NewNamespace(t, "mutable-scheduling-directives-not-started")
			startJobControllerAndWaitForCaches(t, ns)
			job := env.CreateJobWithDefaults(t, ns, jobSpec(func(s *v1alpha1.BatchJobSpec) {
				s.Parallelism = ptr.To[int32](1)
				s.Completions = ptr.To[int32](1)
				s.Suspend = ptr.To(true)
			}))
			// Deviation: our controller's first pass writes the generated selector (upstream's
			// API server does it at creation), so the update re-reads the job on a conflict
			// rather than failing on it.
			if _, err := env.UpdateJob(job, func(j *v1alpha1.BatchJob) { mutate(&j.Spec.Template.Spec) }); err != nil {
				t.Fatalf("Failed to update the template of a suspended Job that was never started: %v", err)
			}
		})
	}
}
