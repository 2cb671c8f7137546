package upstream

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// TestImmediateJobRecreation (job_test.go:1964): a re-created job does not inherit the
// pod failure backoff of its predecessor (kubernetes#132042).
func TestImmediateJobRecreation(t *testing.T) {
	ns := env.NewNamespace(t, "recreate-job-immediately")
	// The backoff is far longer than any wait, so that the test cannot pass by waiting it out.
	startJobControllerAndWaitForCaches(t, ns, withPodFailureBackoff(10*framework.WaitTimeout))
	jobSpecN := func(idx int) *v1alpha1.BatchJob {
		return testutil.MakeEmptyBatchJob(fmt.Sprintf("test-job-%d", idx), "").
			Completions(1).Parallelism(1).Template(&mainContainerTemplate).Obj()
	}
	// More jobs than workers make it unlikely that a pass cleans the in-memory state
	// before the replacement is created.
	var jobObjs []*v1alpha1.BatchJob
	for i := range 3 {
		jobObjs = append(jobObjs, env.CreateJobWithDefaults(t, ns, jobSpecN(i)))
	}
	for _, jobObj := range jobObjs {
		env.ValidateJobsPodsStatusOnly(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
		if _, err := env.SetJobPodsPhase(jobObj, corev1.PodFailed, 1); err != nil {
			t.Fatalf("Error %v when setting phase %s on the pod of job %v", err, corev1.PodFailed, jobObj.Name)
		}
		// Await to account for the failed Pod.
		env.ValidateJobsPodsStatusOnly(t, jobObj, framework.PodsByStatus{Failed: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
	}
	for i, jobObj := range jobObjs {
		env.DeleteJob(t, jobObj, metav1.DeletePropagationBackground)
		jobObjs[i] = env.CreateJobWithDefaults(t, ns, jobSpecN(i))
	}
	for _, jobObj := range jobObjs {
		// Active=1 well within the backoff: it is not applied to the replacement. (Upstream
		// waits at most 5s; the machines running this suite are loaded.)
		env.ValidateJobsPodsStatusOnly(t, jobObj, framework.PodsByStatus{
			Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0),
		})
	}
}

// TestJobRecreationClearsPodExpectations (job_test.go:2063): a replacement job is
// reconciled although its predecessor left a pod creation in flight.
func TestJobRecreationClearsPodExpectations(t *testing.T) {
	tests := map[string]struct {
		suspend            bool
		wantConditionTypes []v1alpha1.JobConditionType
		wantPodsStatus     framework.PodsByStatus
	}{
		"suspended replacement": {
			suspend:            true,
			wantConditionTypes: []v1alpha1.JobConditionType{v1alpha1.JobSuspended},
			wantPodsStatus:     framework.PodsByStatus{Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)},
		},
		"unsuspended replacement": {
			wantPodsStatus: framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := env.NewNamespace(t, "recreate-job-expectations")
			// Phase 1: block the old job's pod POST after its expectation is recorded.
			h := newRecreationHooks()
			t.Cleanup(h.allow)
			startJobControllerAndWaitForCaches(t, ns, h.options)
			base := testutil.MakeEmptyBatchJob("test-job", "").Completions(1).Parallelism(1).Obj()
			oldJob := env.CreateJobWithDefaults(t, ns, base)
			h.oldUID.Store(oldJob.UID)
			select {
			case <-h.podCreateStarted:
			case <-time.After(framework.WaitTimeout):
				t.Fatal("Timed out waiting for the old Job's Pod creation to start")
			}
			// Phase 2: replace the job, and wait, as upstream does, until the
			// controller's informer has the new UID.
			env.DeleteJob(t, oldJob, metav1.DeletePropagationBackground)
			replacement := base.DeepCopy()
			replacement.Spec.Suspend = ptr.To(tc.suspend)
			newJob := env.CreateJobWithDefaults(t, ns, replacement)
			select {
			case <-h.newJobCached:
			case <-time.After(framework.WaitTimeout):
				t.Fatal("Timed out waiting for the controller's cache to see the new Job")
			}
			h.allow()
			// Phase 3: the replacement is reconciled after the old POST completes.
			for _, ct := range tc.wantConditionTypes {
				env.ValidateJobCondition(t, newJob, ct)
			}
			// Upstream waits at most 5s; without the fix the job would wait for the
			// expectations to expire (5 min), far beyond this wait too.
			env.ValidateJobsPodsStatusOnly(t, newJob, tc.wantPodsStatus)
		})
	}
}

// recreationHooks block the controller's first pod POST until allow, and report when a
// BatchJob whose UID is not oldUID enters the controller's cache.
type recreationHooks struct {
	podCreateStarted, allowPodCreate, newJobCached chan struct{}
	blockOnce, allowOnce, cachedOnce               sync.Once
	oldUID                                         atomic.Value // types.UID
}

func newRecreationHooks() *recreationHooks {
	return &recreationHooks{podCreateStarted: make(chan struct{}), allowPodCreate: make(chan struct{}), newJobCached: make(chan struct{})}
}

func (h *recreationHooks) allow() { h.allowOnce.Do(func() { close(h.allowPodCreate) }) }

func (h *recreationHooks) options(o *framework.ControllerOptions) {
	o.WrapConfig = func(cfg *rest.Config) {
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
				if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/pods") {
					h.blockOnce.Do(func() {
						close(h.podCreateStarted)
						<-h.allowPodCreate
					})
				}
				return rt.RoundTrip(req)
			})
		}
	}
	o.CacheTransform = func(obj any) (any, error) {
		if j, ok := obj.(*v1alpha1.BatchJob); ok {
			if old, _ := h.oldUID.Load().(types.UID); old != "" && j.UID != old {
				h.cachedOnce.Do(func() { close(h.newJobCached) })
			}
		}
		return obj, nil
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestDelayedJobUpdateEvent (job_test.go:4143): a job creates only one pod even when the
// job's own update events reach the cache late (a finished job is remembered).
func TestDelayedJobUpdateEvent(t *testing.T) {
	// Upstream shortens the pod event batching to 100ms and delays every Job event
	// entering the cache by twice that, so pod events are processed first.
	const fastSyncJobBatchPeriod = 100 * time.Millisecond
	transform := toolscache.TransformFunc(func(obj any) (any, error) {
		if _, ok := obj.(*v1alpha1.BatchJob); ok {
			time.Sleep(2 * fastSyncJobBatchPeriod)
		}
		return obj, nil
	})
	type jobStatus struct {
		succeeded, failed int
		status            v1alpha1.JobConditionType
	}
	cases := map[string]struct {
		job        *v1alpha1.BatchJob
		podUpdate  func(*corev1.Pod) bool
		wantStatus jobStatus
	}{
		"job succeeded event delayed": {
			job: testutil.MakeEmptyBatchJob("", "").Obj(),
			podUpdate: func(p *corev1.Pod) bool {
				p.Status.Phase = corev1.PodSucceeded
				p.Status.ContainerStatuses = framework.TerminatedNow()
				return true
			},
			wantStatus: jobStatus{succeeded: 1, status: v1alpha1.JobComplete},
		},
		"job failed event delayed": {
			job: jobSpec(func(s *v1alpha1.BatchJobSpec) {
				s.Template.Spec.Containers = []corev1.Container{{
					Name: "main-container", Image: "foo", ImagePullPolicy: corev1.PullIfNotPresent,
					TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				}}
				s.BackoffLimit = ptr.To[int32](0)
			}),
			podUpdate: func(p *corev1.Pod) bool {
				p.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
					Name: "main-container", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 5}},
				}}}
				return true
			},
			wantStatus: jobStatus{failed: 1, status: v1alpha1.JobFailed},
		},
	}
	ns := env.NewNamespace(t, "simple")
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			startJobControllerAndWaitForCaches(t, ns, func(o *framework.ControllerOptions) {
				o.CacheTransform, o.SyncBatchPeriod = transform, fastSyncJobBatchPeriod
			})
			jobObj := env.CreateJobWithDefaults(t, ns, tc.job)
			env.ValidateJobPodsStatus(t, jobObj, framework.PodsByStatus{Active: 1, Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0)})
			if _, err := env.UpdateJobPodsStatus(jobObj, tc.podUpdate, 1); err != nil {
				t.Fatalf("Error %q while updating pod status for Job: %v", err, jobObj.Name)
			}
			env.ValidateJobsPodsStatusOnly(t, jobObj, framework.PodsByStatus{
				Failed: tc.wantStatus.failed, Succeeded: tc.wantStatus.succeeded,
				Ready: ptr.To[int32](0), Terminating: ptr.To[int32](0),
			})
			env.ValidateJobCondition(t, jobObj, tc.wantStatus.status)
			if pods := env.JobPods(t, jobObj); len(pods) != 1 {
				t.Errorf("Found %d Pods for the job %q, want 1", len(pods), jobObj.Name)
			}
		})
	}
}
