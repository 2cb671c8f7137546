package plan

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

func TestRouteOf(t *testing.T) {
	cases := map[string]struct {
		job  *v1alpha1.BatchJob
		want Route
	}{
		"no selector yet":                {job("j", "ns").Obj(), RouteWriteSelector},
		"generated selector":             {job("j", "ns").Selector(map[string]string{"batchjob.dev/controller-uid": "j-uid"}).Obj(), RoutePlan},
		"manual selector":                {job("j", "ns").ManualSelector(map[string]string{"app": "j"}).Obj(), RoutePlan},
		"manualSelector without one":     {job("j", "ns").WithSpec(func(s *v1alpha1.BatchJobSpec) { s.ManualSelector = ptrTo(true) }).Obj(), RouteNoSelector},
		"manualSelector false, none":     {job("j", "ns").WithSpec(func(s *v1alpha1.BatchJobSpec) { s.ManualSelector = ptrTo(false) }).Obj(), RouteWriteSelector},
		"managedBy this controller":      {job("j", "ns").ManagedBy("batchjob.dev/controller").Selector(map[string]string{"a": "b"}).Obj(), RoutePlan},
		"managedBy another":              {job("j", "ns").ManagedBy("kueue.x-k8s.io/multikueue").Selector(map[string]string{"a": "b"}).Obj(), RouteForeign},
		"managedBy another, no selector": {job("j", "ns").ManagedBy("example.com/other").Obj(), RouteForeign},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := RouteOf(tc.job); got != tc.want {
				t.Errorf("RouteOf = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestGeneratedSelector(t *testing.T) {
	cases := map[string]struct {
		job        *v1alpha1.BatchJob
		wantLabels map[string]string
	}{
		"labels added to the template's own": {
			job: job("work", "ns").Obj(),
			wantLabels: map[string]string{
				"app": "work", "batchjob.dev/job-name": "work", "job-name": "work",
				"batchjob.dev/controller-uid": "work-uid", "controller-uid": "work-uid",
			},
		},
		"a label the template sets is kept": {
			job: job("work", "ns").TemplateLabel("job-name", "mine").TemplateLabel("controller-uid", "x").Obj(),
			wantLabels: map[string]string{
				"app": "work", "batchjob.dev/job-name": "work", "job-name": "mine",
				"batchjob.dev/controller-uid": "work-uid", "controller-uid": "x",
			},
		},
		"no template labels": {
			job: job("work", "ns").WithSpec(func(s *v1alpha1.BatchJobSpec) { s.Template.Labels = nil }).Obj(),
			wantLabels: map[string]string{
				"batchjob.dev/job-name": "work", "job-name": "work",
				"batchjob.dev/controller-uid": "work-uid", "controller-uid": "work-uid",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := tc.job.DeepCopy()
			sel, got := GeneratedSelector(tc.job)
			want := &metav1.LabelSelector{MatchLabels: map[string]string{"batchjob.dev/controller-uid": "work-uid"}}
			if diff := cmp.Diff(want, sel); diff != "" {
				t.Errorf("selector (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLabels, got); diff != "" {
				t.Errorf("template labels (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.job); diff != "" {
				t.Errorf("GeneratedSelector mutated the job (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestClaimPods(t *testing.T) {
	sel := map[string]string{"batchjob.dev/controller-uid": "j-uid"}
	mine := func(name string) *corev1.Pod {
		return testutil.MakePod(name, "ns").Label("batchjob.dev/controller-uid", "j-uid").ControlledBy("j", "j-uid").Obj()
	}
	strayed := func(name string) *corev1.Pod {
		return testutil.MakePod(name, "ns").Label("batchjob.dev/controller-uid", "other").ControlledBy("j", "j-uid").Obj()
	}
	orphan := func(name string) *testutil.PodWrapper {
		return testutil.MakePod(name, "ns").Label("batchjob.dev/controller-uid", "j-uid").NoFinalizer()
	}
	unrelated := testutil.MakePod("unrelated", "ns").Label("app", "x").NoFinalizer().Obj()
	finished := status().Condition(v1alpha1.JobComplete, corev1.ConditionTrue, "CompletionsReached", "", ago(0)).Obj()
	type names struct{ Claimed, Release, Adopt []string }
	cases := map[string]struct {
		job       *v1alpha1.BatchJob
		owned     []*corev1.Pod
		orphans   []*corev1.Pod
		want      names
		leftCache bool
		badSel    bool
	}{
		"own pods claimed, strayed released, matching orphans adopted": {
			job:     job("j", "ns").Selector(sel).Obj(),
			owned:   []*corev1.Pod{mine("a"), strayed("b"), mine("c")},
			orphans: []*corev1.Pod{orphan("o1").Obj(), unrelated, orphan("o2").Deleted(ago(0)).Obj()},
			want:    names{Claimed: []string{"a", "c"}, Release: []string{"b"}, Adopt: []string{"o1"}}, leftCache: true,
		},
		"job being deleted: claims, neither releases nor adopts": {
			job:     job("j", "ns").Selector(sel).DeletionTimestamp(ago(0)).Obj(),
			owned:   []*corev1.Pod{mine("a"), strayed("b")},
			orphans: []*corev1.Pod{orphan("o1").Obj()},
			want:    names{Claimed: []string{"a"}},
		},
		"finished job: claims, neither releases nor adopts": {
			job:     job("j", "ns").Selector(sel).Status(finished).Obj(),
			owned:   []*corev1.Pod{mine("a"), strayed("b")},
			orphans: []*corev1.Pod{orphan("o1").Obj()},
			want:    names{Claimed: []string{"a"}},
		},
		"empty selector adopts nothing and releases nothing": {
			job:     job("j", "ns").ManualSelector(map[string]string{}).Obj(),
			owned:   []*corev1.Pod{strayed("b")},
			orphans: []*corev1.Pod{orphan("o1").Obj(), unrelated},
			want:    names{Claimed: []string{"b"}}, leftCache: true,
		},
		"invalid selector matches nothing: own pods released": {
			job: job("j", "ns").WithSpec(func(s *v1alpha1.BatchJobSpec) {
				s.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bad"}}}
			}).Obj(),
			owned:   []*corev1.Pod{mine("a")},
			orphans: []*corev1.Pod{orphan("o1").Obj()},
			want:    names{Release: []string{"a"}}, leftCache: true, badSel: true,
		},
		"nothing to claim": {
			job:       job("j", "ns").Selector(sel).Obj(),
			want:      names{},
			leftCache: true,
		},
	}
	podNames := func(ps []*corev1.Pod) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := ClaimPods(tc.job, tc.owned, tc.orphans)
			got := names{podNames(c.Claimed), podNames(c.Release), podNames(c.Adopt)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claim (-want,+got):\n%s", diff)
			}
			if c.ReleaseLeftCache != tc.leftCache {
				t.Errorf("ReleaseLeftCache = %v, want %v", c.ReleaseLeftCache, tc.leftCache)
			}
			if (c.SelectorErr != nil) != tc.badSel {
				t.Errorf("SelectorErr = %v, want error: %v", c.SelectorErr, tc.badSel)
			}
		})
	}
}

func TestReleasable(t *testing.T) {
	j := job("j", "ns").Selector(map[string]string{"batchjob.dev/controller-uid": "j-uid"}).Obj()
	sel := labels.SelectorFromSet(labels.Set{"batchjob.dev/controller-uid": "j-uid"})
	cases := map[string]struct {
		pod  *corev1.Pod
		want bool
	}{
		"controlled, no longer matching": {testutil.MakePod("p", "ns").ControlledBy("j", "j-uid").Obj(), true},
		"controlled, still matching":     {testutil.MakePod("p", "ns").ControlledBy("j", "j-uid").Label("batchjob.dev/controller-uid", "j-uid").Obj(), false},
		"controlled by a re-created job": {testutil.MakePod("p", "ns").ControlledBy("j", "old-uid").Obj(), false},
		"no controller":                  {testutil.MakePod("p", "ns").Obj(), false},
		"controlled, being deleted":      {testutil.MakePod("p", "ns").ControlledBy("j", "j-uid").Deleted(ago(0)).Obj(), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Releasable(j, sel, tc.pod); got != tc.want {
				t.Errorf("Releasable = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWithoutCreations(t *testing.T) {
	stored := status().Active(1).Ready(1).Obj()
	cases := map[string]struct {
		planned        v1alpha1.BatchJobStatus
		plannedChanged bool
		created        int
		notCreated     int
		wantActive     int32
		wantReady      int32
		wantChanged    bool
	}{
		"all created: the plan as is":          {status().Active(3).Ready(1).Obj(), true, 2, 0, 3, 1, true},
		"one of two failed":                    {status().Active(3).Ready(1).Obj(), true, 2, 1, 2, 1, true},
		"both failed: back to what was stored": {status().Active(3).Ready(1).Obj(), true, 2, 2, 1, 1, false},
		"ready lowered to active":              {status().Active(2).Ready(2).Obj(), true, 2, 2, 0, 0, true},
		"never below zero":                     {status().Active(1).Ready(0).Obj(), true, 3, 3, 0, 0, true},
		"more reported than planned is capped": {status().Active(3).Ready(1).Obj(), true, 2, 5, 1, 1, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			j := job("j", "ns").Status(stored).Obj()
			out := &Result{Status: tc.planned, StatusChanged: tc.plannedChanged}
			for range tc.created {
				out.Create = append(out.Create, testutil.MakePod("new", "ns").Obj())
			}
			before := out.Status.DeepCopy()
			st, changed := WithoutCreations(j, out, tc.notCreated)
			if st.Active != tc.wantActive || st.Ready == nil || *st.Ready != tc.wantReady || changed != tc.wantChanged {
				t.Errorf("active %d, ready %v, changed %v; want %d, %d, %v", st.Active, st.Ready, changed, tc.wantActive, tc.wantReady, tc.wantChanged)
			}
			if diff := cmp.Diff(before, &out.Status); diff != "" {
				t.Errorf("WithoutCreations mutated the plan (-want,+got):\n%s", diff)
			}
		})
	}
}
