package chaos

import (
	"context"
	"fmt"
	"slices"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// The checker's own list-and-watch loops, rather than informers, so that it knows when
// it is looking at a consistent List (after a watch gap it cannot resume, e.g. across a
// kube-apiserver restart) and when at the stream of changes. The items of a List are
// applied in resourceVersion order with the parallelism check paused, and checked once
// the whole snapshot is in; a watch that breaks resumes from the last resourceVersion, so
// across most outages no change is missed at all.

type resource struct {
	what    string
	ns      string
	newList func() client.ObjectList
	apply   func(obj client.Object, deleted, tomb bool)
	known   func() map[types.UID]client.Object // objects believed to exist, for relists
}

func (ck *Checker) resources() []resource {
	return []resource{
		{what: "leases", ns: leaseNamespace, newList: func() client.ObjectList { return &coordinationv1.LeaseList{} },
			apply: func(o client.Object, deleted, _ bool) {
				if !deleted {
					ck.onLease(o)
				}
			}},
		{what: "batchjobs", ns: ck.ns, newList: func() client.ObjectList { return &v1alpha1.BatchJobList{} },
			apply: func(o client.Object, deleted, tomb bool) { ck.onJob(o, deleted, tomb) },
			known: func() map[types.UID]client.Object {
				ck.mu.Lock()
				defer ck.mu.Unlock()
				out := map[types.UID]client.Object{}
				for uid, j := range ck.jobs {
					if j.last != nil && j.deletedAt.IsZero() {
						out[uid] = j.last
					}
				}
				return out
			}},
		{what: "pods", ns: ck.ns, newList: func() client.ObjectList { return &corev1.PodList{} },
			apply: func(o client.Object, deleted, tomb bool) { ck.onPod(o, deleted, tomb) },
			known: func() map[types.UID]client.Object {
				ck.mu.Lock()
				defer ck.mu.Unlock()
				out := map[types.UID]client.Object{}
				for uid, p := range ck.pods {
					if !p.gone {
						out[uid] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: ck.ns, UID: uid}}
					}
				}
				return out
			}},
	}
}

// run starts the loops and returns once each has applied its first List.
func (ck *Checker) run(ctx context.Context, c client.WithWatch) error {
	rs := ck.resources()
	synced := make(chan struct{}, len(rs))
	for _, r := range rs {
		go ck.listWatch(ctx, c, r, synced)
	}
	for range rs {
		select {
		case <-synced:
		case <-ctx.Done():
			return fmt.Errorf("checker: first lists: %w", ctx.Err())
		case <-time.After(2 * time.Minute):
			return fmt.Errorf("checker: first lists took more than 2 minutes")
		}
	}
	return nil
}

func (ck *Checker) listWatch(ctx context.Context, c client.WithWatch, r resource, synced chan<- struct{}) {
	rv := ""
	first := true
	for ctx.Err() == nil {
		if rv == "" {
			var err error
			if rv, err = ck.relist(ctx, c, r); err != nil {
				rv = ""
				sleepCtx(ctx, 500*time.Millisecond)
				continue
			}
			if first {
				synced <- struct{}{}
				first = false
			}
		}
		var err error
		rv, err = ck.watch(ctx, c, r, rv)
		if err != nil && ctx.Err() == nil {
			ck.timeline.add("checker: %s watch: %v", r.what, err)
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// relist applies a consistent List in resourceVersion order, then marks what vanished
// meanwhile as removed during a gap, and returns the List's resourceVersion.
func (ck *Checker) relist(ctx context.Context, c client.WithWatch, r resource) (string, error) {
	callCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	list := r.newList()
	if err := c.List(callCtx, list, client.InNamespace(r.ns)); err != nil {
		return "", err
	}
	objs, err := meta.ExtractList(list)
	if err != nil {
		return "", err
	}
	items := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		items = append(items, o.(client.Object))
	}
	slices.SortFunc(items, func(a, b client.Object) int {
		return int64Cmp(parseRV(a.GetResourceVersion()), parseRV(b.GetResourceVersion()))
	})
	ck.pause(true)
	defer ck.pause(false)
	present := map[types.UID]bool{}
	for _, o := range items {
		present[o.GetUID()] = true
		r.apply(o, false, false)
	}
	if r.known != nil {
		for uid, o := range r.known() {
			if !present[uid] {
				r.apply(o, true, true)
			}
		}
	}
	ck.timeline.add("checker: listed %d %s at resourceVersion %s", len(items), r.what, list.GetResourceVersion())
	return list.GetResourceVersion(), nil
}

func int64Cmp(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// watch applies watch events from rv until the watch ends; it returns the resourceVersion
// to resume from ("" when only a new List can continue).
func (ck *Checker) watch(ctx context.Context, c client.WithWatch, r resource, rv string) (string, error) {
	w, err := c.Watch(ctx, r.newList(), client.InNamespace(r.ns),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
	if err != nil {
		if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
			return "", err
		}
		return rv, err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return rv, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv, nil
			}
			switch ev.Type {
			case watch.Error:
				if st, ok := ev.Object.(*metav1.Status); ok && (st.Code == 410 || st.Reason == metav1.StatusReasonExpired || st.Reason == metav1.StatusReasonGone) {
					return "", fmt.Errorf("watch expired: %s", st.Message)
				}
				return rv, fmt.Errorf("watch error: %v", ev.Object)
			case watch.Bookmark:
				if o, ok := ev.Object.(client.Object); ok {
					rv = o.GetResourceVersion()
				}
			case watch.Added, watch.Modified, watch.Deleted:
				o, ok := ev.Object.(client.Object)
				if !ok {
					continue
				}
				r.apply(o, ev.Type == watch.Deleted, false)
				rv = o.GetResourceVersion()
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// pause stops (and, when resumed, re-runs) the parallelism check while a List is applied:
// the items of a List are final states, so the moments in between were never real.
func (ck *Checker) pause(on bool) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if on {
		ck.paused++
		return
	}
	ck.paused--
	if ck.paused == 0 {
		now := time.Now()
		for _, j := range ck.jobs {
			ck.checkLimit(j, now)
		}
	}
}
