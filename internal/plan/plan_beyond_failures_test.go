package plan

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestPlanRecentFailures: status.recentFailures keeps the last 5 counted pod failures,
// newest last, each recorded once in the write that counts it.
func TestPlanRecentFailures(t *testing.T) {
	started := ago(time.Hour)
	fail := func(pod, container string, code int32, reason, msg string, at time.Time) v1alpha1.PodFailure {
		return v1alpha1.PodFailure{Pod: pod, Node: "n", Container: container, ExitCode: code, Reason: reason, Message: msg, Time: metav1.NewTime(at)}
	}
	older := func(n int) []v1alpha1.PodFailure {
		var out []v1alpha1.PodFailure
		for i := range n {
			out = append(out, fail("old"+string(rune('a'+i)), "main", 1, "Error", "", ago(time.Duration(50-i)*time.Minute)))
		}
		return out
	}
	// Parallelism 0: nothing is created, so only the failure bookkeeping moves.
	idle := func() *jobW { return job("pi", "ns").Completions(3).Parallelism(0).BackoffLimit(10) }
	long := strings.Repeat("é", 600) // 1200 bytes
	runPlanCases(t, map[string]planCase{
		"two failures, oldest first, with container, exit code, reason, message and node": {
			job: idle().Status(status().StartTime(started).Obj()).Obj(),
			pods: pods(pod("a").Phase(corev1.PodFailed).NodeName("n").Terminated("main", 137, "OOMKilled", "", ago(time.Minute)),
				pod("b").Phase(corev1.PodFailed).NodeName("n").ExitedWithMessage("main", 2, ago(2*time.Minute), "no input")),
			beyond: true,
			want: outcome{Status: status().StartTime(started).UncountedFailed("a", "b").State(v1alpha1.StatePending).RecentFailures(
				fail("b", "main", 2, "Error", "no input", ago(2*time.Minute)),
				fail("a", "main", 137, "OOMKilled", "", ago(time.Minute))).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"a", "b"}},
		},
		"the last five are kept": {
			job:    idle().Status(status().StartTime(started).RecentFailures(older(4)...).Obj()).Obj(),
			pods:   pods(failed("x").NodeName("n"), pod("y").Phase(corev1.PodFailed).NodeName("n").Exited("main", 1, ago(30*time.Minute))),
			beyond: true,
			want: outcome{Status: status().StartTime(started).UncountedFailed("x", "y").State(v1alpha1.StatePending).RecentFailures(
				append(older(4)[1:], fail("x", "main", 1, "Error", "", ago(time.Hour)), fail("y", "main", 1, "Error", "", ago(30*time.Minute)))...).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"x", "y"}},
		},
		"a pod already listed is not listed again": {
			job:    idle().Status(status().StartTime(started).RecentFailures(fail("x", "main", 1, "Error", "", ago(time.Hour))).Obj()).Obj(),
			pods:   pods(failed("x").NodeName("n")),
			beyond: true,
			want: outcome{Status: status().StartTime(started).UncountedFailed("x").State(v1alpha1.StatePending).
				RecentFailures(fail("x", "main", 1, "Error", "", ago(time.Hour))).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"x"}},
		},
		"recorded once: a pod in the uncounted list is not recorded again": {
			job:    idle().Status(status().StartTime(started).UncountedFailed("x").State(v1alpha1.StatePending).Obj()).Obj(),
			pods:   pods(failed("x").NodeName("n")),
			beyond: true,
			want:   outcome{Status: status().StartTime(started).UncountedFailed("x").State(v1alpha1.StatePending).Obj(), RemoveFinalizers: []string{"x"}},
		},
		"a pod that never started: its waiting reason; the message cut to 1 KiB": {
			job: idle().Status(status().StartTime(started).Obj()).Obj(),
			pods: pods(pod("w").Phase(corev1.PodFailed).Created(ago(time.Minute)).NoFinalizer().Waiting("main", "ErrImagePull", "no such image"),
				pod("v").Phase(corev1.PodFailed).NodeName("n").Created(ago(time.Minute)).Waiting("main", "ImagePullBackOff", long)),
			beyond: true,
			want: outcome{Status: status().StartTime(started).UncountedFailed("v").State(v1alpha1.StatePending).RecentFailures(
				v1alpha1.PodFailure{Pod: "v", Node: "n", Container: "main", Reason: "ImagePullBackOff", Message: long[:1024], Time: metav1.NewTime(ago(time.Minute))}).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"v"}},
		},
		"the pod's reason when no container says more": {
			job:    idle().Status(status().StartTime(started).Obj()).Obj(),
			pods:   pods(pod("e").Phase(corev1.PodFailed).Created(ago(time.Minute)).WithReason("Evicted", "The node was low on resource: memory.")),
			beyond: true,
			want: outcome{Status: status().StartTime(started).UncountedFailed("e").State(v1alpha1.StatePending).RecentFailures(
				v1alpha1.PodFailure{Pod: "e", Reason: "Evicted", Message: "The node was low on resource: memory.", Time: metav1.NewTime(ago(time.Minute))}).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"e"}},
		},
		"Indexed: the index; an ignored failure is not kept": {
			job: idle().Indexed().PodFailurePolicy(exitCodeRule(v1alpha1.PodFailurePolicyActionIgnore, 42)).
				Status(status().StartTime(started).Obj()).Obj(),
			pods:   pods(failed("i").NodeName("n").Index(2), pod("g").Phase(corev1.PodFailed).Index(1).Exited("main", 42, ago(time.Hour))),
			beyond: true,
			want: outcome{Status: status().StartTime(started).UncountedFailed("i").State(v1alpha1.StatePending).RecentFailures(
				v1alpha1.PodFailure{Pod: "i", Index: ptr.To[int32](2), Node: "n", Container: "main", ExitCode: 1, Reason: "Error", Time: metav1.NewTime(ago(time.Hour))}).Obj(),
				StatusChanged: true, RemoveFinalizers: []string{"g", "i"}, FailurePolicyActions: map[v1alpha1.PodFailurePolicyAction]int32{"Ignore": 1}},
		},
	})
}
