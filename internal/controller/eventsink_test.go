package controller

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// blockingSink counts the calls in flight and holds each until release is closed.
type blockingSink struct {
	inFlight, most atomic.Int64
	release        chan struct{}
}

func (b *blockingSink) call() (*eventsv1.Event, error) {
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for {
		m := b.most.Load()
		if n <= m || b.most.CompareAndSwap(m, n) {
			break
		}
	}
	<-b.release
	return &eventsv1.Event{}, nil
}

func (b *blockingSink) Create(context.Context, *eventsv1.Event) (*eventsv1.Event, error) {
	return b.call()
}
func (b *blockingSink) Update(context.Context, *eventsv1.Event) (*eventsv1.Event, error) {
	return b.call()
}
func (b *blockingSink) Patch(context.Context, *eventsv1.Event, []byte) (*eventsv1.Event, error) {
	return b.call()
}

// TestSequentialSink: events go out one at a time whatever the goroutines the broadcaster
// starts, and beyond the bound they are dropped with an error the broadcaster does not retry.
func TestSequentialSink(t *testing.T) {
	next := &blockingSink{release: make(chan struct{})}
	s := &sequentialSink{next: next, max: 4}
	var wg sync.WaitGroup
	var sent, dropped atomic.Int64
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				_, err = s.Create(context.Background(), &eventsv1.Event{})
			case 1:
				_, err = s.Update(context.Background(), &eventsv1.Event{})
			default:
				_, err = s.Patch(context.Background(), &eventsv1.Event{}, nil)
			}
			switch {
			case err == nil:
				sent.Add(1)
			case apierrors.IsTooManyRequests(err):
				dropped.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	// Wait until the four admitted calls wait (one in next, three on the lock) and the
	// two others were turned away.
	deadline := time.Now().Add(10 * time.Second)
	for (s.waiting.Load() != 4 || dropped.Load() != 2) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(next.release)
	wg.Wait()
	if sent.Load() != 4 || dropped.Load() != 2 || next.most.Load() != 1 {
		t.Errorf("sent %d, dropped %d, most in flight %d; want 4, 2, 1", sent.Load(), dropped.Load(), next.most.Load())
	}
	if s.waiting.Load() != 0 {
		t.Errorf("%d calls still counted as waiting", s.waiting.Load())
	}
}
