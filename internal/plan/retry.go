package plan

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/backoff"
)

// backoffPolicy is the job's pod re-creation backoff: upstream's 10s doubling up to
// 10min (Input.PodFailureBackoff, a test override, replaces the 10s), with what
// spec.retryPolicy sets instead.
func (p *pass) backoffPolicy() backoff.Policy {
	policy := backoff.WithBase(p.in.PodFailureBackoff)
	if rp := p.job.Spec.RetryPolicy; rp != nil {
		if rp.InitialDelaySeconds != nil {
			policy.Base = seconds(int64(*rp.InitialDelaySeconds))
		}
		if rp.MaxDelaySeconds != nil {
			policy.Cap = seconds(int64(*rp.MaxDelaySeconds))
		}
	}
	return policy
}

// setNextPodCreationTime shows when the backoff lets the next pod be created. The time is
// rounded up to the second the API server stores, so that it is the same in every pass
// of one backoff and costs no extra write. A pass that did not manage pods (expectations
// pending) keeps what the last one said; a finishing or suspended job waits for nothing.
func (p *pass) setNextPodCreationTime() {
	switch {
	case p.decision != nil || p.suspended():
		p.st.NextPodCreationTime = nil
	case !p.managed:
	case p.backoffWait > 0:
		t := p.in.Now.Add(p.backoffWait)
		if r := t.Truncate(time.Second); r.Before(t) {
			t = r.Add(time.Second)
		}
		next := metav1.NewTime(t)
		p.st.NextPodCreationTime = &next
	default:
		p.st.NextPodCreationTime = nil
	}
}
