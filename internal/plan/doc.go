// Package plan decides, as a pure function of (BatchJob, its pods, now), everything one
// reconcile pass must do: which pods to create and delete, which tracking finalizers to
// drop, the new status, the events, and when to look again. It uses no client, no clock
// and no logger; the controller package carries the plan out.
//
// # The behaviour contract
//
// A BatchJob behaves as the batch/v1 Job controller of Kubernetes 1.37 behaves
// (pkg/controller/job in kubernetes/kubernetes). Comments in this repository cite upstream
// by function name; the topics below say what this package holds to, and where upstream
// does it.
//
// Pass order (upstream Controller.syncJob). A finished job only releases stray tracking
// finalizers and enforces its TTL. Otherwise: count active, ready and terminating pods and
// find the newly finished ones; set startTime; fold the new failures into the backoff
// record; decide a finish in upstream's precedence — an existing SuccessCriteriaMet, an
// existing FailureTarget, a FailJob rule of podFailurePolicy, backoffLimit (failed pods,
// or container restarts with restartPolicy OnFailure), activeDeadlineSeconds, then for
// Indexed jobs maxFailedIndexes, every index finished with some failed, and successPolicy;
// completions reached is checked after pods were managed. A decision deletes every active
// pod; otherwise pods are created or deleted (manageJob) and the Suspended condition kept.
//
// Pods (upstream manageJob, getPodCreationInfoForIndependentIndexes). At most
// min(parallelism, completions - succeeded) pods are active; work-queue jobs (no
// completions) stop adding pods once one succeeded. Indexed pods get the lowest missing
// indexes, the index label and annotation, JOB_COMPLETION_INDEX and hostname NAME-INDEX.
// At most 500 pods are created or deleted, and at most 500 finished pods recorded, per
// pass; a capped pass asks for another at once. Scale-down deletes the pods that did the
// least work first (upstream controller.ActivePods ordering); pods deleted for scale-down
// or suspend lose the tracking finalizer first and are never counted.
//
// Expectations (upstream ControllerExpectations). While creations or deletions issued
// earlier are not yet seen in the cache, no pod is created or deleted and no finish is
// declared; records expire after five minutes. Finalizer removals in flight are treated as
// done, so a pod is never counted twice.
//
// The finalizer protocol (upstream trackJobStatusAndRemoveFinalizers). Every pod carries
// batchjob.dev/job-tracking until it is counted. A finished pod is first recorded in
// status.uncountedTerminatedPods (Indexed successes directly in completedIndexes), then
// its finalizer is removed, then a later pass moves it into succeeded or failed, folded
// into that pass's write. One status write per pass, before the finalizer removals. The
// interim condition (SuccessCriteriaMet or FailureTarget) is written with the decision;
// the terminal one (Complete or Failed) only once nothing is uncounted or terminating and
// no pod of the job keeps the finalizer, so a job seen finished has none left. When this
// pass's removals are all that stands in the way, a second write after them counts the
// released pods and finishes the job (upstream flushUncountedAndRemoveFinalizers, then
// enactJobFinished), so a finishing job costs no extra pass.
//
// Failures (upstream isPodFailed, matchPodFailurePolicy, getNewIndexFailureCounts). A
// pod counts as failed in phase Failed, or when deleted before succeeding unless
// podReplacementPolicy is Failed. podFailurePolicy rules are evaluated in order: FailJob
// fails the job, FailIndex fails the index, Ignore does not count, Count counts. With
// backoffLimitPerIndex an index fails once its pods failed more than the limit; the last
// failed pod of an index keeps its finalizer until its replacement exists, so the
// replacement inherits the failure count annotations.
//
// Backoff (upstream newBackoffRecord, getRemainingTimePerIndex). A failed pod is replaced
// after 10 s, doubling per consecutive failure up to 10 min; a success resets it. After a
// controller restart the record is rebuilt from the pods' finish times.
//
// Conditions and events. Reasons and messages are upstream's (BackoffLimitExceeded,
// DeadlineExceeded, PodFailurePolicy, MaxFailedIndexesExceeded, FailedIndexes,
// SuccessPolicy, CompletionsReached); a failure message names the last failed pod after
// upstream's text. Events: SuccessfulCreate, SuccessfulDelete, FailedCreate, Completed,
// Suspended, Resumed, and the failure reason as a Warning.
//
// Suspend and managedBy (upstream syncJob and its managedBy check). A suspended job has
// no active pods and no startTime; resuming sets startTime anew. A job whose
// spec.managedBy names another controller is left alone, except that its TTL is enforced
// once it finished, as upstream's TTL-after-finished controller does for any Job.
//
// TTL (upstream ttlafterfinished controller, processJob). A finished job is deleted in
// the foreground ttlSecondsAfterFinished after its terminal condition, re-read from the
// API server and deleted with a UID precondition.
//
// Ownership (upstream ControllerRefManager.ClaimPods, cleanupPodFinalizers; in the
// controller package). A job adopts orphans its selector matches, releases its pods that
// no longer match, and never creates pods its own selector would not select; pods whose
// job is gone, or that no job will adopt, lose the tracking finalizer.
package plan
