package main

import (
	"bytes"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func baseJob(mutate func(*v1alpha1.BatchJob)) *v1alpha1.BatchJob {
	job := &v1alpha1.BatchJob{
		ObjectMeta: metav1.ObjectMeta{Name: "work", Namespace: "demo", UID: "uid-1"},
		Spec: v1alpha1.BatchJobSpec{
			Completions: ptr.To[int32](3), Parallelism: ptr.To[int32](2), BackoffLimit: ptr.To[int32](6),
			CompletionMode: ptr.To(v1alpha1.NonIndexedCompletion), Suspend: ptr.To(false),
		},
	}
	mutate(job)
	return job
}

func pod(name, phase string, mutate func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}, Spec: corev1.PodSpec{NodeName: "kwok-node-0"}}
	p.Status.Phase = corev1.PodPhase(phase)
	if mutate != nil {
		mutate(&p)
	}
	return p
}

func indexed(ix string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Labels[v1alpha1.JobCompletionIndexAnnotation] = ix }
}

func terminated(container string, code int32, reason string, finished time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: container,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: ago(finished)}}})
	}
}

func statusCases() map[string]statusInput {
	started := ago(2 * time.Minute)
	return map[string]statusInput{
		"running-indexed": {
			Job: baseJob(func(j *v1alpha1.BatchJob) {
				j.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
				j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](6), ptr.To[int32](3)
				j.Spec.BackoffLimitPerIndex, j.Spec.MaxFailedIndexes = ptr.To[int32](1), ptr.To[int32](2)
				j.Spec.ActiveDeadlineSeconds = ptr.To[int64](600)
				j.Status = v1alpha1.BatchJobStatus{StartTime: &started, Active: 3, Ready: ptr.To[int32](1), Failed: 2,
					Succeeded: 2, CompletedIndexes: "0,2", FailedIndexes: ptr.To("1"), State: "Running"}
			}),
			RecentFailures: []failure{{Pod: "work-1-old", Index: ptr.To(1), Node: "kwok-node-2", Container: "main",
				ExitCode: 137, Reason: "OOMKilled", Time: ago(90 * time.Second)}},
			Pods: []corev1.Pod{
				pod("work-3-abcde", "Pending", func(p *corev1.Pod) {
					indexed("3")(p)
					p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
						Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "busybox:nope"`}}}}
				}),
				pod("work-4-fghij", "Pending", func(p *corev1.Pod) {
					indexed("4")(p)
					p.Spec.NodeName = ""
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
						Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient memory."}}
				}),
				pod("work-5-klmno", "Running", indexed("5")),
				pod("work-1-pqrst", "Failed", func(p *corev1.Pod) { indexed("1")(p); terminated("main", 3, "Error", 30*time.Second)(p) }),
			},
			Now: now,
		},
		"suspended": {
			Job: baseJob(func(j *v1alpha1.BatchJob) {
				j.Spec.Suspend = ptr.To(true)
				j.ManagedFields = []metav1.ManagedFieldsEntry{
					{Manager: "kubectl-create", Operation: metav1.ManagedFieldsOperationUpdate, Time: &started,
						FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:suspend":{},"f:template":{}}}`)}},
					{Manager: "kueue", Operation: metav1.ManagedFieldsOperationUpdate, Time: ptr.To(ago(time.Minute)),
						FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:suspend":{}}}`)}},
					{Manager: "batchjob-controller", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status",
						Time: ptr.To(ago(time.Second)), FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{}}`)}},
				}
				j.Status = v1alpha1.BatchJobStatus{State: "Suspended", Conditions: []v1alpha1.JobCondition{
					{Type: v1alpha1.JobSuspended, Status: corev1.ConditionTrue, Reason: "JobSuspended"}}}
			}),
			Now: now,
		},
		"failed": {
			Job: baseJob(func(j *v1alpha1.BatchJob) {
				j.Status = v1alpha1.BatchJobStatus{StartTime: &started, Failed: 7, State: "Failed", Conditions: []v1alpha1.JobCondition{
					{Type: v1alpha1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"},
					{Type: v1alpha1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", LastTransitionTime: ago(10 * time.Second),
						Message: "Job has reached the specified backoff limit"}}}
			}),
			Pods: []corev1.Pod{pod("work-x", "Failed", terminated("work", 1, "Error", 12*time.Second)),
				pod("work-y", "Failed", func(p *corev1.Pod) { p.Status.Reason, p.Status.Message = "Evicted", "The node was low on memory." })},
			Now: now,
		},
		"backoff": {
			Job: baseJob(func(j *v1alpha1.BatchJob) {
				j.Spec.Completions = nil
				j.Status = v1alpha1.BatchJobStatus{StartTime: &started, Failed: 2}
				j.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
			}),
			NextPodCreation: ptr.To(now.Add(8 * time.Second)),
			Now:             now,
		},
		"not-started": {
			Job: baseJob(func(j *v1alpha1.BatchJob) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](90) }),
			Now: now,
		},
		"managed-elsewhere": {
			Job: baseJob(func(j *v1alpha1.BatchJob) {
				j.Spec.ManagedBy = ptr.To("kueue.x-k8s.io/multikueue")
				j.Status = v1alpha1.BatchJobStatus{StartTime: &started, Active: 2}
			}),
			Now: now,
		},
	}
}

func TestStatusGolden(t *testing.T) {
	for name, in := range statusCases() {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := describeStatus(&out, in); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "status-"+name+".golden", out.Bytes())
		})
	}
}

func TestExtraStatus(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{
		"nextPodCreationTime": "2026-03-01T12:00:08Z",
		"recentFailures": []any{map[string]any{"pod": "p", "index": int64(4), "container": "c", "exitCode": int64(2),
			"reason": "Error", "time": "2026-03-01T11:59:00Z"}},
	}}}
	failures, next := extraStatus(u)
	if next == nil || !next.Equal(now.Add(8*time.Second)) {
		t.Errorf("nextPodCreationTime = %v", next)
	}
	if len(failures) != 1 || failures[0].Pod != "p" || *failures[0].Index != 4 || failures[0].ExitCode != 2 ||
		!failures[0].Time.Equal(ptr.To(ago(time.Minute))) {
		t.Errorf("recentFailures = %+v", failures)
	}
}

func TestWaitOutcome(t *testing.T) {
	o, _, _ := testOptions("")
	failed := baseJob(func(j *v1alpha1.BatchJob) {
		j.Status.Conditions = []v1alpha1.JobCondition{{Type: v1alpha1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded"}}
	})
	var exit *exitError
	if done, err := waitOutcome(failed, v1alpha1.JobComplete, o); !done || !errors.As(err, &exit) || exit.code != 1 {
		t.Errorf("complete wanted, job failed: done=%v err=%v", done, err)
	}
	if done, err := waitOutcome(failed, v1alpha1.JobFailed, o); !done || err != nil {
		t.Errorf("failed wanted, job failed: done=%v err=%v", done, err)
	}
	running := baseJob(func(*v1alpha1.BatchJob) {})
	if done, _ := waitOutcome(running, v1alpha1.JobComplete, o); done {
		t.Error("a running job counted as finished")
	}
}
