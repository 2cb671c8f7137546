package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

const pullMsg = `Back-off pulling image "nope:1"`

// TestPlanPodStartupPolicy: spec.podStartupPolicy marks (BatchJobPodStartupFailed) and
// deletes, keeping the finalizer, a pod that has not started in time or waits with a
// listed reason past the grace; it creates no replacement in that pass and looks again
// when the next pod may fail.
func TestPlanPodStartupPolicy(t *testing.T) {
	pull := []v1alpha1.WaitingReason{"ImagePullBackOff", "ErrImagePull"}
	base := func() *jobW { return job("pi", "ns").BackoffLimit(3).RetryDelays(0, -1) }
	pending := func(name string, age time.Duration) *podW { return pod(name).Created(ago(age)) }
	type marked struct{ Pod, Reason, Message string }
	type result struct {
		Marked       []marked
		Deleted      []string
		Created      int
		Events       []Event
		RequeueAfter time.Duration
	}
	warn := func(msg string) []Event {
		return []Event{{Type: corev1.EventTypeWarning, Reason: "PodStartupFailed", Message: msg}}
	}
	cases := map[string]struct {
		job  *v1alpha1.BatchJob
		pods []*podW
		want result
	}{
		"unset: a pod waits forever": {
			job:  base().Obj(),
			pods: []*podW{pending("a", time.Hour).Waiting("main", "ImagePullBackOff", pullMsg)},
		},
		"a listed waiting reason past the grace": {
			job:  base().PodStartupPolicy(0, pull...).Obj(),
			pods: []*podW{pending("a", 20*time.Second).Waiting("main", "ImagePullBackOff", pullMsg)},
			want: result{
				Marked:  []marked{{"a", "ImagePullBackOff", "container main waiting with ImagePullBackOff: " + pullMsg}},
				Deleted: []string{"a"},
				Events:  warn("Pod a did not start: ImagePullBackOff: container main waiting with ImagePullBackOff: " + pullMsg + "; deleting it, counted as a failure"),
			},
		},
		"a listed waiting reason within the grace: look again when it ends": {
			job:  base().PodStartupPolicy(0, pull...).Obj(),
			pods: []*podW{pending("a", 4*time.Second).Waiting("main", "ErrImagePull", "pull failed")},
			want: result{RequeueAfter: 6 * time.Second},
		},
		"a waiting reason not listed: only the timeout": {
			job:  base().PodStartupPolicy(60, pull...).Obj(),
			pods: []*podW{pending("a", 30*time.Second).Waiting("main", "CreateContainerConfigError", "secret missing")},
			want: result{RequeueAfter: 30 * time.Second},
		},
		"the timeout: a pod never scheduled": {
			job:  base().PodStartupPolicy(60).Obj(),
			pods: []*podW{pending("a", 61*time.Second), pending("b", 50*time.Second)},
			want: result{
				Marked:       []marked{{"a", "StartupTimeout", "no container started within 60s"}},
				Deleted:      []string{"a"},
				Events:       warn("Pod a did not start: StartupTimeout: no container started within 60s; deleting it, counted as a failure"),
				RequeueAfter: 10 * time.Second,
			},
		},
		"the timeout names a waiting container": {
			job:  base().PodStartupPolicy(60).Obj(),
			pods: []*podW{pending("a", 2*time.Minute).Waiting("main", "ContainerCreating", "")},
			want: result{
				Marked:  []marked{{"a", "StartupTimeout", "no container started within 60s; container main waiting with ContainerCreating: "}},
				Deleted: []string{"a"},
				Events:  warn("Pod a did not start: StartupTimeout: no container started within 60s; container main waiting with ContainerCreating: ; deleting it, counted as a failure"),
			},
		},
		"a started pod is left alone": {
			job:  base().PodStartupPolicy(60, pull...).Obj(),
			pods: []*podW{running("a").Created(ago(time.Hour))},
		},
		"a pod that ran and now waits has started": {
			job: base().PodStartupPolicy(60, pull...).Obj(),
			pods: []*podW{pending("a", time.Hour).Waiting("main", "ImagePullBackOff", pullMsg).
				Restarts("main", 1)},
		},
		"marked by an earlier pass but not deleted: deleted now, no second event": {
			job:  base().PodStartupPolicy(60).Obj(),
			pods: []*podW{pending("a", 2*time.Minute).StartupFailed("StartupTimeout", "no container started within 60s", ago(time.Minute))},
			want: result{
				Marked:  []marked{{"a", "StartupTimeout", "no container started within 60s"}},
				Deleted: []string{"a"},
			},
		},
		"no failure: the missing pod is created": {
			job:  base().Parallelism(2).Completions(2).PodStartupPolicy(60).Obj(),
			pods: []*podW{pending("a", 10*time.Second)},
			want: result{Created: 1, RequeueAfter: 50 * time.Second},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := Plan(Input{Job: tc.job, Pods: pods(tc.pods...), Now: now, ExpectationsSatisfied: true})
			got := result{Created: len(res.Create), Events: res.Events, RequeueAfter: res.RequeueAfter}
			for _, f := range res.StartupFailures {
				got.Marked = append(got.Marked, marked{f.Pod.Name, f.Reason, f.Message})
			}
			for _, d := range res.Delete {
				name := d.Pod.Name
				if d.StripFinalizerFirst {
					name += "/strip"
				}
				got.Deleted = append(got.Deleted, name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Plan (-want,+got):\n%s", diff)
			}
		})
	}
}

// TestPlanPodStartupFailureCounted: the deleted pod counts as a failure; the Failed
// condition's message and status.recentFailures name the pod, container, waiting reason
// and message from its BatchJobPodStartupFailed condition.
func TestPlanPodStartupFailureCounted(t *testing.T) {
	msg := "container main waiting with ImagePullBackOff: " + pullMsg
	deleted := pod("a").Created(ago(time.Minute)).Deleted(ago(30*time.Second)).
		Waiting("main", "ImagePullBackOff", pullMsg).StartupFailed("ImagePullBackOff", msg, ago(30*time.Second))
	j := job("pi", "ns").BackoffLimit(0).PodStartupPolicy(60, "ImagePullBackOff").
		Status(status().StartTime(ago(time.Hour)).Obj()).Obj()
	res := Plan(Input{Job: j, Pods: pods(deleted), Now: now, ExpectationsSatisfied: true})
	var cond *v1alpha1.JobCondition
	for i, c := range res.Status.Conditions {
		if c.Reason == v1alpha1.ReasonBackoffLimitExceeded {
			cond = &res.Status.Conditions[i]
		}
	}
	wantMsg := v1alpha1.MessageBackoffLimitExceeded + ": last failed pod a did not start: ImagePullBackOff: " + msg
	if cond == nil || cond.Message != wantMsg {
		t.Errorf("BackoffLimitExceeded condition %+v, want message %q", cond, wantMsg)
	}
	want := []v1alpha1.PodFailure{{Pod: "a", Container: "main", Reason: "ImagePullBackOff", Message: msg,
		Time: metav1.NewTime(ago(30 * time.Second))}}
	if diff := cmp.Diff(want, res.Status.RecentFailures); diff != "" {
		t.Errorf("recentFailures (-want,+got):\n%s", diff)
	}
	if got := res.Status.UncountedTerminatedPods.Failed; len(got) != 1 || got[0] != "a" {
		t.Errorf("uncounted failed %v, want [a]", got)
	}
}
