package cronjob

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// wakeups is a controller source that queues a BatchCronJob when its next scheduled time
// comes, by a timer on the injected clock. Result.RequeueAfter would wait on the work
// queue's wall clock whatever clock the decisions use; this way a fake clock stepped past
// a scheduled time wakes the controller as the real one does. One timer per BatchCronJob:
// each pass replaces it.
type wakeups struct {
	clock clock.WithDelayedExecution
	queue atomic.Pointer[workqueue.TypedRateLimitingInterface[reconcile.Request]]

	mu     sync.Mutex
	timers map[types.NamespacedName]clock.Timer
}

func newWakeups(c clock.WithDelayedExecution) *wakeups {
	return &wakeups{clock: c, timers: map[types.NamespacedName]clock.Timer{}}
}

// Start is source.Source's: it keeps the controller's queue, and stops the timers with ctx.
func (w *wakeups) Start(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	w.queue.Store(&q)
	go func() {
		<-ctx.Done()
		w.mu.Lock()
		defer w.mu.Unlock()
		for key, t := range w.timers {
			t.Stop()
			delete(w.timers, key)
		}
	}()
	return nil
}

// set wakes key after d, instead of any wake-up set before.
func (w *wakeups) set(key types.NamespacedName, d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t := w.timers[key]; t != nil {
		t.Stop()
	}
	// The callback takes no lock: a fake clock runs it while holding its own lock, which
	// set takes (through Stop and AfterFunc) while holding w.mu.
	w.timers[key] = w.clock.AfterFunc(d, func() {
		if q := w.queue.Load(); q != nil {
			(*q).Add(reconcile.Request{NamespacedName: key})
		}
	})
}

// forget drops key's wake-up (suspended, invalid schedule, or deleted).
func (w *wakeups) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t := w.timers[key]; t != nil {
		t.Stop()
		delete(w.timers, key)
	}
}
