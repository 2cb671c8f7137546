package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"

	"github.com/batchjob-dev/batchjob/internal/plan"
)

// expectationsTimeout bounds how long a lost watch event can hold a job back, as upstream's
// controller.ExpectationsTimeout does.
const expectationsTimeout = 5 * time.Minute

// jobState is what the controller remembers about one BatchJob between passes. It is keyed
// by namespace/name and tagged with the job's UID, so that a job re-created under the same
// name starts from nothing.
type jobState struct {
	uid types.UID
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
}

// expectations guards against acting on a pod cache that has not caught up with the
// controller's own creations, deletions and finalizer removals. It is safe for concurrent
// use by the reconcile workers and the informer's event handlers.
type expectations struct {
	mu    sync.Mutex
	clock clock.PassiveClock
	jobs  map[types.NamespacedName]*jobState
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, jobs: map[types.NamespacedName]*jobState{}}
}

// state returns the record for key, creating or resetting it when uid differs. Callers
// hold e.mu.
func (e *expectations) state(key types.NamespacedName, uid types.UID) *jobState {
	s := e.jobs[key]
	if s == nil || s.uid != uid {
		s = &jobState{uid: uid, deletions: sets.New[types.UID](), finalizerPending: sets.New[types.UID](),
			leftCache: sets.New[string]()}
		e.jobs[key] = s
	}
	return s
}

// lookup returns the record for key only if it belongs to uid. Callers hold e.mu.
func (e *expectations) lookup(key types.NamespacedName, uid types.UID) *jobState {
	if s := e.jobs[key]; s != nil && s.uid == uid {
		return s
	}
	return nil
}

// forget drops everything remembered about key (the job is gone).
func (e *expectations) forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.jobs, key)
}

// satisfied reports whether all issued creations and deletions were observed, or the
// record is older than expectationsTimeout.
func (e *expectations) satisfied(key types.NamespacedName, uid types.UID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.lookup(key, uid)
	if s == nil || (s.creations <= 0 && s.deletions.Len() == 0) {
		return true
	}
	return e.clock.Since(s.expectedAt) > expectationsTimeout
}

// expect records creations and deletions about to be issued, replacing the previous record
// (which was satisfied, or no pods would be created or deleted).
func (e *expectations) expect(key types.NamespacedName, uid types.UID, creations int, deletions []types.UID) {
	if creations == 0 && len(deletions) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.state(key, uid)
	s.creations = creations
	s.deletions = sets.New(deletions...)
	s.expectedAt = e.clock.Now()
}

// creationObserved lowers the expected creations by n (a pod was seen, or a create failed
// or was skipped).
func (e *expectations) creationObserved(key types.NamespacedName, uid types.UID, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.lookup(key, uid); s != nil {
		s.creations -= n
	}
}

// deletionObserved marks pod as gone or terminating (or its DELETE as failed).
func (e *expectations) deletionObserved(key types.NamespacedName, uid, pod types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.lookup(key, uid); s != nil {
		s.deletions.Delete(pod)
	}
}

// expectFinalizerRemovals registers pods whose finalizer is about to be removed.
func (e *expectations) expectFinalizerRemovals(key types.NamespacedName, uid types.UID, pods []types.UID) {
	if len(pods) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state(key, uid).finalizerPending.Insert(pods...)
}

// finalizerRemovalObserved forgets pod: its finalizer is gone, the pod is gone, or the
// removal failed.
func (e *expectations) finalizerRemovalObserved(key types.NamespacedName, uid, pod types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.lookup(key, uid); s != nil {
		s.finalizerPending.Delete(pod)
	}
}

// pendingFinalizerRemovals returns a copy of the pending set.
func (e *expectations) pendingFinalizerRemovals(key types.NamespacedName, uid types.UID) sets.Set[types.UID] {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.lookup(key, uid); s != nil {
		return s.finalizerPending.Clone()
	}
	return sets.New[types.UID]()
}
