package backoff

import (
	"testing"
	"time"

	"k8s.io/utils/ptr"
)

func TestPolicyWithBase(t *testing.T) {
	cases := map[string]struct {
		base time.Duration
		n    int32
		last *time.Time
		now  time.Time
		want time.Duration
	}{
		"zero base is the default":     {base: 0, n: 1, last: ptr.To(t0), now: t0, want: 10 * time.Second},
		"short base, first failure":    {base: 2 * time.Second, n: 1, last: ptr.To(t0), now: at(time.Second), want: time.Second},
		"short base doubles":           {base: 2 * time.Second, n: 2, last: ptr.To(t0), now: t0, want: 4 * time.Second},
		"short base keeps the 10m cap": {base: time.Second, n: 30, last: ptr.To(t0), now: t0, want: 10 * time.Minute},
		"short base, expired":          {base: 100 * time.Millisecond, n: 1, last: ptr.To(t0), now: at(time.Second), want: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := WithBase(tc.base).Remaining(tc.n, tc.last, tc.now); got != tc.want {
				t.Errorf("WithBase(%v).Remaining = %v, want %v", tc.base, got, tc.want)
			}
		})
	}
}

// TestPolicyDelay: the curves spec.retryPolicy can ask for.
func TestPolicyDelay(t *testing.T) {
	cases := map[string]struct {
		policy Policy
		n      int32
		want   time.Duration
	}{
		"zero base: never waits":                  {policy: Policy{Base: 0, Cap: Cap}, n: 1 << 30, want: 0},
		"30s base doubles":                        {policy: Policy{Base: 30 * time.Second, Cap: Cap}, n: 3, want: 2 * time.Minute},
		"cap of 15s":                              {policy: Policy{Base: 10 * time.Second, Cap: 15 * time.Second}, n: 4, want: 15 * time.Second},
		"cap below the base caps the first delay": {policy: Policy{Base: 10 * time.Second, Cap: 3 * time.Second}, n: 1, want: 3 * time.Second},
		"zero cap: never waits":                   {policy: Policy{Base: 10 * time.Second, Cap: 0}, n: 2, want: 0},
		"no failures":                             {policy: Policy{Base: 30 * time.Second, Cap: Cap}, n: 0, want: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := tc.policy.Delay(tc.n); got != tc.want {
				t.Errorf("%+v.Delay(%d) = %v, want %v", tc.policy, tc.n, got, tc.want)
			}
		})
	}
}
