package controller

import (
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/batchjob-dev/batchjob/internal/plan"
)

// The rest of what is remembered per job besides expectations: the backoff record, the
// controller's last write, and whether it finished the job.

// backoff returns the stored pod-failure backoff record, nil if none.
func (e *expectations) backoff(key types.NamespacedName, uid types.UID) *plan.BackoffRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.lookup(key, uid); s != nil {
		return s.backoff
	}
	return nil
}

// wrote records a successful write of the job (resourceVersion rv); finished says whether
// the write added a terminal condition; backoff is kept when non-nil.
func (e *expectations) wrote(key types.NamespacedName, uid types.UID, rv string, finished bool, backoff *plan.BackoffRecord) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.state(key, uid)
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

// stale reports whether the cached copy (resourceVersion rv) is older than the
// controller's own last write, or the controller already finished the job but the cache
// does not show it yet. Acting on such a copy could count pods twice or create extra pods.
func (e *expectations) stale(key types.NamespacedName, uid types.UID, rv string, cachedFinished bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.lookup(key, uid)
	if s == nil {
		return false
	}
	if s.finished && !cachedFinished {
		return true
	}
	if s.writtenRV == "" || s.writtenRV == rv {
		return false
	}
	cmp, err := resourceversion.CompareResourceVersion(rv, s.writtenRV)
	// An unparsable resourceVersion cannot be ordered; trust the cache rather than stall.
	return err == nil && cmp < 0
}

// podLeftCache remembers that job's pod name dropped out of the label-filtered pod cache.
func (e *expectations) podLeftCache(key types.NamespacedName, uid types.UID, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state(key, uid).leftCache.Insert(name)
}

// takePodsLeftCache returns and forgets the pods recorded by podLeftCache.
func (e *expectations) takePodsLeftCache(key types.NamespacedName, uid types.UID) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.lookup(key, uid)
	if s == nil || s.leftCache.Len() == 0 {
		return nil
	}
	names := sets.List(s.leftCache)
	s.leftCache = sets.New[string]()
	return names
}
