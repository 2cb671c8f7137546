package kueue

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kueueapi "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func queued() *testutil.JobWrapper {
	w := testutil.MakeBatchJob("job", "ns").Parallelism(2).Completions(4).Suspend(true).Label(QueueNameLabel, "q")
	w.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	return w
}

func cond(t string, s metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: t, Status: s, Reason: reason, Message: reason + " message"}
}

func workload(job *v1alpha1.BatchJob, conds ...metav1.Condition) *kueueapi.Workload {
	wl := NewWorkload(job, nil, 0)
	wl.Status.Conditions = conds
	for _, c := range conds {
		if c.Type == kueueapi.WorkloadQuotaReserved && c.Status == metav1.ConditionTrue {
			wl.Status.Admission = &kueueapi.Admission{ClusterQueue: "cq", PodSetAssignments: []kueueapi.PodSetAssignment{{
				Name: kueueapi.DefaultPodSetName, Flavors: map[corev1.ResourceName]kueueapi.ResourceFlavorReference{corev1.ResourceCPU: "default"},
				Count: ptr.To[int32](2),
			}}}
		}
	}
	return wl
}

var (
	reserved   = cond(kueueapi.WorkloadQuotaReserved, metav1.ConditionTrue, "QuotaReserved")
	pending    = cond(kueueapi.WorkloadQuotaReserved, metav1.ConditionFalse, "Pending")
	admitted   = cond(kueueapi.WorkloadAdmitted, metav1.ConditionTrue, "Admitted")
	preempted  = cond(kueueapi.WorkloadEvicted, metav1.ConditionTrue, kueueapi.WorkloadEvictedByPreemption)
	wlFinished = cond(kueueapi.WorkloadFinished, metav1.ConditionTrue, kueueapi.WorkloadFinishedReasonSucceeded)
)

type decideCase struct {
	job  *v1alpha1.BatchJob
	wl   *kueueapi.Workload
	want Decision
}

func TestDecide(t *testing.T) {
	running := func() *testutil.JobWrapper { return queued().Suspend(false).Active(2).StartTime(now) }
	stoppingJob := func() *testutil.JobWrapper {
		w := queued().StartTime(now)
		w.Annotations = map[string]string{StoppingAnnotation: "true"}
		return w
	}
	stopped := stoppingJob().Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "", now)
	deleted := func(wl *kueueapi.Workload) *kueueapi.Workload {
		wl.DeletionTimestamp = &metav1.Time{Time: now}
		return wl
	}
	noFinalizer := func(wl *kueueapi.Workload) *kueueapi.Workload { wl.Finalizers = nil; return wl }
	resized := queued().Parallelism(3).Obj()

	cases := map[string]decideCase{
		"no queue name":                  {testutil.MakeBatchJob("job", "ns").Obj(), nil, Decision{}},
		"queued, no workload: create":    {queued().Obj(), nil, Decision{Action: CreateWorkload}},
		"suspended with pods: wait":      {queued().Active(1).Obj(), nil, Decision{}},
		"running without workload: stop": {running().Obj(), nil, Decision{Action: Suspend, Reason: "NoMatchingWorkload", Message: "Missing Workload; unable to restore pod templates"}},
		"pending: wait":                  {queued().Obj(), workload(queued().Obj(), pending), Decision{}},
		"pending and changed: update":    {resized, workload(queued().Obj(), pending), Decision{Action: UpdateWorkload}},
		"reserved and changed: wait":     {resized, workload(queued().Obj(), reserved), Decision{}},
		"queue renamed: move":            {queued().Label(QueueNameLabel, "other").Obj(), workload(queued().Obj(), pending), Decision{Action: UpdateQueueName}},
		"admitted: start": {queued().Obj(), workload(queued().Obj(), reserved, admitted),
			Decision{Action: Start, Message: "Admitted by clusterQueue cq"}},
		"Admitted without an admission (a hand-written status): wait, no panic": {queued().Obj(), workload(queued().Obj(), admitted), Decision{}},
		"admitted, pods still stopping: wait":                                   {queued().Active(1).Obj(), workload(queued().Obj(), reserved, admitted), Decision{}},
		"admitted, started and not yet stopped: wait":                           {queued().StartTime(now).Obj(), workload(queued().Obj(), reserved, admitted), Decision{}},
		"admitted, running: nothing":                                            {running().Obj(), workload(queued().Obj(), reserved, admitted), Decision{}},
		"running, quota only (checks pending): stop": {running().Obj(), workload(queued().Obj(), reserved),
			Decision{Action: Suspend, Reason: "NotAdmitted", Message: "Not admitted by cluster queue"}},
		"evicted while running: stop": {running().Obj(), workload(queued().Obj(), reserved, admitted, preempted),
			Decision{Action: Suspend, Reason: "WorkloadEvicted", Message: "Preempted message"}},
		"stopping, pods not gone: wait":      {stoppingJob().Active(1).Obj(), workload(queued().Obj(), reserved, admitted, preempted), Decision{}},
		"stopping, not yet Suspended: wait":  {stoppingJob().Obj(), workload(queued().Obj(), reserved, admitted, preempted), Decision{}},
		"stopped: restore the template":      {stopped.Obj(), workload(queued().Obj(), reserved, admitted, preempted), Decision{Action: Restore}},
		"restored, evicted: clear admission": {queued().Obj(), workload(queued().Obj(), reserved, admitted, preempted), Decision{Action: ClearAdmission, Reason: kueueapi.WorkloadEvictedByPreemption, Message: "Preempted message"}},
		"evicted and cleared: wait":          {queued().Obj(), workload(queued().Obj(), pending, preempted), Decision{}},
		"complete: finish the workload":      {queued().Suspend(false).Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "", "done", now).Obj(), workload(queued().Obj(), reserved, admitted), Decision{Action: Finish, Reason: kueueapi.WorkloadFinishedReasonSucceeded, Message: "done"}},
		"failed: finish the workload":        {queued().Suspend(false).Condition(v1alpha1.JobFailed, corev1.ConditionTrue, "BackoffLimitExceeded", "failed", now).Obj(), workload(queued().Obj(), reserved, admitted), Decision{Action: Finish, Reason: kueueapi.WorkloadFinishedReasonFailed, Message: "failed"}},
		"finished workload: drop finalizer":  {queued().Obj(), workload(queued().Obj(), wlFinished), Decision{Action: RemoveFinalizer}},
		"finished workload, released: done":  {queued().Obj(), noFinalizer(workload(queued().Obj(), wlFinished)), Decision{}},
		"workload deleted, running: stop":    {running().Obj(), deleted(workload(queued().Obj(), reserved, admitted)), Decision{Action: Suspend, Reason: "WorkloadDeleted", Message: "Workload is deleted"}},
		"workload deleted, stopped: release": {queued().Obj(), deleted(workload(queued().Obj())), Decision{Action: RemoveFinalizer}},
		"complete without workload: nothing": {queued().Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "", "", now).Obj(), nil, Decision{}},
	}
	withClass := func(wl *kueueapi.Workload, name string) *kueueapi.Workload {
		wl.Spec.PriorityClassRef = kueueapi.NewWorkloadPriorityClassRef(name)
		return wl
	}
	labelled := func(w *testutil.JobWrapper, name string) *v1alpha1.BatchJob {
		return w.Label(PriorityClassLabel, name).Obj()
	}
	cases["priority label added: update"] = decideCase{labelled(queued(), "high"), workload(queued().Obj(), pending), Decision{Action: UpdatePriority}}
	cases["priority label added while reserved: the API refuses, wait"] = decideCase{labelled(running(), "high"), workload(queued().Obj(), reserved, admitted), Decision{}}
	cases["priority class renamed while running: update"] = decideCase{labelled(running(), "high"), withClass(workload(queued().Obj(), reserved, admitted), "low"), Decision{Action: UpdatePriority}}
	cases["priority class unchanged: nothing"] = decideCase{labelled(running(), "high"), withClass(workload(queued().Obj(), reserved, admitted), "high"), Decision{}}
	podClass := workload(queued().Obj(), pending)
	podClass.Spec.PriorityClassRef = kueueapi.NewPodPriorityClassRef("pod-class")
	cases["priority from the pod's class: the label is not compared"] = decideCase{queued().Obj(), podClass, Decision{}}
	// A stopping job that never started may be restored at once (without a Workload only
	// the annotation goes).
	nostart := stoppingJob().Obj()
	nostart.Status.StartTime = nil
	cases["stopping, never started: restore"] = decideCase{nostart, nil, Decision{Action: Restore}}
	for name, tc := range prebuiltCases() {
		cases[name] = tc
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Decide(tc.job, tc.wl)); diff != "" {
				t.Errorf("Decide (-want,+got):\n%s", diff)
			}
		})
	}
}

// prebuiltCases are jobs with a PrebuiltWorkloadLabel (MultiKueue's copy on a worker
// cluster): the named Workload is adopted, never created or rewritten, and one that no
// longer describes the job is finished as out of sync.
func prebuiltCases() map[string]decideCase {
	job := func() *testutil.JobWrapper { return queued().Label(PrebuiltWorkloadLabel, "wl") }
	unowned := func(wl *kueueapi.Workload) *kueueapi.Workload { wl.OwnerReferences = nil; return wl }
	outOfSync := Decision{Action: Finish, Reason: kueueapi.WorkloadFinishedReasonOutOfSync, Message: "The prebuilt workload is out of sync with its user job"}
	partial := workload(queued().Obj(), reserved, admitted) // admission count 2 of parallelism 2
	partial.Spec.PodSets[0].Count = 4
	return map[string]decideCase{
		"prebuilt, no workload yet: wait, do not create": {job().Obj(), nil, Decision{}},
		"prebuilt, no workload, running: stop":           {job().Suspend(false).Active(2).StartTime(now).Obj(), nil, Decision{Action: Suspend, Reason: "NoMatchingWorkload", Message: "missing workload"}},
		"prebuilt, not controlled yet: adopt":            {job().Obj(), unowned(workload(queued().Obj(), reserved, admitted)), Decision{Action: AdoptWorkload}},
		"prebuilt, finished and not controlled: adopt":   {job().Obj(), unowned(workload(queued().Obj(), wlFinished)), Decision{Action: AdoptWorkload}},
		"prebuilt, adopted and admitted: start":          {job().Obj(), workload(queued().Obj(), reserved, admitted), Decision{Action: Start, Message: "Admitted by clusterQueue cq"}},
		"prebuilt, pending: wait":                        {job().Obj(), workload(queued().Obj(), pending), Decision{}},
		"prebuilt, pending and changed: out of sync":     {job().Parallelism(3).Obj(), workload(queued().Obj(), pending), outOfSync},
		"prebuilt, other container resources: out of sync": {job().Obj(), func() *kueueapi.Workload {
			wl := workload(queued().Obj(), reserved, admitted)
			wl.Spec.PodSets[0].Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
			return wl
		}(), outOfSync},
		"prebuilt, reserved with another count (partial admission): in sync, start": {job().Obj(), partial, Decision{Action: Start, Message: "Admitted by clusterQueue cq"}},
		"prebuilt, queue name differs: the Workload is not rewritten":               {job().Label(QueueNameLabel, "other").Obj(), workload(queued().Obj(), pending), Decision{}},
		"prebuilt, priority label added: the Workload is not rewritten":             {job().Label(PriorityClassLabel, "high").Obj(), workload(queued().Obj(), pending), Decision{}},
		"prebuilt, complete: finish the workload": {job().Suspend(false).Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "", "done", now).Obj(),
			workload(queued().Obj(), reserved, admitted), Decision{Action: Finish, Reason: kueueapi.WorkloadFinishedReasonSucceeded, Message: "done"}},
		"prebuilt label without queue name: not managed": {testutil.MakeBatchJob("job", "ns").Label(PrebuiltWorkloadLabel, "wl").Obj(), nil, Decision{}},
	}
}

func TestPodSetsAndWorkload(t *testing.T) {
	job := queued().Label(PriorityClassLabel, "high").Obj()
	job.Spec.Template.Labels[v1alpha1.ControllerUIDLabel] = "uid"
	job.Spec.Template.Labels[v1alpha1.JobNameLabel] = "job"
	wl := NewWorkload(job, kueueapi.NewWorkloadPriorityClassRef("high"), 1000)
	if wl.Name != WorkloadName(job) || wl.Namespace != "ns" || !metav1.IsControlledBy(wl, job) {
		t.Errorf("Workload %s/%s, controlled by the job: %v", wl.Namespace, wl.Name, metav1.IsControlledBy(wl, job))
	}
	ps := wl.Spec.PodSets
	if len(ps) != 1 || ps[0].Name != "main" || ps[0].Count != 2 || ps[0].MinCount != nil {
		t.Fatalf("pod sets %+v", ps)
	}
	if diff := cmp.Diff(map[string]string{"app": "job"}, ps[0].Template.Labels); diff != "" {
		t.Errorf("pod set labels without the managed ones (-want,+got):\n%s", diff)
	}
	if *wl.Spec.Priority != 1000 || wl.Spec.PriorityClassRef.Name != "high" || wl.Spec.QueueName != "q" {
		t.Errorf("priority %v %+v queue %q", *wl.Spec.Priority, wl.Spec.PriorityClassRef, wl.Spec.QueueName)
	}
	if got := WorkloadName(job); got != WorkloadName(job.DeepCopy()) || len(got) != len("batchjob-job-")+5 {
		t.Errorf("WorkloadName %q", got)
	}
	other := job.DeepCopy()
	other.UID = "other"
	if WorkloadName(other) == WorkloadName(job) {
		t.Errorf("a re-created job of the same name got the same Workload name")
	}
	// completions below parallelism: the count is completions; partial admission sets minCount.
	small := queued().Parallelism(5).Completions(3).Obj()
	small.Annotations = map[string]string{MinParallelismAnnotation: "1"}
	if ps := PodSets(small); ps[0].Count != 3 || ptr.Deref(ps[0].MinCount, 0) != 1 {
		t.Errorf("count %d minCount %v, want 3 and 1", ps[0].Count, ps[0].MinCount)
	}
}

func TestAdmissionAppliedAndRestored(t *testing.T) {
	job := queued().Obj()
	job.Spec.Template.Spec.NodeSelector = map[string]string{"os": "linux"}
	job.Spec.Template.Labels[v1alpha1.ControllerUIDLabel] = "uid"
	job.Annotations = map[string]string{MinParallelismAnnotation: "1", CompletionsEqualParallelismAnnotation: "true"}
	job.Spec.Completions = ptr.To[int32](2)
	wl := workload(job, reserved, admitted)
	wl.Status.Admission.PodSetAssignments[0].Count = ptr.To[int32](1) // partially admitted
	tol := corev1.Toleration{Key: "spot", Operator: corev1.TolerationOpExists}
	wl.Status.AdmissionChecks = []kueueapi.AdmissionCheckState{{Name: "check", PodSetUpdates: []kueueapi.PodSetUpdate{{
		Name: "main", Annotations: map[string]string{"checked": "yes"}, NodeSelector: map[string]string{"zone": "a"},
	}}}}
	flavors := map[kueueapi.ResourceFlavorReference]Flavor{"default": {NodeLabels: map[string]string{"pool": "batch"}, Tolerations: []corev1.Toleration{tol}}}

	if _, err := AdmittedInfo(wl, map[kueueapi.ResourceFlavorReference]Flavor{}); err == nil {
		t.Errorf("AdmittedInfo without the flavor: no error")
	}
	info, err := AdmittedInfo(wl, flavors)
	if err != nil {
		t.Fatal(err)
	}
	started := job.DeepCopy()
	if err := ApplyAdmission(started, info); err != nil {
		t.Fatal(err)
	}
	tpl := started.Spec.Template
	if ptr.Deref(started.Spec.Suspend, true) || *started.Spec.Parallelism != 1 || *started.Spec.Completions != 1 {
		t.Errorf("suspend %v parallelism %d completions %d, want false 1 1", *started.Spec.Suspend, *started.Spec.Parallelism, *started.Spec.Completions)
	}
	if diff := cmp.Diff(map[string]string{"os": "linux", "pool": "batch", "zone": "a"}, tpl.Spec.NodeSelector); diff != "" {
		t.Errorf("nodeSelector (-want,+got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.Toleration{tol}, tpl.Spec.Tolerations); diff != "" {
		t.Errorf("tolerations (-want,+got):\n%s", diff)
	}
	if tpl.Labels[PodSetLabel] != "main" || tpl.Annotations["checked"] != "yes" {
		t.Errorf("labels %v annotations %v", tpl.Labels, tpl.Annotations)
	}

	info2, _ := restoreInfo(wl)
	restored := started.DeepCopy()
	restored.Spec.Suspend = ptr.To(true) // the Suspend step's
	if !RestoreTemplate(restored, info2) {
		t.Fatalf("RestoreTemplate changed nothing")
	}
	if diff := cmp.Diff(job.Spec, restored.Spec); diff != "" {
		t.Errorf("restored spec (-want,+got):\n%s", diff)
	}
	if RestoreTemplate(restored, info2) {
		t.Errorf("a second RestoreTemplate changed something")
	}

	// A podSetUpdate that contradicts the job's own node selector cannot start it, ever.
	job.Spec.Template.Spec.NodeSelector["zone"] = "b"
	var perm permanentError
	if err := ApplyAdmission(job.DeepCopy(), info); !errors.As(err, &perm) {
		t.Errorf("conflicting nodeSelector: %v, want a permanent error", err)
	}
}

func TestClearAdmissionStatus(t *testing.T) {
	job := queued().Obj()
	wl := workload(job, reserved, admitted, preempted)
	apimeta.FindStatusCondition(wl.Status.Conditions, kueueapi.WorkloadAdmitted).LastTransitionTime = metav1.NewTime(now.Add(-time.Minute))
	ClearAdmissionStatus(wl, kueueapi.WorkloadEvictedByPreemption, "preempted", now)
	if wl.Status.Admission != nil || isTrue(wl, kueueapi.WorkloadQuotaReserved) || isTrue(wl, kueueapi.WorkloadAdmitted) ||
		!isTrue(wl, kueueapi.WorkloadRequeued) || ptr.Deref(wl.Status.AccumulatedPastExecutionTimeSeconds, 0) != 60 {
		t.Errorf("status after clearing: %+v", wl.Status)
	}
	if c := apimeta.FindStatusCondition(wl.Status.Conditions, kueueapi.WorkloadQuotaReserved); c.Reason != "Pending" {
		t.Errorf("QuotaReserved reason %q, want Pending", c.Reason)
	}
	SetFinished(wl, kueueapi.WorkloadFinishedReasonSucceeded, "done", now)
	if !isTrue(wl, kueueapi.WorkloadFinished) {
		t.Errorf("not Finished")
	}
}
