package v1alpha1

// Labels, annotations and the finalizer that the controller puts on the pods it creates.
// They mirror batch/v1's batch.kubernetes.io/* keys under this project's own domain.
const (
	// JobNameLabel carries the BatchJob's name on its pods and template.
	JobNameLabel = "batchjob.dev/job-name"
	// ControllerUIDLabel carries the BatchJob's UID; the generated selector matches on it.
	ControllerUIDLabel = "batchjob.dev/controller-uid"
	// LegacyJobNameLabel is the short label so `kubectl get pods -l job-name=NAME` works.
	LegacyJobNameLabel = "job-name"
	// LegacyControllerUIDLabel is the short form of ControllerUIDLabel.
	LegacyControllerUIDLabel = "controller-uid"

	// JobCompletionIndexAnnotation is both a label and an annotation on Indexed pods.
	JobCompletionIndexAnnotation = "batchjob.dev/job-completion-index"
	// JobIndexFailureCountAnnotation counts earlier counted failures of the pod's index.
	JobIndexFailureCountAnnotation = "batchjob.dev/job-index-failure-count"
	// JobIndexIgnoredFailureCountAnnotation counts earlier ignored failures of the index.
	JobIndexIgnoredFailureCountAnnotation = "batchjob.dev/job-index-ignored-failure-count"

	// MemoryIncreaseAnnotation records on a pod the memory it was given, and why, by
	// spec.retryPolicy.memoryIncreaseOnOOM.
	MemoryIncreaseAnnotation = "batchjob.dev/memory-increase"

	// PodStartupFailedCondition is the pod condition the controller sets, before deleting
	// the pod, on a pod that spec.podStartupPolicy fails; podFailurePolicy can match it.
	PodStartupFailedCondition = "BatchJobPodStartupFailed"
	// ReasonStartupTimeout is its reason when no container started within timeoutSeconds;
	// otherwise the reason is the container's waiting reason.
	ReasonStartupTimeout = "StartupTimeout"

	// JobTrackingFinalizer keeps a finished pod around until it is counted in status.
	JobTrackingFinalizer = "batchjob.dev/job-tracking"

	// JobCompletionIndexEnv is the env var through which Indexed pods learn their index.
	JobCompletionIndexEnv = "JOB_COMPLETION_INDEX"

	// ControllerName is the spec.managedBy value (or unset) that this controller reconciles.
	ControllerName = "batchjob.dev/controller"
)

// Condition reasons and messages, verbatim from the upstream Job controller.
const (
	ReasonBackoffLimitExceeded     = "BackoffLimitExceeded"
	ReasonDeadlineExceeded         = "DeadlineExceeded"
	ReasonPodFailurePolicy         = "PodFailurePolicy"
	ReasonMaxFailedIndexesExceeded = "MaxFailedIndexesExceeded"
	ReasonFailedIndexes            = "FailedIndexes"
	ReasonSuccessPolicy            = "SuccessPolicy"
	ReasonCompletionsReached       = "CompletionsReached"
	ReasonJobSuspended             = "JobSuspended"
	ReasonJobResumed               = "JobResumed"

	MessageBackoffLimitExceeded     = "Job has reached the specified backoff limit"
	MessageDeadlineExceeded         = "Job was active longer than specified deadline"
	MessageMaxFailedIndexesExceeded = "Job has exceeded the specified maximal number of failed indexes"
	MessageFailedIndexes            = "Job has failed indexes"
	MessageCompletionsReached       = "Reached expected number of succeeded pods"
	MessageJobSuspended             = "Job suspended"
	MessageJobResumed               = "Job resumed"

	// ReasonInvalidSelector is the Warning event of a BatchJob whose selector would not
	// select the pods it creates (this controller's own; upstream's API server rejects
	// such a Job).
	ReasonInvalidSelector = "InvalidSelector"
)
