package plan

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

// outcome is the part of a Result a test states exactly, with pods reduced to names.
type outcome struct {
	Status                                    v1alpha1.BatchJobStatus
	StatusChanged                             bool
	Deleted                                   []string // "name" or "name/strip" for StripFinalizerFirst
	Created                                   []string // generateName, plus " fc=C/I" with failure counts
	CreateReason                              string
	RemoveFinalizers                          []string
	Events                                    []Event
	Finished                                  *Finish
	PodsFinishedSucceeded, PodsFinishedFailed int32
	FailurePolicyActions                      map[v1alpha1.PodFailurePolicyAction]int32
	RequeueAfter                              time.Duration
	TTLExpired                                bool
	// AfterRelease is the write planned after the finalizer removals, if any.
	AfterRelease *outcome
}

func summarize(r Result) outcome {
	o := outcome{
		Status: r.Status, StatusChanged: r.StatusChanged, CreateReason: r.CreateReason, Events: r.Events,
		Finished: r.Finished, PodsFinishedSucceeded: r.PodsFinishedSucceeded, PodsFinishedFailed: r.PodsFinishedFailed,
		FailurePolicyActions: r.FailurePolicyActions, RequeueAfter: r.RequeueAfter, TTLExpired: r.TTLExpired,
	}
	for _, d := range r.Delete {
		name := d.Pod.Name
		if d.StripFinalizerFirst {
			name += "/strip"
		}
		o.Deleted = append(o.Deleted, name)
	}
	for _, p := range r.Create {
		name := p.GenerateName
		if fc, ok := p.Annotations[v1alpha1.JobIndexFailureCountAnnotation]; ok {
			name += fmt.Sprintf(" fc=%s/%s", fc, p.Annotations[v1alpha1.JobIndexIgnoredFailureCountAnnotation])
		}
		o.Created = append(o.Created, name)
	}
	for _, p := range r.RemoveFinalizers {
		o.RemoveFinalizers = append(o.RemoveFinalizers, p.Name)
	}
	if r.AfterRelease != nil {
		rel := summarize(*r.AfterRelease)
		o.AfterRelease = &rel
	}
	return o
}

// ignorePrint leaves the printing fields to TestPrintFields and TestPlanState, and the
// status fields beyond batch/v1 to their own tests (plan_beyond_*_test.go).
var ignorePrint = cmpopts.IgnoreFields(v1alpha1.BatchJobStatus{}, "State", "CompletionsText", "Duration",
	"NextPodCreationTime", "RecentFailures")

type planCase struct {
	job         *v1alpha1.BatchJob
	pods        []*corev1.Pod
	unsatisfied bool           // expectations not satisfied
	pending     []types.UID    // finalizer removals in flight
	backoff     *BackoffRecord // nil: rebuilt from pods
	want        outcome
	// beyond compares status.state and the status fields beyond batch/v1 too; the job's
	// status then holds them as the previous write stored them.
	beyond bool
}

func runPlanCases(t *testing.T, cases map[string]planCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := Input{
				Job: tc.job, Pods: tc.pods, Now: now, ExpectationsSatisfied: !tc.unsatisfied,
				FinalizerRemovalPending: sets.New(tc.pending...), Backoff: tc.backoff,
			}
			opts := ignorePrint
			if tc.beyond {
				storedKubectlFields(tc.job)
				opts = ignoreKubectlPrint
			} else {
				storedPrintFields(tc.job, in)
			}
			jobBefore := tc.job.DeepCopy()
			var podsBefore []*corev1.Pod
			for _, p := range tc.pods {
				podsBefore = append(podsBefore, p.DeepCopy())
			}
			got := Plan(in)
			if diff := cmp.Diff(tc.want, summarize(got), opts); diff != "" {
				t.Errorf("Plan (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(jobBefore, tc.job); diff != "" {
				t.Errorf("Plan mutated the job (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(podsBefore, tc.pods); diff != "" {
				t.Errorf("Plan mutated the pods (-want,+got):\n%s", diff)
			}
		})
	}
}

// Shorthands for the builders.
var (
	job    = testutil.MakeBatchJob
	status = testutil.MakeStatus
)

func pod(name string) *testutil.PodWrapper { return testutil.MakePod(name, "ns") }

func pods(ps ...*testutil.PodWrapper) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range ps {
		out = append(out, p.Obj())
	}
	return out
}

// running, succeeded and failed pods with deterministic finish times.
func running(name string) *testutil.PodWrapper {
	return pod(name).Phase(corev1.PodRunning).NodeName("n").Created(ago(time.Hour))
}

func succeeded(name string) *testutil.PodWrapper {
	return pod(name).Phase(corev1.PodSucceeded).Exited("main", 0, ago(time.Hour))
}

func failed(name string) *testutil.PodWrapper {
	return pod(name).Phase(corev1.PodFailed).Exited("main", 1, ago(time.Hour))
}

func uids(names ...string) []types.UID {
	var out []types.UID
	for _, n := range names {
		out = append(out, types.UID(n))
	}
	return out
}

func completedEvent() Event {
	return Event{Type: corev1.EventTypeNormal, Reason: "Completed", Message: "Job completed"}
}

// ignoreKubectlPrint leaves out the printing fields that only copy kubectl's.
var ignoreKubectlPrint = cmpopts.IgnoreFields(v1alpha1.BatchJobStatus{}, "CompletionsText", "Duration")

// storedKubectlFields fills the printing fields of a job's status that copy kubectl's, and
// the state only when the case left it empty.
func storedKubectlFields(j *v1alpha1.BatchJob) {
	state := j.Status.State
	defaulted := j.DeepCopy()
	v1alpha1.SetDefaults(defaulted)
	v1alpha1.SetPrintFields(defaulted, &j.Status, now)
	if state != "" {
		j.Status.State = state
	}
}

// storedPrintFields fills the printing fields of a job's status as the previous write
// did, so cases about "no change" do not trip over them. What depends on the pods (the
// state where kubectl would print Running, nextPodCreationTime) is what a pass over the
// same input says; cases about those fields set State in the job's status themselves.
func storedPrintFields(j *v1alpha1.BatchJob, in Input) {
	if j.Status.State != "" {
		return
	}
	defaulted := j.DeepCopy()
	v1alpha1.SetDefaults(defaulted)
	v1alpha1.SetPrintFields(defaulted, &j.Status, now)
	in.Job = j.DeepCopy()
	out := Plan(in).Status
	switch out.State {
	case v1alpha1.StatePending, v1alpha1.StateBackingOff:
		if j.Status.State == v1alpha1.StateRunning {
			j.Status.State = out.State
		}
	}
	if j.Status.NextPodCreationTime == nil {
		j.Status.NextPodCreationTime = out.NextPodCreationTime
	}
}

type (
	jobW = testutil.JobWrapper
	podW = testutil.PodWrapper
)

func ptrInt32(n int32) *int32 { return &n }

func metaTime(t time.Time) metav1.Time { return metav1.NewTime(t) }
