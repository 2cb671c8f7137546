package cronjob

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// RBAC for what this controller does beyond internal/controller's grants (which already
// cover reading, patching and deleting BatchJobs, and events).
// +kubebuilder:rbac:groups=batchjob.dev,resources=batchcronjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=batchjob.dev,resources=batchcronjobs/status,verbs=update
// +kubebuilder:rbac:groups=batchjob.dev,resources=batchcronjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=batchjob.dev,resources=batchjobs,verbs=create;delete

// ControllerName names the controller and the reporting controller of its events.
const ControllerName = "batchcronjob-controller"

// jobOwnerIndex indexes BatchJobs by the UID of their controller BatchCronJob. By UID,
// never by name: a re-created BatchCronJob must not see its predecessor's jobs.
const jobOwnerIndex = "batchjob.dev/cronjob-uid"

// concurrentSyncs is upstream's default --concurrent-cron-job-syncs.
const concurrentSyncs = 5

// Options configure a Reconciler; the zero value uses the real clock and time.Local.
type Options struct {
	// Clock drives the decisions and the wake-ups at scheduled times (a fake clock from
	// k8s.io/utils/clock/testing in tests).
	Clock clock.WithDelayedExecution
	// Local is the zone of schedules without spec.timeZone.
	Local *time.Location
}

// NewReconciler returns a Reconciler using the manager's clients and an events.k8s.io
// recorder of its own name.
func NewReconciler(mgr ctrl.Manager, opts Options) *Reconciler {
	c := opts.Clock
	if c == nil {
		c = clock.RealClock{}
	}
	local := opts.Local
	if local == nil {
		local = time.Local
	}
	return &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder(ControllerName),
		Clock:     c,
		Local:     local,
		wake:      newWakeups(c),
	}
}

// SetupWithManager registers the index and the controller: a pass per BatchCronJob
// change, per change of a BatchJob it controls, and at each scheduled time.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.BatchJob{}, jobOwnerIndex, indexJobOwner); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&v1alpha1.BatchCronJob{}).
		Owns(&v1alpha1.BatchJob{}).
		WatchesRawSource(r.wake).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrentSyncs}).
		WithLogConstructor(logConstructor(mgr.GetLogger())).
		Complete(r)
}

func indexJobOwner(obj client.Object) []string {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.Kind != "BatchCronJob" || ref.APIVersion != v1alpha1.GroupVersion.String() {
		return nil
	}
	return []string{string(ref.UID)}
}

// logConstructor gives every pass one key naming its object, as klog.KObj would.
func logConstructor(base logr.Logger) func(*reconcile.Request) logr.Logger {
	return func(req *reconcile.Request) logr.Logger {
		log := base.WithValues("controller", ControllerName)
		if req != nil {
			log = log.WithValues("batchcronjob", klog.KRef(req.Namespace, req.Name))
		}
		return log
	}
}
