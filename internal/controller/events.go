package controller

import (
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

const (
	// similarEventsMax and similarEventsWindow match upstream's core/v1 event correlator
	// (client-go tools/record): after 10 events of one reason on one object within 10
	// minutes, further ones are combined.
	similarEventsMax    = 10
	similarEventsWindow = 10 * time.Minute
	// similarEventsCacheSize bounds the memory of the correlation, as upstream's LRU does.
	similarEventsCacheSize = 4096
	combinedPrefix         = "(combined from similar events): "
)

// similarEvents combines repeated events as upstream's Job controller's recorder does, so
// that a 1,000-pod job does not cost 1,000 SuccessfulCreate writes: the first
// similarEventsMax events of one (object, type, reason) in a window are recorded as they
// are; later ones are recorded without their related object, against a reference that does
// not change with the job's resourceVersion, and with a combined note, so that the
// events.k8s.io broadcaster folds them into one Event whose series count grows (one create,
// one patch, then a final patch when the series ends).
type similarEvents struct {
	next  EventRecorder
	clock clock.PassiveClock

	mu   sync.Mutex
	seen *lru.Cache // similarKey -> *similarCount
}

type similarKey struct {
	uid         types.UID
	typ, reason string
}

type similarCount struct {
	since time.Time
	n     int
}

func newSimilarEvents(next EventRecorder, c clock.PassiveClock) *similarEvents {
	return &similarEvents{next: next, clock: c, seen: lru.New(similarEventsCacheSize)}
}

// Eventf records the event, or its combined form once the object had similarEventsMax
// similar events in the window.
func (s *similarEvents) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	if !s.count(regarding, eventtype, reason) {
		s.next.Eventf(regarding, related, eventtype, reason, action, note, args...)
		return
	}
	s.next.Eventf(stableRef(regarding), nil, eventtype, reason, action, "%s", combinedPrefix+fmt.Sprintf(note, args...))
}

// stableRef refers to a BatchJob without its resourceVersion: the broadcaster keys a series
// by the whole reference, and a job's resourceVersion moves with every status write.
func stableRef(obj runtime.Object) runtime.Object {
	job, ok := obj.(*v1alpha1.BatchJob)
	if !ok {
		return obj
	}
	return &corev1.ObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: batchJobKind,
		Namespace: job.Namespace, Name: job.Name, UID: job.UID}
}

// count records one more event of (regarding, type, reason) and reports whether it is
// beyond similarEventsMax in the current window.
func (s *similarEvents) count(regarding runtime.Object, eventtype, reason string) bool {
	m, err := meta.Accessor(regarding)
	if err != nil {
		return false
	}
	key := similarKey{uid: m.GetUID(), typ: eventtype, reason: reason}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *similarCount
	if v, ok := s.seen.Get(key); ok {
		c = v.(*similarCount)
	}
	if c == nil || now.Sub(c.since) > similarEventsWindow {
		c = &similarCount{since: now}
		s.seen.Add(key, c)
	}
	c.n++
	return c.n > similarEventsMax
}
