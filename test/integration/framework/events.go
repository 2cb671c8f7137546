package framework

import (
	"context"
	"fmt"
	"slices"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/controller"
)

// EventReasons returns the reasons of the events our controller recorded on job (a
// series counts as many times as it happened).
func (e *Env) EventReasons(t testing.TB, job *v1alpha1.BatchJob) []string {
	t.Helper()
	var list eventsv1.EventList
	if err := e.Client.List(context.Background(), &list, client.InNamespace(job.Namespace)); err != nil {
		t.Fatalf("Failed to list events: %v", err)
	}
	var out []string
	for _, ev := range list.Items {
		if ev.Regarding.UID != job.UID || ev.ReportingController != controller.ControllerName {
			continue
		}
		n := int32(1)
		if ev.Series != nil {
			n = max(n, ev.Series.Count)
		}
		for range n {
			out = append(out, ev.Reason)
		}
	}
	return out
}

// WaitForEvents waits until our controller's events on job include every reason of want,
// with multiplicity.
func (e *Env) WaitForEvents(t testing.TB, job *v1alpha1.BatchJob, want ...string) {
	t.Helper()
	Eventually(t, fmt.Sprintf("events %v", want), func() (bool, string) {
		got := e.EventReasons(t, job)
		left := slices.Clone(got)
		for _, w := range want {
			i := slices.Index(left, w)
			if i < 0 {
				return false, fmt.Sprint(got)
			}
			left = slices.Delete(left, i, i+1)
		}
		return true, ""
	})
}
