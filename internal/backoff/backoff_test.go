package backoff

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/testutil"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestDelay(t *testing.T) {
	want := map[int32]time.Duration{
		-1: 0, 0: 0, 1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 4: 80 * time.Second,
		5: 160 * time.Second, 6: 320 * time.Second, 7: 10 * time.Minute, 8: 10 * time.Minute, 1000: 10 * time.Minute,
	}
	for n, w := range want {
		if got := Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
}

func TestRemaining(t *testing.T) {
	cases := map[string]struct {
		n    int32
		last *time.Time
		now  time.Time
		want time.Duration
	}{
		"no failures":             {n: 0, last: ptr.To(t0), now: t0, want: 0},
		"no time":                 {n: 2, now: t0, want: 0},
		"first failure, just now": {n: 1, last: ptr.To(t0), now: t0, want: 10 * time.Second},
		"first failure, 4s ago":   {n: 1, last: ptr.To(t0), now: at(4 * time.Second), want: 6 * time.Second},
		"exactly expired":         {n: 1, last: ptr.To(t0), now: at(10 * time.Second), want: 0},
		"third failure":           {n: 3, last: ptr.To(t0), now: at(15 * time.Second), want: 25 * time.Second},
		"capped":                  {n: 20, last: ptr.To(t0), now: at(time.Minute), want: 9 * time.Minute},
		"future failure time":     {n: 1, last: ptr.To(at(5 * time.Second)), now: t0, want: 15 * time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Remaining(tc.n, tc.last, tc.now); got != tc.want {
				t.Errorf("Remaining = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFinishTime(t *testing.T) {
	sidecar := corev1.Container{Name: "side", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}
	cases := map[string]struct {
		pod  *corev1.Pod
		want time.Time
	}{
		"latest container": {
			pod:  testutil.MakePod("p", "ns").Exited("a", 1, at(3*time.Second)).Exited("b", 0, at(5*time.Second)).Obj(),
			want: at(5 * time.Second),
		},
		"one container running falls back to ready condition": {
			pod: testutil.MakePod("p", "ns").Exited("a", 1, at(3*time.Second)).Restarts("b", 0).
				NotReadySince(at(7 * time.Second)).Obj(),
			want: at(7 * time.Second),
		},
		"sidecar finishes later": {
			pod: func() *corev1.Pod {
				p := testutil.MakePod("p", "ns").Exited("a", 0, at(3*time.Second)).Obj()
				p.Spec.InitContainers = []corev1.Container{{Name: "init"}, sidecar}
				p.Status.InitContainerStatuses = []corev1.ContainerStatus{
					{Name: "init", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
					{Name: "side", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metaTime(at(9 * time.Second))}}},
				}
				return p
			}(),
			want: at(9 * time.Second),
		},
		"sidecar still running ignores containers": {
			pod: func() *corev1.Pod {
				p := testutil.MakePod("p", "ns").Exited("a", 0, at(3*time.Second)).Created(t0).Obj()
				p.Spec.InitContainers = []corev1.Container{sidecar}
				p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "side"}}
				return p
			}(),
			want: t0,
		},
		"ready true is not a finish": {
			pod:  testutil.MakePod("p", "ns").Ready(at(2 * time.Second)).Created(t0).Obj(),
			want: t0,
		},
		"deletion minus grace": {
			pod: func() *corev1.Pod {
				p := testutil.MakePod("p", "ns").Deleted(at(time.Minute)).Created(t0).Obj()
				p.DeletionGracePeriodSeconds = ptr.To[int64](30)
				return p
			}(),
			want: at(30 * time.Second),
		},
		"creation fallback": {pod: testutil.MakePod("p", "ns").Created(at(time.Hour)).Obj(), want: at(time.Hour)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := FinishTime(tc.pod); !got.Equal(tc.want) {
				t.Errorf("FinishTime = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase, finished time.Duration) *corev1.Pod {
		return testutil.MakePod(name, "ns").Phase(phase).Exited("main", 1, at(finished)).Obj()
	}
	succ := corev1.PodSucceeded
	fail := corev1.PodFailed
	cases := map[string]struct {
		old       Record
		succeeded []*corev1.Pod
		failed    []*corev1.Pod
		want      Record
	}{
		"nothing new keeps record": {
			old:  Record{FailuresAfterLastSuccess: 2, LastFailureTime: ptr.To(t0)},
			want: Record{FailuresAfterLastSuccess: 2, LastFailureTime: ptr.To(t0)},
		},
		"failures add up": {
			old:    Record{FailuresAfterLastSuccess: 1, LastFailureTime: ptr.To(t0)},
			failed: []*corev1.Pod{pod("b", fail, 20*time.Second), pod("a", fail, 10*time.Second)},
			want:   Record{FailuresAfterLastSuccess: 3, LastFailureTime: ptr.To(at(20 * time.Second))},
		},
		"success resets": {
			old:       Record{FailuresAfterLastSuccess: 4, LastFailureTime: ptr.To(t0)},
			succeeded: []*corev1.Pod{pod("s", succ, time.Second)},
			want:      Record{},
		},
		"only failures after latest success count": {
			old:       Record{FailuresAfterLastSuccess: 4, LastFailureTime: ptr.To(t0)},
			succeeded: []*corev1.Pod{pod("s1", succ, 10*time.Second), pod("s2", succ, 30*time.Second)},
			failed: []*corev1.Pod{pod("f1", fail, 5*time.Second), pod("f2", fail, 30*time.Second),
				pod("f3", fail, 40*time.Second), pod("f4", fail, 35*time.Second)},
			want: Record{FailuresAfterLastSuccess: 2, LastFailureTime: ptr.To(at(40 * time.Second))},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Update(tc.old, tc.succeeded, tc.failed)); diff != "" {
				t.Errorf("Update (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestRemainingForIndex(t *testing.T) {
	cases := map[string]struct {
		pod  *corev1.Pod
		now  time.Time
		want time.Duration
	}{
		"no failed pod": {now: t0, want: 0},
		"first failure": {
			pod: testutil.MakePod("p", "ns").Phase(corev1.PodFailed).Exited("main", 1, t0).Obj(),
			now: at(3 * time.Second), want: 7 * time.Second,
		},
		"counted and ignored failures add up": {
			pod: testutil.MakePod("p", "ns").Phase(corev1.PodFailed).FailureCount(1, 1).Exited("main", 1, t0).Obj(),
			now: at(10 * time.Second), want: 30 * time.Second,
		},
		"expired": {
			pod: testutil.MakePod("p", "ns").Phase(corev1.PodFailed).FailureCount(1, 0).Exited("main", 1, t0).Obj(),
			now: at(20 * time.Second), want: 0,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := RemainingForIndex(tc.pod, tc.now); got != tc.want {
				t.Errorf("RemainingForIndex = %v, want %v", got, tc.want)
			}
		})
	}
}

func metaTime(t time.Time) metav1.Time { return metav1.NewTime(t) }
