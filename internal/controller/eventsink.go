package controller

import (
	"context"
	"sync"
	"sync/atomic"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/batchjob-dev/batchjob/internal/metrics"
)

// maxQueuedEvents bounds the events waiting to be sent, as upstream's event broadcaster
// bounds its queue (client-go tools/record, maxQueuedEvents).
const maxQueuedEvents = 1000

// newEventRecorder returns the BatchJob controller's events.k8s.io recorder. Its events
// are sent one at a time, as upstream's recorder sends them from a single goroutine.
// controller-runtime's recorder hands each event to a goroutine of its own; under a
// saturated client budget every one of them waits for a token beside the requests that
// create pods and write status, so events took a share of the one budget that grew with
// their number (a fifth of it on many small jobs). One at a time, they take one waiter's
// share, and the rest follow once the budget is free.
func newEventRecorder(mgr ctrl.Manager) (EventRecorder, error) {
	// Protobuf, as kube-controller-manager's clients speak it: cheaper for kube-apiserver to
	// decode and encode than the JSON a typed client defaults to.
	cfg := rest.CopyConfig(mgr.GetConfig())
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cs, err := eventsv1client.NewForConfigAndClient(cfg, mgr.GetHTTPClient())
	if err != nil {
		return nil, err
	}
	b := events.NewBroadcaster(&sequentialSink{next: &events.EventSinkImpl{Interface: cs}, max: maxQueuedEvents})
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.StartRecordingToSinkWithContext(ctx); err != nil {
		cancel()
		return nil, err
	}
	stop := func(done context.Context) error {
		<-done.Done()
		cancel()
		b.Shutdown()
		return nil
	}
	if err := mgr.Add(runnableWithoutLeader(stop)); err != nil {
		cancel()
		return nil, err
	}
	return b.NewRecorder(mgr.GetScheme(), ControllerName), nil
}

// runnableWithoutLeader runs on every replica, leader or not.
type runnableWithoutLeader func(context.Context) error

func (f runnableWithoutLeader) Start(ctx context.Context) error { return f(ctx) }
func (runnableWithoutLeader) NeedLeaderElection() bool          { return false }

// sequentialSink sends one event at a time to next. At most max calls wait; beyond that
// an event is dropped with an API error, which the broadcaster does not retry.
type sequentialSink struct {
	next    events.EventSink
	max     int64
	waiting atomic.Int64
	mu      sync.Mutex
}

func (s *sequentialSink) Create(ctx context.Context, ev *eventsv1.Event) (*eventsv1.Event, error) {
	return s.send(func() (*eventsv1.Event, error) { return s.next.Create(ctx, ev) })
}

func (s *sequentialSink) Update(ctx context.Context, ev *eventsv1.Event) (*eventsv1.Event, error) {
	return s.send(func() (*eventsv1.Event, error) { return s.next.Update(ctx, ev) })
}

func (s *sequentialSink) Patch(ctx context.Context, old *eventsv1.Event, data []byte) (*eventsv1.Event, error) {
	return s.send(func() (*eventsv1.Event, error) { return s.next.Patch(ctx, old, data) })
}

func (s *sequentialSink) send(f func() (*eventsv1.Event, error)) (*eventsv1.Event, error) {
	if s.waiting.Add(1) > s.max {
		s.waiting.Add(-1)
		metrics.EventsDroppedTotal.Inc()
		return nil, apierrors.NewTooManyRequests("too many events waiting for the client budget", 0)
	}
	defer s.waiting.Add(-1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}
