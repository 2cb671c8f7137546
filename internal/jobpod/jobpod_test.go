package jobpod

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/testutil"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestPredicates(t *testing.T) {
	type got struct{ Active, Terminating, Failed, FailedOnlyReplaceFailed, Ready bool }
	cases := map[string]struct {
		pod  *corev1.Pod
		want got
	}{
		"pending":           {pod: testutil.MakePod("p", "ns").Obj(), want: got{Active: true}},
		"running ready":     {pod: testutil.MakePod("p", "ns").Phase(corev1.PodRunning).Ready(t0).Obj(), want: got{Active: true, Ready: true}},
		"succeeded":         {pod: testutil.MakePod("p", "ns").Phase(corev1.PodSucceeded).Obj(), want: got{}},
		"failed":            {pod: testutil.MakePod("p", "ns").Phase(corev1.PodFailed).Obj(), want: got{Failed: true, FailedOnlyReplaceFailed: true}},
		"running deleted":   {pod: testutil.MakePod("p", "ns").Phase(corev1.PodRunning).Deleted(t0).Obj(), want: got{Terminating: true, Failed: true}},
		"succeeded deleted": {pod: testutil.MakePod("p", "ns").Phase(corev1.PodSucceeded).Deleted(t0).Obj(), want: got{}},
		"failed deleted":    {pod: testutil.MakePod("p", "ns").Phase(corev1.PodFailed).Deleted(t0).Obj(), want: got{Failed: true, FailedOnlyReplaceFailed: true}},
		"ready false":       {pod: testutil.MakePod("p", "ns").Phase(corev1.PodRunning).NotReadySince(t0).Obj(), want: got{Active: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := got{IsActive(tc.pod), IsTerminating(tc.pod), IsFailed(tc.pod, false), IsFailed(tc.pod, true), IsReady(tc.pod)}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("(-want,+got):\n%s", diff)
			}
		})
	}
}

func TestAnnotations(t *testing.T) {
	cases := map[string]struct {
		annotations             map[string]string
		index                   int
		failures, ignoredFailed int32
	}{
		"none":     {index: NoIndex},
		"valid":    {annotations: map[string]string{"batchjob.dev/job-completion-index": "4", "batchjob.dev/job-index-failure-count": "2", "batchjob.dev/job-index-ignored-failure-count": "1"}, index: 4, failures: 2, ignoredFailed: 1},
		"negative": {annotations: map[string]string{"batchjob.dev/job-completion-index": "-4", "batchjob.dev/job-index-failure-count": "-1"}, index: NoIndex},
		"garbage":  {annotations: map[string]string{"batchjob.dev/job-completion-index": "x", "batchjob.dev/job-index-failure-count": "99999999999"}, index: NoIndex},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := testutil.MakePod("p", "ns").Obj()
			p.Annotations = tc.annotations
			if Index(p) != tc.index || FailureCount(p) != tc.failures || IgnoredFailureCount(p) != tc.ignoredFailed {
				t.Errorf("got index %d failures %d ignored %d, want %d %d %d", Index(p), FailureCount(p), IgnoredFailureCount(p), tc.index, tc.failures, tc.ignoredFailed)
			}
		})
	}
}

func TestSortForDeletion(t *testing.T) {
	sidecarPod := testutil.MakePod("sidecar-restarts", "ns").NodeName("n").Phase(corev1.PodRunning).Created(t0).Obj()
	sidecarPod.Spec.InitContainers = []corev1.Container{{Name: "s", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}}
	sidecarPod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "s", RestartCount: 3}}
	pods := []*corev1.Pod{
		testutil.MakePod("old-ready", "ns").NodeName("n").Phase(corev1.PodRunning).Ready(t0).Created(t0).Obj(),
		testutil.MakePod("recent-ready", "ns").NodeName("n").Phase(corev1.PodRunning).Ready(t0.Add(time.Minute)).Created(t0).Obj(),
		sidecarPod,
		testutil.MakePod("running-old", "ns").NodeName("n").Phase(corev1.PodRunning).Created(t0).Obj(),
		testutil.MakePod("running-new", "ns").NodeName("n").Phase(corev1.PodRunning).Created(t0.Add(time.Second)).Obj(),
		testutil.MakePod("restarts", "ns").NodeName("n").Phase(corev1.PodRunning).Restarts("main", 2).Created(t0).Obj(),
		testutil.MakePod("unknown", "ns").NodeName("n").Phase(corev1.PodUnknown).Obj(),
		testutil.MakePod("pending-scheduled", "ns").NodeName("n").Obj(),
		testutil.MakePod("unscheduled", "ns").Phase(corev1.PodRunning).Obj(),
	}
	SortForDeletion(pods)
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	want := []string{"unscheduled", "pending-scheduled", "unknown", "restarts", "sidecar-restarts", "running-new", "running-old", "recent-ready", "old-ready"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("order (-want,+got):\n%s", diff)
	}
}
