package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/plan"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// requestLog records, in order, the requests act sends, as "verb name" lines.
type requestLog struct {
	mu  sync.Mutex
	got []string
}

func (l *requestLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, fmt.Sprintf(format, args...))
}

// safeRecorder is an EventRecorder for the act goroutines.
type safeRecorder struct{ log *requestLog }

func (r safeRecorder) Eventf(_, _ runtime.Object, _, reason, _, _ string, _ ...any) {
	r.log.add("event %s", reason)
}

// phases says which step of act each request belongs to; act runs the requests of one
// step concurrently, so only the order of steps is fixed.
func phaseOf(req string) int {
	switch {
	case strings.HasPrefix(req, "patch del-"), strings.HasPrefix(req, "delete "), req == "event SuccessfulDelete", req == "event FailedDelete":
		return 0
	case strings.HasPrefix(req, "create "), req == "event SuccessfulCreate", req == "event FailedCreate":
		return 1
	case strings.HasPrefix(req, "update-status "):
		return 2
	case strings.HasPrefix(req, "patch fin-"):
		return 3
	default:
		return 4 // the pass's own events, last
	}
}

type actRig struct {
	r    *Reconciler
	log  *requestLog
	job  *v1alpha1.BatchJob
	pods map[string]*corev1.Pod
	c    client.Client
}

func newActRig(t *testing.T, failOn map[string]error, podNames ...string) *actRig {
	t.Helper()
	job := testutil.MakeBatchJob("pi", "ns").Completions(4).Parallelism(4).Obj()
	job.ResourceVersion = "7"
	rig := &actRig{log: &requestLog{}, job: job, pods: map[string]*corev1.Pod{}}
	objs := []client.Object{job.DeepCopy()}
	for _, n := range podNames {
		p := testutil.MakePod(n, "ns").Phase(corev1.PodRunning).Obj()
		p.UID = types.UID("uid-" + n)
		rig.pods[n] = p
		objs = append(objs, p.DeepCopy())
	}
	fail := func(req string) error {
		rig.log.add("%s", req)
		return failOn[req]
	}
	rig.c = fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.BatchJob{}).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if err := fail("create " + obj.GetGenerateName()); err != nil {
					return err
				}
				return c.Create(ctx, obj, opts...)
			},
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				if err := fail("delete " + obj.GetName()); err != nil {
					return err
				}
				return c.Delete(ctx, obj, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				if err := fail("patch " + obj.GetName()); err != nil {
					return err
				}
				return c.Patch(ctx, obj, patch, opts...)
			},
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				if err := fail("update-" + sub + " " + obj.GetName()); err != nil {
					return err
				}
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
		}).Build()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rig.r = &Reconciler{Client: rig.c, APIReader: rig.c, Recorder: safeRecorder{rig.log}, Clock: clk, Plan: plan.Plan,
		mem: newJobMemory(clk, clk, 0, DefaultStatusBatchPeriod)}
	return rig
}

// checkOrder asserts that the steps came in act's order and that the requests are want
// (compared per step, in any order within one).
func (rig *actRig) checkOrder(t *testing.T, want []string) {
	t.Helper()
	got := slices.Clone(rig.log.got)
	for i := 1; i < len(got); i++ {
		if phaseOf(got[i]) < phaseOf(got[i-1]) {
			t.Errorf("request %q came after %q, out of act's order:\n%s", got[i], got[i-1], strings.Join(got, "\n"))
			break
		}
	}
	byStep := func(s []string) []string {
		s = slices.Clone(s)
		slices.SortStableFunc(s, func(a, b string) int {
			if d := phaseOf(a) - phaseOf(b); d != 0 {
				return d
			}
			return strings.Compare(a, b)
		})
		return s
	}
	if diff := cmp.Diff(byStep(want), byStep(got)); diff != "" {
		t.Errorf("requests (-want,+got):\n%s", diff)
	}
}

func newPodToCreate(job *v1alpha1.BatchJob) *corev1.Pod {
	return testutil.MakeEmptyPod("", job.Namespace).WithGenerateName("pi-").
		Label(v1alpha1.ControllerUIDLabel, string(job.UID)).Obj()
}

// TestActOrder: deletions (scale-down ones stripped first), creations, one status write,
// finalizer removals, then the pass's events — and nothing else.
func TestActOrder(t *testing.T) {
	rig := newActRig(t, nil, "del-a", "del-b", "fin-c")
	out := &plan.Result{
		Delete: []plan.Deletion{{Pod: rig.pods["del-a"], StripFinalizerFirst: true}, {Pod: rig.pods["del-b"]}},
		Create: []*corev1.Pod{newPodToCreate(rig.job), newPodToCreate(rig.job)}, CreateReason: "new",
		Status: v1alpha1.BatchJobStatus{Active: 2, Succeeded: 1}, StatusChanged: true,
		RemoveFinalizers: []*corev1.Pod{rig.pods["fin-c"]},
		Events:           []plan.Event{{Type: corev1.EventTypeNormal, Reason: "Completed", Message: "Job completed"}},
	}
	res, err := rig.r.act(context.Background(), rig.job, out)
	if err != nil || res != (ctrl.Result{}) {
		t.Fatalf("act = %+v, %v", res, err)
	}
	rig.checkOrder(t, []string{
		"patch del-a", "delete del-a", "delete del-b", "event SuccessfulDelete", "event SuccessfulDelete",
		"create pi-", "create pi-", "event SuccessfulCreate", "event SuccessfulCreate",
		"update-status pi",
		"patch fin-c",
		"event Completed",
	})
	if snap := rig.r.mem.snapshot(rig.job.UID, "", false); snap.satisfied || !snap.finalizerRemovalPending.Has("uid-fin-c") {
		t.Errorf("memory after act: satisfied %v, pending %v; want creations and deletions expected, fin-c pending",
			snap.satisfied, snap.finalizerRemovalPending)
	}
}

// TestActStopsOnFailedDeletion: the plan may have assumed the deletion; nothing after it
// is done, and the creations that were never issued are not expected.
func TestActStopsOnFailedDeletion(t *testing.T) {
	boom := errors.New("boom")
	rig := newActRig(t, map[string]error{"delete del-a": boom}, "del-a", "fin-c")
	out := &plan.Result{
		Delete: []plan.Deletion{{Pod: rig.pods["del-a"]}},
		Create: []*corev1.Pod{newPodToCreate(rig.job)}, Status: v1alpha1.BatchJobStatus{Active: 1}, StatusChanged: true,
		RemoveFinalizers: []*corev1.Pod{rig.pods["fin-c"]},
	}
	if _, err := rig.r.act(context.Background(), rig.job, out); !errors.Is(err, boom) {
		t.Fatalf("act error = %v, want %v", err, boom)
	}
	rig.checkOrder(t, []string{"delete del-a", "event FailedDelete"})
	if !rig.r.mem.snapshot(rig.job.UID, "", false).satisfied {
		t.Errorf("expectations unsatisfied after a pass that issued nothing")
	}
}

// TestActFailedCreation: slow start stops after the first failed batch; the status write
// counts only the pods created, and the error comes back for a rate-limited retry.
func TestActFailedCreation(t *testing.T) {
	quota := errors.New("exceeded quota")
	rig := newActRig(t, map[string]error{"create pi-": quota})
	out := &plan.Result{
		Create: []*corev1.Pod{newPodToCreate(rig.job), newPodToCreate(rig.job), newPodToCreate(rig.job)},
		Status: v1alpha1.BatchJobStatus{Active: 3, Ready: ptr.To[int32](0), StartTime: &metav1.Time{}}, StatusChanged: true,
	}
	if _, err := rig.r.act(context.Background(), rig.job, out); !errors.Is(err, quota) {
		t.Fatalf("act error = %v, want %v", err, quota)
	}
	rig.checkOrder(t, []string{"create pi-", "event FailedCreate", "update-status pi"})
	stored := &v1alpha1.BatchJob{}
	if err := rig.c.Get(context.Background(), client.ObjectKeyFromObject(rig.job), stored); err != nil {
		t.Fatal(err)
	}
	if stored.Status.Active != 0 {
		t.Errorf("stored active = %d, want 0 (no pod was created)", stored.Status.Active)
	}
	if !rig.r.mem.snapshot(rig.job.UID, "", false).satisfied {
		t.Errorf("expectations still wait for creations that failed or were skipped")
	}
}

// TestActDefersBookkeeping: once a busy job spent its write tokens, a bookkeeping-only
// write and its finalizer removals wait for the next token.
func TestActDefersBookkeeping(t *testing.T) {
	rig := newActRig(t, nil, "fin-c")
	for range quietWrites {
		rig.r.mem.takeWrite(rig.job.UID)
	}
	rig.job.Status.Active = 2
	out := &plan.Result{
		Status:        v1alpha1.BatchJobStatus{Active: 2, Ready: ptr.To[int32](1)},
		StatusChanged: true, RemoveFinalizers: []*corev1.Pod{rig.pods["fin-c"]},
	}
	res, err := rig.r.act(context.Background(), rig.job, out)
	if err != nil || res.RequeueAfter != DefaultStatusBatchPeriod {
		t.Errorf("act = %+v, %v; want a pass when the next token is due (%v)", res, err, DefaultStatusBatchPeriod)
	}
	rig.checkOrder(t, nil)
}

// TestActWriteAfterRelease: when the plan says the pass's releases let the job finish,
// act writes the finishing status right after them, in the same pass, with its events
// and TTL timer; when a release fails it does not, and the next pass counts as before.
func TestActWriteAfterRelease(t *testing.T) {
	recorded := v1alpha1.BatchJobStatus{Succeeded: 0, UncountedTerminatedPods: &v1alpha1.UncountedTerminatedPods{Succeeded: []types.UID{"uid-fin-c"}}}
	done := v1alpha1.BatchJobStatus{Succeeded: 1, UncountedTerminatedPods: &v1alpha1.UncountedTerminatedPods{},
		Conditions: []v1alpha1.JobCondition{{Type: v1alpha1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached"}}}
	plans := func(rig *actRig) *plan.Result {
		return &plan.Result{
			Status: recorded, StatusChanged: true, RemoveFinalizers: []*corev1.Pod{rig.pods["fin-c"]}, RequeueAfter: time.Hour,
			AfterRelease: &plan.Result{Status: done, StatusChanged: true, RequeueAfter: time.Minute,
				Finished: &plan.Finish{Succeeded: true, Reason: "CompletionsReached"}, PodsFinishedSucceeded: 1,
				Events: []plan.Event{{Type: corev1.EventTypeNormal, Reason: "Completed", Message: "Job completed"}}},
		}
	}
	for name, tc := range map[string]struct {
		failOn     map[string]error
		wantReqs   []string
		wantStatus v1alpha1.BatchJobStatus
		wantResult ctrl.Result
		wantErr    bool
		wantStale  bool // the memory marks the job finished: a cached copy not yet finished is stale
	}{
		"every release succeeded": {
			wantReqs:   []string{"update-status pi", "patch fin-c", "update-status pi", "event Completed"},
			wantStatus: done, wantResult: ctrl.Result{RequeueAfter: time.Minute}, wantStale: true,
		},
		"a release failed": {
			failOn:     map[string]error{"patch fin-c": errors.New("boom")},
			wantReqs:   []string{"update-status pi", "patch fin-c"},
			wantStatus: recorded, wantResult: ctrl.Result{RequeueAfter: time.Hour}, wantErr: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			rig := newActRig(t, tc.failOn, "fin-c")
			res, err := rig.r.act(context.Background(), rig.job, plans(rig))
			if (err != nil) != tc.wantErr || res != tc.wantResult {
				t.Errorf("act = %+v, %v; want %+v, error %v", res, err, tc.wantResult, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantReqs, rig.log.got); diff != "" {
				t.Errorf("requests (-want,+got):\n%s", diff)
			}
			stored := &v1alpha1.BatchJob{}
			if err := rig.c.Get(context.Background(), client.ObjectKeyFromObject(rig.job), stored); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantStatus, stored.Status); diff != "" {
				t.Errorf("stored status (-want,+got):\n%s", diff)
			}
			if stale := rig.r.mem.snapshot(rig.job.UID, stored.ResourceVersion, false).stale; stale != tc.wantStale {
				t.Errorf("cached copy not finished is stale = %v, want %v", stale, tc.wantStale)
			}
		})
	}
}
