package plan

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/backoff"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/podbuilder"
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

// maxAvoidedNodes bounds the nodes a replacement pod avoids, so that a job failing
// everywhere still fits on a cluster and its pods' affinity stays small.
const maxAvoidedNodes = 10

// avoidFailedNodes adds to a replacement pod (for index ix, or podbuilder.NoIndex) a
// required anti-affinity to the last nodes where the job's (Indexed: the index's) pods
// failed, when spec.retryPolicy.avoidFailedNodes asks for it.
func (p *pass) avoidFailedNodes(pod *corev1.Pod, ix int) {
	if rp := p.job.Spec.RetryPolicy; rp == nil || !ptr.Deref(rp.AvoidFailedNodes, false) {
		return
	}
	var failed []*corev1.Pod
	for _, f := range p.in.Pods {
		if f.Spec.NodeName != "" && p.isFailed(f) && (ix == podbuilder.NoIndex || jobpod.Index(f) == ix) {
			failed = append(failed, f)
		}
	}
	// Newest first, so the bound keeps the latest nodes; the list is sorted for a stable spec.
	slices.SortFunc(failed, func(a, b *corev1.Pod) int {
		return cmp.Or(backoff.FinishTime(b).Compare(backoff.FinishTime(a)), cmp.Compare(a.Name, b.Name))
	})
	nodes := sets.New[string]()
	for _, f := range failed {
		if nodes.Len() == maxAvoidedNodes {
			break
		}
		nodes.Insert(f.Spec.NodeName)
	}
	podbuilder.AvoidNodes(pod, sets.List(nodes))
}

// increaseMemory gives a pod (for index ix, or podbuilder.NoIndex) replacing an OOMKilled
// one more memory, when spec.retryPolicy.memoryIncreaseOnOOM asks for it. The replaced pod
// is the index's last failed pod (Indexed), or the job's most recent OOMKilled failed pod
// (NonIndexed); podbuilder.IncreaseMemory reads its spec, so increases compound.
func (p *pass) increaseMemory(pod *corev1.Pod, ix int) {
	rp := p.job.Spec.RetryPolicy
	if rp == nil || rp.MemoryIncreaseOnOOM == nil {
		return
	}
	var last *corev1.Pod
	for _, f := range p.in.Pods {
		if !p.isFailed(f) {
			continue
		}
		if ix == podbuilder.NoIndex && len(podbuilder.OOMKilledContainers(f)) == 0 {
			continue
		}
		if ix != podbuilder.NoIndex && jobpod.Index(f) != ix {
			continue
		}
		if last == nil || newerFailure(f, last) {
			last = f
		}
	}
	if last == nil {
		return
	}
	mi := rp.MemoryIncreaseOnOOM
	if msg, raised := podbuilder.IncreaseMemory(pod, last, mi.Factor, mi.Max); msg != "" {
		what, gets := "A new pod", " gets more memory: "
		if ix != podbuilder.NoIndex {
			what = fmt.Sprintf("A new pod for index %d", ix)
		}
		if !raised {
			gets = " keeps the memory cap: "
		}
		p.event(corev1.EventTypeNormal, "MemoryIncreased", what+gets+msg)
	}
}

// newerFailure orders failed pods by finish time, then creation time. Both have a
// resolution of a second, so a tie goes to the pod with more memory: within a chain of
// replacements the later pod has more. The name decides the rest, for a stable plan.
func newerFailure(a, b *corev1.Pod) bool {
	ma, mb := podbuilder.Memory(a), podbuilder.Memory(b)
	return cmp.Or(backoff.FinishTime(a).Compare(backoff.FinishTime(b)),
		a.CreationTimestamp.Compare(b.CreationTimestamp.Time),
		ma.Cmp(mb),
		cmp.Compare(a.Name, b.Name)) > 0
}
