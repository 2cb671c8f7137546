package kueue

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kueueapi "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/kueue"
	"github.com/batchjob-dev/batchjob/test/util/kueuetest"
)

// samples is config/samples/kueue.
var samples = filepath.Join(root, "config", "samples", "kueue")

// apply applies the files to the cluster as a user does, and deletes what they made at the
// end of the test.
func apply(t *testing.T, c *cluster, files ...string) {
	t.Helper()
	for _, f := range files {
		if out, err := c.kubectl("apply", "--server-side", "-f", f); err != nil {
			t.Fatalf("%s: kubectl apply -f %s: %v: %s", c.name, f, err, out)
		}
	}
	t.Cleanup(func() {
		for i := len(files) - 1; i >= 0; i-- {
			_, _ = c.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", files[i])
		}
	})
}

// setUpMultiKueue is the README's "Beyond one cluster": the worker gets the queues of
// config/samples/kueue/queues.yaml; the manager gets the worker's kubeconfig (certificates
// inline, as Kueue requires) in a Secret in Kueue's namespace and
// config/samples/kueue/multikueue/manager.yaml; it returns once the MultiKueue admission
// check is Active.
func setUpMultiKueue(t *testing.T) {
	t.Helper()
	apply(t, worker, filepath.Join(samples, "queues.yaml"))
	kubeconfig, err := worker.kubectl("config", "view", "--raw", "--flatten", "--minify")
	if err != nil {
		t.Fatalf("worker kubeconfig: %v: %s", err, kubeconfig)
	}
	create(t, manager, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "worker1-kubeconfig", Namespace: kueuetest.Namespace},
		StringData: map[string]string{"kubeconfig": kubeconfig}})
	apply(t, manager, filepath.Join(samples, "multikueue", "manager.yaml"))
	eventually(t, time.Minute, "the MultiKueue admission check Active", func() (bool, string) {
		got := &kueueapi.AdmissionCheck{}
		if err := manager.client.Get(context.Background(), client.ObjectKey{Name: "multikueue"}, got); err != nil {
			return false, err.Error()
		}
		mkc := &kueueapi.MultiKueueCluster{}
		_ = manager.client.Get(context.Background(), client.ObjectKey{Name: "worker1"}, mkc)
		return apimeta.IsStatusConditionTrue(got.Status.Conditions, kueueapi.AdmissionCheckActive),
			fmt.Sprintf("check %+v; cluster %+v", got.Status.Conditions, mkc.Status.Conditions)
	})
}

// A BatchJob submitted to the manager cluster's queue with spec.managedBy MultiKueue
// (config/samples/kueue/multikueue/dispatched-job.yaml) is dispatched by Kueue's generic
// adapter to the worker, where it uses the prebuilt Workload MultiKueue made and runs under
// our controller; the manager's copy gets no pods (our controller leaves it alone) but
// shows the worker's status while it runs and at the end: conditions, counts,
// completedIndexes. Deleting a job on the manager removes it from the worker.
func TestMultiKueue(t *testing.T) {
	requireKueue(t)
	setUpMultiKueue(t)
	const ns = "default"

	t.Run("dispatched, runs on the worker, status mirrored", func(t *testing.T) {
		apply(t, manager, filepath.Join(samples, "multikueue", "dispatched-job.yaml"))
		var sawRemote, sawAdopted, sawActive bool
		eventually(t, 3*time.Minute, "the manager's copy Complete", func() (bool, string) {
			if remote, err := getJob(t, worker, ns, "dispatched"); err == nil {
				sawRemote = true
				sawAdopted = checkRemote(t, remote) || sawAdopted
			}
			local, err := getJob(t, manager, ns, "dispatched")
			if err != nil {
				return false, err.Error()
			}
			sawActive = sawActive || local.Status.Active > 0
			if pods := podsOf(t, manager, ns, "dispatched"); len(pods) != 0 {
				t.Fatalf("the manager cluster has %d pods of the dispatched job; want none (managedBy)", len(pods))
			}
			return local.Status.HasTrueCondition(v1alpha1.JobComplete), jobState(local)
		})
		if !sawRemote || !sawAdopted || !sawActive {
			t.Errorf("saw the worker's copy: %v, controlling its prebuilt Workload: %v; saw the manager's copy with active pods: %v; want all",
				sawRemote, sawAdopted, sawActive)
		}
		local := waitComplete(t, manager, ns, "dispatched", 4, "0-3")
		if ptr.Deref(local.Spec.ManagedBy, "") != kueueapi.MultiKueueControllerName {
			t.Errorf("the manager's copy has managedBy %v", local.Spec.ManagedBy)
		}
		eventually(t, time.Minute, "the manager's Workload Finished", func() (bool, string) {
			wl := workloadOf(t, manager, local)
			return wl != nil && apimeta.IsStatusConditionTrue(wl.Status.Conditions, kueueapi.WorkloadFinished), wlState(wl)
		})
	})

	t.Run("deleted on the manager, removed from the worker", func(t *testing.T) {
		job := queuedJob(ns, "deleted", 2, 2, "1h").Label(kueue.QueueNameLabel, "user-queue").ManagedBy(kueueapi.MultiKueueControllerName).Obj()
		create(t, manager, job)
		eventually(t, 2*time.Minute, "the job running on the worker", func() (bool, string) {
			remote, err := getJob(t, worker, ns, "deleted")
			if err != nil {
				return false, err.Error()
			}
			return remote.Status.Active == 2, jobState(remote)
		})
		if err := manager.client.Delete(context.Background(), job, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
			t.Fatalf("deleting the job on the manager: %v", err)
		}
		eventually(t, 2*time.Minute, "the worker's copy gone", func() (bool, string) {
			remote, err := getJob(t, worker, ns, "deleted")
			if apierrors.IsNotFound(err) {
				return true, ""
			}
			return false, fmt.Sprintf("%v %s", err, jobState(remote))
		})
	})
}

// checkRemote checks the worker's copy as the generic adapter makes it and our worker-side
// integration keeps it: no managedBy (our controller runs it), the prebuilt Workload's name
// and MultiKueue's origin as labels, and no Workload of its own (it uses the prebuilt one).
// It reports whether the prebuilt Workload is adopted (controlled by the copy) yet.
func checkRemote(t *testing.T, remote *v1alpha1.BatchJob) (adopted bool) {
	t.Helper()
	if remote.Spec.ManagedBy != nil && *remote.Spec.ManagedBy != v1alpha1.ControllerName {
		t.Errorf("the worker's copy has managedBy %q", *remote.Spec.ManagedBy)
	}
	prebuilt := kueue.PrebuiltWorkload(remote)
	if prebuilt == "" || remote.Labels[kueueapi.MultiKueueOriginLabel] == "" {
		t.Fatalf("the worker's copy has labels %v; want the prebuilt-workload and origin labels", remote.Labels)
	}
	own := &kueueapi.Workload{}
	if err := worker.client.Get(context.Background(), client.ObjectKey{Namespace: remote.Namespace, Name: kueue.WorkloadName(remote)}, own); err == nil {
		t.Fatalf("the worker's copy made a Workload of its own, %s, besides the prebuilt %s", own.Name, prebuilt)
	}
	wl := workloadOf(t, worker, remote)
	return wl != nil && metav1.IsControlledBy(wl, remote)
}
