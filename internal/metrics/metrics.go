// Package metrics holds the controller's Prometheus collectors. They mirror upstream's
// job_controller_* metrics under the batchjob_ prefix, with the same bounded label values
// (completion mode, result, reason, action), never a namespace or an object name. They are
// registered once, on controller-runtime's registry, which the manager serves.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

const namespace = "batchjob"

// Label values.
const (
	ActionReconciling = "reconciling"
	ActionTracking    = "tracking"
	ActionPodsCreated = "pods_created"
	ActionPodsDeleted = "pods_deleted"

	ResultSuccess   = "success"
	ResultError     = "error"
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"

	EventAdd    = "add"
	EventDelete = "delete"
)

var (
	// SyncDuration is the latency of one reconcile pass.
	SyncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "sync_duration_seconds",
		Help:    "Time taken to reconcile a BatchJob.",
		Buckets: prometheus.ExponentialBuckets(0.004, 2, 15),
	}, []string{"completion_mode", "result", "action"})

	// SyncsTotal counts reconcile passes.
	SyncsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "syncs_total",
		Help: "Number of BatchJob reconcile passes.",
	}, []string{"completion_mode", "result", "action"})

	// JobsFinishedTotal counts BatchJobs that got Complete or Failed.
	JobsFinishedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "jobs_finished_total",
		Help: "Number of finished BatchJobs.",
	}, []string{"completion_mode", "result", "reason"})

	// PodsFinishedTotal counts pods counted in status.succeeded or status.failed.
	PodsFinishedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "pods_finished_total",
		Help: "Number of finished pods counted in BatchJob status.",
	}, []string{"completion_mode", "result"})

	// PodFailuresHandledByFailurePolicy counts failed pods matched by a podFailurePolicy rule.
	PodFailuresHandledByFailurePolicy = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "pod_failures_handled_by_failure_policy_total",
		Help: "Number of failed pods handled by a podFailurePolicy rule, by action.",
	}, []string{"action"})

	// FinishedIndexesTotal counts indexes of Indexed BatchJobs that succeeded or failed;
	// backoffLimit is perIndex with backoffLimitPerIndex, global otherwise.
	FinishedIndexesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "finished_indexes_total",
		Help: "Number of finished indexes of Indexed BatchJobs, by status and backoffLimit kind.",
	}, []string{"status", "backoffLimit"})

	// PodsCreationTotal counts pod creations by reason and outcome.
	PodsCreationTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "pods_creation_total",
		Help: "Number of pods created by the BatchJob controller, by reason and status.",
	}, []string{"reason", "status"})

	// TerminatedPodsTrackingFinalizerTotal counts terminal pods gaining (add) or losing
	// (delete) the tracking finalizer.
	TerminatedPodsTrackingFinalizerTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "terminated_pods_tracking_finalizer_total",
		Help: "Number of terminal pods that gained (add) or lost (delete) the tracking finalizer.",
	}, []string{"event"})

	// TTLDeletionDuration is the delay between a finished BatchJob's TTL expiry and its deletion.
	TTLDeletionDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "ttl_deletion_duration_seconds",
		Help:    "Time from TTL expiry to the deletion of a finished BatchJob.",
		Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
	})

	// StatusWritesDeferredTotal counts passes whose bookkeeping-only status write was folded
	// into a later one because the job was busy (--status-batch-period); no upstream twin.
	StatusWritesDeferredTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "status_writes_deferred_total",
		Help: "Status writes of busy BatchJobs deferred to fold into a later write.",
	})

	// EventsDroppedTotal counts events not sent because too many were already waiting for
	// the client budget, as upstream's event queue drops when full; no upstream twin.
	EventsDroppedTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "events_dropped_total",
		Help: "Events dropped because too many were waiting to be sent.",
	})
)

func init() {
	crmetrics.Registry.MustRegister(
		SyncDuration, SyncsTotal, JobsFinishedTotal, PodsFinishedTotal,
		PodFailuresHandledByFailurePolicy, PodsCreationTotal, FinishedIndexesTotal,
		TerminatedPodsTrackingFinalizerTotal, TTLDeletionDuration, StatusWritesDeferredTotal,
		EventsDroppedTotal,
	)
}
