package plan

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Input is what the controller observed for one BatchJob.
type Input struct {
	// Job is the BatchJob as read from the cache. Plan never mutates it.
	Job *v1alpha1.BatchJob
	// Pods are the pods this BatchJob owns after claiming (controller ownerRef with the
	// job's UID and matching selector), with or without the tracking finalizer. Pods
	// adopted in this pass are passed with the finalizer already set. Plan never mutates them.
	Pods []*corev1.Pod
	// Now is the current time from the controller's injected clock.
	Now time.Time
	// ExpectationsSatisfied is false while pod creations or deletions issued earlier have
	// not been observed in the cache; then no pod is created or deleted and the job cannot
	// be declared finished.
	ExpectationsSatisfied bool
	// FinalizerRemovalPending holds UIDs of pods whose tracking-finalizer removal was
	// issued but is not yet observed; they are treated as already processed.
	FinalizerRemovalPending sets.Set[types.UID]
	// Backoff is the in-memory pod-failure backoff record from earlier passes; nil after a
	// controller restart, in which case it is rebuilt from the finish times of the pods.
	Backoff *BackoffRecord
	// PodFailureBackoff is the delay after the first pod failure (doubling after each
	// further one); zero means backoff.Base (10s). Tests shorten it, as upstream's
	// integration tests shorten DefaultJobPodFailureBackOff.
	PodFailureBackoff time.Duration
}

// BackoffRecord is the state of the exponential pod re-creation backoff (upstream newBackoffRecord and getRemainingTimePerIndex/getRemainingTimeForFailuresCount).
type BackoffRecord struct {
	FailuresAfterLastSuccess int32
	LastFailureTime          *time.Time
}

// Deletion is a pod to delete.
type Deletion struct {
	Pod *corev1.Pod
	// StripFinalizerFirst is true for scale-down and suspend deletions: the tracking
	// finalizer is removed before the DELETE so the pod is never counted. It is false for
	// pods terminated because the job is finishing; they are counted by the protocol.
	StripFinalizerFirst bool
}

// Event is an event to record on the BatchJob after the status write succeeded.
type Event struct {
	Type    string // corev1.EventTypeNormal or corev1.EventTypeWarning
	Reason  string
	Message string
}

// Finish describes a terminal condition added in this pass, for events and metrics.
type Finish struct {
	Succeeded bool
	Reason    string
}

// Result is the plan for one pass. The controller carries it out in this order:
// startup-failure pod conditions, deletions, creations (slow start), one status write (only if StatusChanged), finalizer
// removals (only after the status write succeeded, or when none was needed), events, and
// the AfterRelease write when the removals let the job finish.
type Result struct {
	// Status is the complete new status, including printing fields.
	Status v1alpha1.BatchJobStatus
	// StatusChanged is false when Status equals the stored status (ignoring fields that
	// only move with the clock), so no write is needed.
	StatusChanged bool

	// Delete lists pods to delete; Create lists fully built pods to create (generateName,
	// labels, annotations, ownerReference, tracking finalizer, index env and hostname).
	Delete []Deletion
	Create []*corev1.Pod
	// CreateReason is the job_pods_creation_total reason: new, recreate_terminating_or_failed
	// or recreate_failed.
	CreateReason string

	// StartupFailures are pods spec.podStartupPolicy fails: the controller patches their
	// BatchJobPodStartupFailed condition before any deletion; they are in Delete too.
	StartupFailures []StartupFailure

	// RemoveFinalizers lists pods whose tracking finalizer must be removed once Status is stored.
	RemoveFinalizers []*corev1.Pod

	// AfterRelease, when set, is a second status write (with its events, finish, metrics
	// and TTL timer) that the controller makes once every removal in RemoveFinalizers
	// succeeded: the released pods counted and the terminal condition added. Its other
	// fields are unset.
	AfterRelease *Result

	// Events are recorded after the status write succeeded.
	Events []Event
	// Finished is set when this pass adds Complete or Failed.
	Finished *Finish
	// PodsFinished counts pods newly counted in succeeded/failed in this pass (metrics).
	PodsFinishedSucceeded, PodsFinishedFailed int32
	// FailurePolicyActions counts pods matched by a podFailurePolicy rule, per action.
	FailurePolicyActions map[v1alpha1.PodFailurePolicyAction]int32

	// Backoff is the record to keep once the status write succeeded.
	Backoff *BackoffRecord

	// RequeueAfter is the earliest time to look again without an event (pod backoff,
	// active deadline, TTL expiry); zero means never.
	RequeueAfter time.Duration
	// MoreWork is true when a per-pass cap (pod deletions, finalizer removals, uncounted
	// pods) left work for another pass, which the controller runs at once.
	MoreWork bool
	// TTLExpired is true when the finished job's ttlSecondsAfterFinished has run out: the
	// controller re-reads the job, re-checks with TTLExpireAt and deletes it.
	TTLExpired bool
}
