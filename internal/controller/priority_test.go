package controller

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

func TestNearEnd(t *testing.T) {
	at := time.Unix(100, 0)
	cases := map[string]struct {
		job  *testutil.JobWrapper
		want bool
	}{
		"new one-pod job":                      {job: testutil.MakeBatchJob("j", "ns").Completions(1).Parallelism(1), want: true},
		"one-pod job, its pod running":         {job: testutil.MakeBatchJob("j", "ns").Completions(1).Active(1), want: true},
		"new job of two completions":           {job: testutil.MakeBatchJob("j", "ns").Completions(2).Parallelism(1)},
		"two completions, one succeeded":       {job: testutil.MakeBatchJob("j", "ns").Completions(2).Succeeded(1).Active(1), want: true},
		"two completions, one being counted":   {job: testutil.MakeBatchJob("j", "ns").Completions(2).Active(1).Uncounted([]types.UID{"a"}, nil), want: true},
		"failed pods do not count as progress": {job: testutil.MakeBatchJob("j", "ns").Completions(2).Failed(1).Uncounted(nil, []types.UID{"b"})},
		"last completion, two pods active":     {job: testutil.MakeBatchJob("j", "ns").Completions(5).Succeeded(4).Active(2)},
		"all succeeded, not yet finished":      {job: testutil.MakeBatchJob("j", "ns").Completions(5).Succeeded(5), want: true},
		"work queue, one pod active":           {job: testutil.MakeBatchJob("j", "ns").NoCompletions(1).Active(1), want: true},
		"work queue, three pods active":        {job: testutil.MakeBatchJob("j", "ns").NoCompletions(3).Active(3)},
		"finished":                             {job: testutil.MakeBatchJob("j", "ns").Completions(1).Succeeded(1).Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "", "", at)},
		"failed":                               {job: testutil.MakeBatchJob("j", "ns").Completions(1).Failed(7).Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "BackoffLimitExceeded", "", at)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := tc.job.Obj()
			if got := nearEnd(job, &job.Status); got != tc.want {
				t.Errorf("nearEnd = %v, want %v", got, tc.want)
			}
		})
	}
}

type queued struct {
	Name     string
	Priority int
}

// drain takes every ready item off q, in the order workers would get them.
func drain(q priorityqueue.PriorityQueue[reconcile.Request]) []queued {
	var out []queued
	for q.Len() > 0 {
		req, prio, _ := q.GetWithPriority()
		q.Done(req)
		out = append(out, queued{Name: req.Name, Priority: prio})
	}
	return out
}

// podUpdate delivers to h an update of job's pod, in phase before, changed by change.
func podUpdate(h *podHandler, q queue, job string, uid types.UID, before corev1.PodPhase, change func(*corev1.Pod)) {
	old := testutil.MakePod(job+"-pod", "ns").ControlledBy(job, uid).Phase(before).Obj()
	pod := old.DeepCopy()
	change(pod)
	h.Update(context.Background(), event.TypedUpdateEvent[client.Object]{ObjectOld: old, ObjectNew: pod}, q)
}

// A pod finishing, or losing its tracking finalizer, in a job near its end is passed ahead
// of passes queued before it; other events and other jobs' passes keep their order. A spec
// change of a job near its end (its generated selector written) moves the pass the For
// handler queued ahead too.
func TestNearEndPassesGoAhead(t *testing.T) {
	clk := clocktesting.NewFakeClock(epoch)
	mem := newJobMemory(clk, clk, 0, DefaultStatusBatchPeriod)
	uids := map[string]types.UID{"first": "u1", "second": "u2", "near": "u3", "finished": "u4"}
	for name, uid := range uids {
		mem.begin(types.NamespacedName{Namespace: "ns", Name: name}, uid)
	}
	mem.setNearEnd("u3", true)
	mem.setNearEnd("u4", true)
	mem.wrote("u4", "9", true, nil)
	h := &podHandler{mem: mem}
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	podEvent := func(job string) {
		podUpdate(h, q, job, uids[job], corev1.PodPending, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded })
	}
	podEvent("first")
	podEvent("finished")
	podEvent("near")
	podEvent("second")
	want := []queued{{"near", nearEndPriority}, {"first", 0}, {"finished", 0}, {"second", 0}}
	if diff := cmp.Diff(want, drain(q)); diff != "" {
		t.Errorf("pod events: passes in the order workers get them (-want +got):\n%s", diff)
	}

	// Only progress goes ahead: a pod that starts running, or the job's own status write,
	// keeps its place; a finalizer removal goes ahead.
	running := func(job string) {
		podUpdate(h, q, job, uids[job], corev1.PodPending, func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning })
	}
	status := &jobStatusHandler{pods: h}
	statusWrite := func(job string) {
		old := testutil.MakeBatchJob(job, "ns").WithUID(uids[job]).WithGeneration(1).Obj()
		updated := old.DeepCopy()
		updated.Status.Active = 1
		status.Update(context.Background(), event.TypedUpdateEvent[client.Object]{ObjectOld: old, ObjectNew: updated}, q)
	}
	finalizerRemoved := func(job string) {
		podUpdate(h, q, job, uids[job], corev1.PodSucceeded, func(p *corev1.Pod) { p.Finalizers = nil })
	}
	running("first")
	running("near")
	want = []queued{{"first", 0}, {"near", 0}}
	if diff := cmp.Diff(want, drain(q)); diff != "" {
		t.Errorf("pods running: (-want +got):\n%s", diff)
	}
	statusWrite("first")
	statusWrite("near")
	want = []queued{{"first", 0}, {"near", 0}}
	if diff := cmp.Diff(want, drain(q)); diff != "" {
		t.Errorf("status writes: (-want +got):\n%s", diff)
	}
	finalizerRemoved("first")
	finalizerRemoved("near")
	want = []queued{{"near", nearEndPriority}, {"first", 0}}
	if diff := cmp.Diff(want, drain(q)); diff != "" {
		t.Errorf("finalizers removed: (-want +got):\n%s", diff)
	}

	specEvent := func(job string) {
		old := testutil.MakeBatchJob(job, "ns").WithUID(uids[job]).WithGeneration(1).Obj()
		updated := old.DeepCopy()
		updated.Generation = 2
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: job}}) // the For handler
		status.Update(context.Background(), event.TypedUpdateEvent[client.Object]{ObjectOld: old, ObjectNew: updated}, q)
	}
	specEvent("first")
	specEvent("near")
	want = []queued{{"near", nearEndPriority}, {"first", 0}}
	if diff := cmp.Diff(want, drain(q)); diff != "" {
		t.Errorf("spec changes: passes in the order workers get them (-want +got):\n%s", diff)
	}
}
