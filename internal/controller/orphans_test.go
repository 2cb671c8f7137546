package controller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func orphanPod(name string) *corev1.Pod {
	return testutil.MakeEmptyPod(name, "ns").WithUID(types.UID("uid-"+name)).
		Label("app", "pi").Label(v1alpha1.ControllerUIDLabel, "x").Finalizer(v1alpha1.JobTrackingFinalizer).Obj()
}

// A cache List that fails is not "no job would adopt this pod": nothing is stripped, and
// the error brings the pod back with backoff.
func TestOrphanListErrorStripsNothing(t *testing.T) {
	pod := orphanPod("orphan")
	listErr := errors.New("cache not synced")
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(pod).
		WithIndex(&corev1.Pod{}, PodControllerUIDIndex, indexPodController).
		WithInterceptorFuncs(interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*v1alpha1.BatchJobList); ok {
				return listErr
			}
			return c.List(ctx, list, opts...)
		}}).Build()
	o := &orphanReconciler{client: c, apiReader: c}
	_, err := o.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(pod)})
	if !errors.Is(err, listErr) {
		t.Errorf("Reconcile error = %v, want %v", err, listErr)
	}
	got := &corev1.Pod{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(pod), got); err != nil {
		t.Fatal(err)
	}
	if !jobpod.HasFinalizer(got) {
		t.Errorf("finalizer stripped after a failed List: %v", got.Finalizers)
	}
}

// An orphan left to a job that would adopt it is looked at again: when that job stops
// being willing to adopt (finished, deleting, handed to another controller) and, as a
// safety net, after orphanRecheck.
func TestOrphanRecheck(t *testing.T) {
	pod := orphanPod("orphan")
	live := testutil.MakeBatchJob("pi", "ns").ManualSelector(map[string]string{"app": "pi"}).Obj()
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(pod, live).
		WithIndex(&corev1.Pod{}, PodControllerUIDIndex, indexPodController).Build()
	o := &orphanReconciler{client: c, apiReader: c}
	res, err := o.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(pod)})
	if err != nil || res.RequeueAfter != orphanRecheck {
		t.Errorf("Reconcile = %+v, %v; want a recheck after %v", res, err, orphanRecheck)
	}

	finished := live.DeepCopy()
	finished.Status.Conditions = []v1alpha1.JobCondition{{Type: v1alpha1.JobComplete, Status: corev1.ConditionTrue}}
	deleting := live.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	other := live.DeepCopy()
	other.Spec.ManagedBy = new("example.com/other")
	suspended := live.DeepCopy()
	suspended.Spec.Suspend = new(true)
	cases := map[string]struct {
		newJob *v1alpha1.BatchJob
		want   []reconcile.Request
	}{
		"finished":                     {newJob: finished, want: []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(pod)}}},
		"being deleted":                {newJob: deleting, want: []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(pod)}}},
		"handed to another controller": {newJob: other, want: []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(pod)}}},
		"suspended (still adopts)":     {newJob: suspended},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
			defer q.ShutDown()
			o.jobPodsHandler().Update(context.Background(), event.TypedUpdateEvent[client.Object]{ObjectOld: live, ObjectNew: tc.newJob}, q)
			var got []reconcile.Request
			for q.Len() > 0 {
				r, _ := q.Get()
				got = append(got, r)
				q.Done(r)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("enqueued (-want,+got):\n%s", diff)
			}
		})
	}
}

// An orphan being deleted is never adopted (claimPods skips it), so a matching live job
// is no reason to keep its finalizer: it would stay Terminating and block its namespace.
func TestOrphanBeingDeletedIsStripped(t *testing.T) {
	pod := orphanPod("terminating")
	pod.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	live := testutil.MakeBatchJob("pi", "ns").ManualSelector(map[string]string{"app": "pi"}).Obj()
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(pod, live).
		WithIndex(&corev1.Pod{}, PodControllerUIDIndex, indexPodController).Build()
	o := &orphanReconciler{client: c, apiReader: c}
	if _, err := o.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(pod)}); err != nil {
		t.Fatal(err)
	}
	got := &corev1.Pod{}
	err := c.Get(context.Background(), client.ObjectKeyFromObject(pod), got)
	if err == nil && jobpod.HasFinalizer(got) {
		t.Errorf("a terminating orphan kept the tracking finalizer: %v", got.Finalizers)
	}
}
