package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"

	"github.com/batchjob-dev/batchjob/internal/plan"
)

// expectationsTimeout bounds how long a lost watch event can hold a job back, as upstream's
// controller.ExpectationsTimeout does.
const expectationsTimeout = 5 * time.Minute

// jobMemory is everything the controller remembers about BatchJobs between passes, in one
// place: expectations (creations, deletions, finalizer removals not yet seen in the
// cache), the resourceVersion of its last write, whether it finished the job, the
// pod-failure backoff record, pods that dropped out of the label-filtered cache, and the
// pass and status-write token buckets.
//
// Every record is keyed by the job's UID, never by its name: a BatchJob deleted and
// re-created under the same name is another job, and events about its predecessor's pods
// (garbage collection, released pods) must never touch the live job's record. The name
// only maps to the UID a pass last saw, so that records of a predecessor can be dropped.
//
// It is safe for concurrent use by the reconcile workers and the informers' event
// handlers.
type jobMemory struct {
	clock      clock.PassiveClock // expectation timeouts
	queueClock clock.PassiveClock // token buckets: work-queue delays run on the wall clock
	passes     rate
	writes     rate

	mu   sync.Mutex
	jobs map[types.UID]*jobState
	live map[types.NamespacedName]types.UID
}

// jobState is what is remembered about one BatchJob (one UID).
type jobState struct {
	// creations still to be seen in the pod cache; deletions holds UIDs of pods whose DELETE
	// was issued but whose deletionTimestamp (or removal) is not yet seen.
	creations  int
	deletions  sets.Set[types.UID]
	expectedAt time.Time
	// finalizerPending holds UIDs of pods whose tracking-finalizer removal was issued but
	// not yet seen in the cache.
	finalizerPending sets.Set[types.UID]
	// writtenRV is the resourceVersion of the controller's last write of the job; passes
	// on an older cached copy are skipped (read your writes).
	writtenRV string
	// finished is set once this controller wrote a terminal condition.
	finished bool
	backoff  *plan.BackoffRecord
	// leftCache holds names of pods this job controls that dropped out of the pod cache
	// without being deleted (their controller-uid label was removed); the next pass reads
	// them from the API server and releases those that no longer match the selector.
	leftCache sets.Set[string]
	// nearEnd is set when the job's last write left it with at most one pod's work to do
	// (nearEnd): its passes are then put ahead of the queue.
	nearEnd bool
	// passTokens delays pod-event passes of a busy job; writeTokens its bookkeeping writes.
	passTokens, writeTokens bucket
}

func newJobMemory(c, queueClock clock.PassiveClock, syncBatchPeriod, statusBatchPeriod time.Duration) *jobMemory {
	return &jobMemory{
		clock:      c,
		queueClock: queueClock,
		passes:     rate{period: syncBatchPeriod, capacity: quietPasses},
		writes:     rate{period: statusBatchPeriod, capacity: quietWrites},
		jobs:       map[types.UID]*jobState{},
		live:       map[types.NamespacedName]types.UID{},
	}
}

// state returns uid's record, creating it. Callers hold m.mu.
func (m *jobMemory) state(uid types.UID) *jobState {
	s := m.jobs[uid]
	if s == nil {
		s = &jobState{deletions: sets.New[types.UID](), finalizerPending: sets.New[types.UID](), leftCache: sets.New[string]()}
		m.jobs[uid] = s
	}
	return s
}

// begin starts a pass of the job key with uid: uid becomes the live job of that name
// (a predecessor's record is dropped) and the pass takes a pass token.
func (m *jobMemory) begin(key types.NamespacedName, uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.live[key]; ok && old != uid {
		delete(m.jobs, old)
	}
	m.live[key] = uid
	m.state(uid).passTokens.take(m.passes, m.queueClock.Now())
}

// forget drops everything remembered about the job named key (it is gone).
func (m *jobMemory) forget(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if uid, ok := m.live[key]; ok {
		delete(m.jobs, uid)
		delete(m.live, key)
	}
}

// isLive reports whether uid may be the live job named key: it is the UID the last pass
// saw, or no pass has seen that name yet.
func (m *jobMemory) isLive(key types.NamespacedName, uid types.UID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	live, ok := m.live[key]
	return !ok || live == uid
}

// snapshot is what a pass needs from memory, read before the pods are listed: a pod seen
// after that point can only make the list newer than what the expectations assume.
type snapshot struct {
	// stale: the cached copy is older than the controller's own last write, or the
	// controller finished the job and the cache does not show it yet. Acting on it could
	// count pods twice or create extra pods.
	stale bool
	// satisfied: every issued creation and deletion was observed, or the record is older
	// than expectationsTimeout.
	satisfied               bool
	finalizerRemovalPending sets.Set[types.UID]
	backoff                 *plan.BackoffRecord
}

// snapshot returns uid's memory for a pass on a cached copy at resourceVersion rv.
func (m *jobMemory) snapshot(uid types.UID, rv string, cachedFinished bool) snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.jobs[uid]
	if s == nil {
		return snapshot{satisfied: true, finalizerRemovalPending: sets.New[types.UID]()}
	}
	return snapshot{
		stale:                   (s.finished && !cachedFinished) || olderThan(rv, s.writtenRV),
		satisfied:               (s.creations <= 0 && s.deletions.Len() == 0) || m.clock.Since(s.expectedAt) > expectationsTimeout,
		finalizerRemovalPending: s.finalizerPending.Clone(),
		backoff:                 s.backoff,
	}
}

// olderThan reports whether resourceVersion rv is older than written. An unparsable
// resourceVersion cannot be ordered; the cache is trusted rather than stall.
func olderThan(rv, written string) bool {
	if written == "" || written == rv {
		return false
	}
	cmp, err := resourceversion.CompareResourceVersion(rv, written)
	return err == nil && cmp < 0
}

// expect records creations and deletions about to be issued, replacing the previous record
// (which was satisfied, or no pods would be created or deleted).
func (m *jobMemory) expect(uid types.UID, creations int, deletions []types.UID) {
	if creations == 0 && len(deletions) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.state(uid)
	s.creations = creations
	s.deletions = sets.New(deletions...)
	s.expectedAt = m.clock.Now()
}

// creationObserved lowers the expected creations by n (a pod was seen, or a create failed
// or was skipped).
func (m *jobMemory) creationObserved(uid types.UID, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.jobs[uid]; s != nil {
		s.creations -= n
	}
}

// deletionObserved marks pod as gone or terminating (or its DELETE as failed).
func (m *jobMemory) deletionObserved(uid, pod types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.jobs[uid]; s != nil {
		s.deletions.Delete(pod)
	}
}

// expectFinalizerRemovals registers pods whose finalizer is about to be removed.
func (m *jobMemory) expectFinalizerRemovals(uid types.UID, pods []types.UID) {
	if len(pods) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state(uid).finalizerPending.Insert(pods...)
}

// finalizerRemovalObserved forgets pod: its finalizer is gone, the pod is gone, or the
// removal failed.
func (m *jobMemory) finalizerRemovalObserved(uid, pod types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.jobs[uid]; s != nil {
		s.finalizerPending.Delete(pod)
	}
}

// wrote commits what a pass did once its write succeeded (or none was needed): the
// job's resourceVersion rv after it, whether it added a terminal condition, and the
// backoff record (kept when non-nil).
func (m *jobMemory) wrote(uid types.UID, rv string, finished bool, backoff *plan.BackoffRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.state(uid)
	s.writtenRV = rv
	s.finished = s.finished || finished
	if backoff != nil {
		s.backoff = backoff
	}
	if finished {
		// Upstream forgets the backoff of a finished job; there is nothing left to back off.
		s.backoff = nil
	}
}

// podLeftCache remembers that a pod (by name) of the job uid dropped out of the
// label-filtered pod cache. Only a job a pass has seen keeps such a record: a pod of a job
// that is gone has nobody to release it but the orphan reconciler.
func (m *jobMemory) podLeftCache(uid types.UID, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.jobs[uid]; s != nil {
		s.leftCache.Insert(name)
	}
}

// takePodsLeftCache returns and forgets the pods recorded by podLeftCache.
func (m *jobMemory) takePodsLeftCache(uid types.UID) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.jobs[uid]
	if s == nil || s.leftCache.Len() == 0 {
		return nil
	}
	names := sets.List(s.leftCache)
	s.leftCache = sets.New[string]()
	return names
}

// setNearEnd records whether the job uid's last write left it near its end.
func (m *jobMemory) setNearEnd(uid types.UID, near bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state(uid).nearEnd = near
}

// isNearEnd reports whether the job uid's passes go ahead of the queue: its last write left
// it near its end, and it has not finished since.
func (m *jobMemory) isNearEnd(uid types.UID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.jobs[uid]
	return s != nil && s.nearEnd && !s.finished
}

// passDelay is how long a pod-event pass of the job uid waits: zero while it is quiet.
func (m *jobMemory) passDelay(uid types.UID) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.jobs[uid]
	if s == nil {
		return 0
	}
	return s.passTokens.delay(m.passes, m.queueClock.Now())
}

// writeDelay is how long a bookkeeping-only status write of the job uid waits.
func (m *jobMemory) writeDelay(uid types.UID) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state(uid).writeTokens.delay(m.writes, m.queueClock.Now())
}

// takeWrite takes a write token for a status write of the job uid that happens now.
func (m *jobMemory) takeWrite(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state(uid).writeTokens.take(m.writes, m.queueClock.Now())
}
