package policies

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/metrics"
)

// Port of upstream TestJobPodReplacementPolicy (INT:2801-3021).
func TestJobPodReplacementPolicy(t *testing.T) {
	type jobStatus struct {
		active      int
		failed      int
		terminating *int32
	}
	type creations struct{ new, recreateTerminatingOrFailed, recreateFailed int }
	spec := func(mode v1alpha1.CompletionMode, policy *v1alpha1.PodReplacementPolicy) v1alpha1.BatchJobSpec {
		s := v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), CompletionMode: ptr.To(mode),
			PodReplacementPolicy: policy}
		s.Template.Finalizers = []string{blockDeletionFinalizer}
		return s
	}
	terminatingOrFailed := jobStatus{active: 2, failed: 2, terminating: ptrInt32(2)}
	cases := map[string]struct {
		jobSpec                 v1alpha1.BatchJobSpec
		wantStatusAfterDeletion jobStatus
		wantStatusAfterFailure  jobStatus
		wantMetrics             creations
	}{
		"delete & fail pods, recreate terminating pods, and verify job status counters": {
			jobSpec:                 spec(v1alpha1.IndexedCompletion, nil),
			wantStatusAfterDeletion: terminatingOrFailed,
			wantStatusAfterFailure:  jobStatus{active: 2, failed: 2, terminating: ptrInt32(0)},
			wantMetrics:             creations{new: 2, recreateTerminatingOrFailed: 2},
		},
		"IndexedJob, TerminatingOrFailed policy, delete & fail pods, recreate terminating pods, and verify job status counters": {
			jobSpec:                 spec(v1alpha1.IndexedCompletion, ptr.To(v1alpha1.TerminatingOrFailed)),
			wantStatusAfterDeletion: terminatingOrFailed,
			wantStatusAfterFailure:  jobStatus{active: 2, failed: 2, terminating: ptrInt32(0)},
			wantMetrics:             creations{new: 2, recreateTerminatingOrFailed: 2},
		},
		"NonIndexedJob, TerminatingOrFailed policy, delete & fail pods, recreate terminating pods, and verify job status counters": {
			jobSpec:                 spec(v1alpha1.NonIndexedCompletion, ptr.To(v1alpha1.TerminatingOrFailed)),
			wantStatusAfterDeletion: terminatingOrFailed,
			wantStatusAfterFailure:  jobStatus{active: 2, failed: 2, terminating: ptrInt32(0)},
			wantMetrics:             creations{new: 2, recreateTerminatingOrFailed: 2},
		},
		"Failed policy, delete & fail pods, recreate failed pods, and verify job status counters": {
			jobSpec:                 spec(v1alpha1.IndexedCompletion, ptr.To(v1alpha1.Failed)),
			wantStatusAfterDeletion: jobStatus{terminating: ptrInt32(2)},
			wantStatusAfterFailure:  jobStatus{active: 2, failed: 2, terminating: ptrInt32(0)},
			wantMetrics:             creations{new: 2, recreateFailed: 2},
		},
		"NonIndexedJob, Failed policy, delete & fail pods, recreate failed pods, and verify job status counters": {
			jobSpec:                 spec(v1alpha1.NonIndexedCompletion, ptr.To(v1alpha1.Failed)),
			wantStatusAfterDeletion: jobStatus{terminating: ptrInt32(2)},
			wantStatusAfterFailure:  jobStatus{active: 2, failed: 2, terminating: ptrInt32(0)},
			wantMetrics:             creations{new: 2, recreateFailed: 2},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// One namespace per case: deletePods deletes every pod of the namespace.
			ns := setup(t, "pod-replacement-policy")
			series := [][]string{{"new", "succeeded"}, {"recreate_terminating_or_failed", "succeeded"}, {"recreate_failed", "succeeded"}}
			created := newCounterDelta(metrics.PodsCreationTotal, series...)
			job := createJobWithDefaults(t, ns, tc.jobSpec)
			waitForPodsToBeActive(t, job, 2)
			// Upstream's 100ms backoff lets the two replacements come at once; with our 10s
			// base, the pods report not-ready since long ago, the finish time the backoff
			// uses for a pod deleted before it terminated.
			notReadyLongAgo(t, job)

			deletePods(t, ns)
			validateJobsPodsStatusOnly(t, job, podsByStatus{Terminating: tc.wantStatusAfterDeletion.terminating,
				Failed: tc.wantStatusAfterDeletion.failed, Active: tc.wantStatusAfterDeletion.active, Ready: ptrInt32(0)})

			failTerminatingPods(t, ns)
			validateJobsPodsStatusOnly(t, job, podsByStatus{Terminating: tc.wantStatusAfterFailure.terminating,
				Failed: tc.wantStatusAfterFailure.failed, Active: tc.wantStatusAfterFailure.active, Ready: ptrInt32(0)})

			created.validate(t, tc.wantMetrics.new, series[0]...)
			created.validate(t, tc.wantMetrics.recreateTerminatingOrFailed, series[1]...)
			created.validate(t, tc.wantMetrics.recreateFailed, series[2]...)
		})
	}
}

func resources(cpu, mem, cpuLimit, memLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLimit), corev1.ResourceMemory: resource.MustParse(memLimit)},
	}
}

// Port of upstream TestMutablePodResourcesWithPodReplacementPolicyFailed (INT:5112-5298):
// with podReplacementPolicy Failed, a resumed job creates its pods (with the resources
// changed while suspended) only once the terminating pods are gone.
func TestMutablePodResourcesWithPodReplacementPolicyFailed(t *testing.T) {
	ns := setup(t, "mutable-resources-pod-replacement")
	spec := v1alpha1.BatchJobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2),
		PodReplacementPolicy: ptr.To(v1alpha1.Failed)}
	spec.Template.Finalizers = []string{blockDeletionFinalizer}
	spec.Template.Spec.Containers = []corev1.Container{{Name: "test-container", Image: "busybox",
		Resources: resources("100m", "128Mi", "200m", "256Mi")}}
	job := createJobWithDefaults(t, ns, spec)
	waitForPodsToBeActive(t, job, 2)

	if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(true) }); err != nil {
		t.Fatalf("suspending: %v", err)
	}
	deletePods(t, ns)
	validateJobsPodsStatusOnly(t, job, podsByStatus{Terminating: ptrInt32(2), Ready: ptrInt32(0)})

	want := resources("300m", "384Mi", "600m", "768Mi")
	if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) {
		for i := range j.Spec.Template.Spec.Containers {
			j.Spec.Template.Spec.Containers[i].Resources = want
		}
	}); err != nil {
		t.Fatalf("updating resources of the suspended job: %v", err)
	}
	// Upstream sleeps for the controller latency, then checks nothing was created.
	time.Sleep(time.Second)
	validateJobsPodsStatusOnly(t, job, podsByStatus{Terminating: ptrInt32(2), Ready: ptrInt32(0)})

	if err := removePodsFinalizers(t, ns, blockDeletionFinalizer); err != nil {
		t.Fatal(err)
	}
	poll(t, "terminating pods gone", func() (bool, string) {
		st := getJob(t, job).Status
		return st.Terminating == nil || *st.Terminating == 0, ""
	})
	if _, err := updateJob(t, job, func(j *v1alpha1.BatchJob) { j.Spec.Suspend = ptr.To(false) }); err != nil {
		t.Fatalf("resuming: %v", err)
	}
	waitForPodsToBeActive(t, job, 2)
	pods := jobPods(t, job)
	if len(pods) != 2 {
		t.Fatalf("want 2 pods, got %d", len(pods))
	}
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			if !equalResources(want, c.Resources) {
				t.Errorf("pod %s container %s resources %+v, want %+v", p.Name, c.Name, c.Resources, want)
			}
		}
	}
}

func equalResources(a, b corev1.ResourceRequirements) bool {
	eq := func(x, y corev1.ResourceList) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || v.Cmp(w) != 0 {
				return false
			}
		}
		return true
	}
	return eq(a.Requests, b.Requests) && eq(a.Limits, b.Limits)
}
