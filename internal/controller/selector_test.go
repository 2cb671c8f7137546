package controller

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// A new job without its generated selector gets it and its first pods in one pass, as a
// batch/v1 Job (whose selector the API server writes at creation) does: the selector patch,
// the creations and the status write, with no second trip through the work queue.
func TestSelectorAndFirstPodsInOnePass(t *testing.T) {
	rig := newActRig(t, nil)
	job := &v1alpha1.BatchJob{}
	if err := rig.c.Get(context.Background(), client.ObjectKeyFromObject(rig.job), job); err != nil {
		t.Fatal(err)
	}
	if job.Spec.Selector != nil {
		t.Fatalf("the rig's job has a selector already: %v", job.Spec.Selector)
	}
	rig.r.mem.begin(client.ObjectKeyFromObject(job), job.UID)
	if _, err := rig.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(job)}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	want := []string{"patch pi", "create pi-", "create pi-", "create pi-", "create pi-", "event SuccessfulCreate", "event SuccessfulCreate",
		"event SuccessfulCreate", "event SuccessfulCreate", "update-status pi"}
	if len(rig.log.got) != len(want) {
		t.Fatalf("requests of the first pass:\n%v\nwant %v", rig.log.got, want)
	}
	if rig.log.got[0] != "patch pi" {
		t.Errorf("first request %q, want the selector patch", rig.log.got[0])
	}
	rig.log.got = rig.log.got[1:]
	rig.checkOrder(t, want[1:])
	stored := &v1alpha1.BatchJob{}
	if err := rig.c.Get(context.Background(), client.ObjectKeyFromObject(job), stored); err != nil {
		t.Fatal(err)
	}
	if stored.Spec.Selector == nil || stored.Spec.Selector.MatchLabels[v1alpha1.ControllerUIDLabel] != string(job.UID) || stored.Status.Active != 4 {
		t.Errorf("stored job: selector %v, active %d; want the generated selector and 4 active", stored.Spec.Selector, stored.Status.Active)
	}
}
