package plan

import (
	"fmt"
	"math"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Guards against inputs the API server should have rejected, or that are only odd: the
// plan never creates pods its selector would not select, never overflows a deadline, and
// caps every kind of pod write per pass.
func TestPlanGuards(t *testing.T) {
	started := ago(time.Minute)
	uidLabel := v1alpha1.ControllerUIDLabel
	runPlanCases(t, map[string]planCase{
		"manualSelector pinned to a predecessor's UID: pods carry the template's labels and are created": {
			job: job("pi", "ns").ManualSelector(map[string]string{uidLabel: "old-uid"}).TemplateLabel(uidLabel, "old-uid").
				Completions(2).Parallelism(2).Obj(),
			want: outcome{Status: status().Active(2).StartTime(now).Obj(), StatusChanged: true,
				Created: []string{"pi-", "pi-"}, CreateReason: "new"},
		},
		"selector that does not select the template: no pod, a Warning event": {
			job: job("pi", "ns").ManualSelector(map[string]string{"app": "other"}).Completions(2).Parallelism(2).Obj(),
			want: outcome{Status: status().StartTime(now).Obj(), StatusChanged: true,
				Events: []Event{{Type: corev1.EventTypeWarning, Reason: v1alpha1.ReasonInvalidSelector,
					Message: `Not creating pods: spec.selector "app=other" does not select the pods' labels ` +
						`"app=pi,batchjob.dev/controller-uid=pi-uid,batchjob.dev/job-name=pi,controller-uid=pi-uid,job-name=pi"`}}},
		},
		"empty selector: no pod": {
			job: job("pi", "ns").WithSpec(func(s *v1alpha1.BatchJobSpec) {
				s.ManualSelector, s.Selector = ptrTo(true), &metav1.LabelSelector{}
			}).Obj(),
			want: outcome{Status: status().StartTime(now).Obj(), StatusChanged: true,
				Events: []Event{{Type: corev1.EventTypeWarning, Reason: v1alpha1.ReasonInvalidSelector,
					Message: `Not creating pods: spec.selector "" does not select the pods' labels ` +
						`"app=pi,batchjob.dev/controller-uid=pi-uid,batchjob.dev/job-name=pi,controller-uid=pi-uid,job-name=pi"`}}},
		},
		"unparsable selector: no pod": {
			job: job("pi", "ns").WithSpec(func(s *v1alpha1.BatchJobSpec) {
				s.ManualSelector = ptrTo(true)
				s.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
			}).Obj(),
			want: outcome{Status: status().StartTime(now).Obj(), StatusChanged: true,
				Events: []Event{{Type: corev1.EventTypeWarning, Reason: v1alpha1.ReasonInvalidSelector,
					Message: `Not creating pods: spec.selector is invalid: "Near" is not a valid label selector operator`}}},
		},
		// The API server lets a pod's status go from Succeeded to Failed (a KWOK kubelet did,
		// for a pod deleted as it succeeded). Recorded as succeeded, it stays so: listed in
		// both uncounted lists the status would be rejected (Duplicate value) on every pass.
		"a pod recorded as succeeded that turned Failed is not recorded as failed too": {
			job: job("pi", "ns").Completions(2).Parallelism(2).
				Status(status().Active(1).Ready(0).Terminating(0).StartTime(started).Uncounted([]types.UID{"a"}, nil).Obj()).Obj(),
			pods: pods(failed("a"), running("b")),
			want: outcome{Status: status().Active(1).StartTime(started).Ready(0).Terminating(0).Uncounted([]types.UID{"a"}, nil).Obj(),
				RemoveFinalizers: []string{"a"}},
		},
		"activeDeadlineSeconds too large for a Duration: no instant DeadlineExceeded": {
			job:  job("pi", "ns").ActiveDeadlineSeconds(math.MaxInt64).Status(status().Active(1).Ready(0).Terminating(0).StartTime(started).Obj()).Obj(),
			pods: pods(running("a")),
			want: outcome{Status: status().Active(1).StartTime(started).Ready(0).Terminating(0).Obj(),
				RequeueAfter: time.Duration(math.MaxInt64) - time.Minute},
		},
	})
}

func ptrTo[T any](v T) *T { return &v }

// TestPlanCapsPodWritesPerPass: a huge job that must stop every pod deletes, and releases,
// at most 500 per pass and asks for another pass at once.
func TestPlanCapsPodWritesPerPass(t *testing.T) {
	const n = 1200
	var running []*corev1.Pod
	for i := range n {
		running = append(running, pod(fmt.Sprintf("r%04d", i)).Phase(corev1.PodRunning).NodeName("n").Created(ago(time.Hour)).Obj())
	}
	started := ago(2 * time.Minute)
	cases := map[string]struct {
		job                   *v1alpha1.BatchJob
		pods                  []*corev1.Pod
		wantDelete, wantStrip int
		wantRemove            int
	}{
		"deadline exceeded": {
			job:  job("pi", "ns").Completions(n).Parallelism(n).ActiveDeadlineSeconds(60).Status(status().Active(n).StartTime(started).Obj()).Obj(),
			pods: running, wantDelete: 500, wantRemove: 500,
		},
		"suspended": {
			job:  job("pi", "ns").Completions(n).Parallelism(n).Suspend(true).Status(status().Active(n).StartTime(started).Obj()).Obj(),
			pods: running, wantDelete: 500, wantStrip: 500,
		},
		"scaled down to 0": {
			job:  job("pi", "ns").Completions(n).Parallelism(0).Status(status().Active(n).StartTime(started).Obj()).Obj(),
			pods: running, wantDelete: 500, wantStrip: 500,
		},
		"finished job releases stray finalizers": {
			job: job("pi", "ns").Completions(n).Parallelism(n).Status(status().Succeeded(n).StartTime(started).CompletionTime(ago(time.Second)).
				Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "m", ago(time.Second)).Obj()).Obj(),
			pods: running, wantRemove: 500,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Plan(Input{Job: tc.job, Pods: tc.pods, Now: now, ExpectationsSatisfied: true, FinalizerRemovalPending: sets.New[types.UID]()})
			strip := 0
			for _, d := range got.Delete {
				if d.StripFinalizerFirst {
					strip++
				}
			}
			if len(got.Delete) != tc.wantDelete || strip != tc.wantStrip || len(got.RemoveFinalizers) != tc.wantRemove || !got.MoreWork {
				t.Errorf("delete %d (strip %d), remove finalizers %d, more work %v; want %d (%d), %d, true",
					len(got.Delete), strip, len(got.RemoveFinalizers), got.MoreWork, tc.wantDelete, tc.wantStrip, tc.wantRemove)
			}
		})
	}
}

// TestPlanCapWaitsForEvents: a capped deletion pass with creations or deletions not yet
// seen does not ask for another pass at once (it could only repeat the same deletions);
// the events that satisfy the expectations bring the job back.
func TestPlanCapWaitsForEvents(t *testing.T) {
	const n = 600
	var active []*corev1.Pod
	for i := range n {
		active = append(active, pod(fmt.Sprintf("r%04d", i)).Phase(corev1.PodRunning).NodeName("n").Created(ago(time.Hour)).Obj())
	}
	j := job("pi", "ns").Completions(n).Parallelism(n).ActiveDeadlineSeconds(60).Status(status().Active(n).StartTime(ago(2 * time.Minute)).Obj()).Obj()
	got := Plan(Input{Job: j, Pods: active, Now: now, ExpectationsSatisfied: false, FinalizerRemovalPending: sets.New[types.UID]()})
	if got.MoreWork || len(got.Delete) != 500 {
		t.Errorf("MoreWork = %v with unsatisfied expectations, %d deletions planned; want false, 500", got.MoreWork, len(got.Delete))
	}
}
