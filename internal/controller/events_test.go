package controller

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

type recorded struct {
	Reason, Related, Note string
}

type fakeRecorder struct{ got []recorded }

func (f *fakeRecorder) Eventf(_, related runtime.Object, _, reason, _, note string, args ...any) {
	r := recorded{Reason: reason, Note: fmt.Sprintf(note, args...)}
	if p, ok := related.(*corev1.Pod); ok {
		r.Related = p.Name
	}
	f.got = append(f.got, r)
}

func TestSimilarEvents(t *testing.T) {
	job := func(uid string) *v1alpha1.BatchJob {
		return testutil.MakeEmptyBatchJob(uid, "").WithUID(k8stypes.UID("uid-" + uid)).Obj()
	}
	created := func(n int) recorded {
		name := fmt.Sprintf("p%d", n)
		return recorded{Reason: "SuccessfulCreate", Related: name, Note: "Created pod: " + name}
	}
	combined := func(n int) recorded {
		return recorded{Reason: "SuccessfulCreate", Note: fmt.Sprintf("%sCreated pod: p%d", combinedPrefix, n)}
	}
	cases := map[string]struct {
		events func(s *similarEvents, c *clocktesting.FakePassiveClock)
		want   []recorded
	}{
		"beyond ten of one reason on one job: combined": {
			events: func(s *similarEvents, _ *clocktesting.FakePassiveClock) {
				for i := 1; i <= 12; i++ {
					s.Eventf(job("a"), pod(i), "Normal", "SuccessfulCreate", "CreatePod", "Created pod: %s", pod(i).Name)
				}
			},
			want: []recorded{created(1), created(2), created(3), created(4), created(5), created(6),
				created(7), created(8), created(9), created(10), combined(11), combined(12)},
		},
		"other reasons and jobs count apart": {
			events: func(s *similarEvents, _ *clocktesting.FakePassiveClock) {
				for i := 1; i <= 10; i++ {
					s.Eventf(job("a"), pod(i), "Normal", "SuccessfulCreate", "CreatePod", "Created pod: %s", pod(i).Name)
				}
				s.Eventf(job("a"), nil, "Normal", "Completed", "Sync", "Job completed")
				s.Eventf(job("b"), pod(1), "Normal", "SuccessfulCreate", "CreatePod", "Created pod: %s", "p1")
			},
			want: []recorded{created(1), created(2), created(3), created(4), created(5), created(6),
				created(7), created(8), created(9), created(10),
				{Reason: "Completed", Note: "Job completed"}, created(1)},
		},
		"a new window starts after ten minutes": {
			events: func(s *similarEvents, c *clocktesting.FakePassiveClock) {
				for i := 1; i <= 11; i++ {
					s.Eventf(job("a"), pod(i), "Normal", "SuccessfulCreate", "CreatePod", "Created pod: %s", pod(i).Name)
				}
				c.SetTime(c.Now().Add(similarEventsWindow + time.Second))
				s.Eventf(job("a"), pod(12), "Normal", "SuccessfulCreate", "CreatePod", "Created pod: %s", "p12")
			},
			want: []recorded{created(1), created(2), created(3), created(4), created(5), created(6),
				created(7), created(8), created(9), created(10), combined(11), created(12)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := clocktesting.NewFakePassiveClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			rec := &fakeRecorder{}
			tc.events(newSimilarEvents(rec, c), c)
			if diff := cmp.Diff(tc.want, rec.got); diff != "" {
				t.Errorf("recorded events (-want,+got):\n%s", diff)
			}
		})
	}
}

func pod(n int) *corev1.Pod {
	return testutil.MakeEmptyPod(fmt.Sprintf("p%d", n), "").Obj()
}
