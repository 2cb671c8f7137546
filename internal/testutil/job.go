// Package testutil holds object builders for tests: MakeBatchJob(...).Completions(5).Obj(),
// MakePod(...).Phase(...).Index(2).Obj(). Builders only set what a test asks for.
package testutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// JobWrapper builds a BatchJob.
type JobWrapper struct{ v1alpha1.BatchJob }

// MakeBareBatchJob returns what a user would submit: one container "main", restartPolicy
// Never, and no TypeMeta, UID or template labels, so API tests see exactly what the server adds.
func MakeBareBatchJob(name, ns string) *JobWrapper {
	return &JobWrapper{v1alpha1.BatchJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.BatchJobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
			}},
		},
	}}
}

// MakeEmptyBatchJob returns a job with only a name and namespace (either may be ""): no
// template, TypeMeta or UID. It is for helpers that fill in their own defaults (the
// integration framework's CreateJobWithDefaults), for patch targets, and for code that
// reads no more than the metadata.
func MakeEmptyBatchJob(name, ns string) *JobWrapper {
	return &JobWrapper{v1alpha1.BatchJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}}
}

// MakeBatchJob is MakeBareBatchJob with TypeMeta, UID "<name>-uid" and the template label
// app=<name>, as a job read back from the API server would have.
func MakeBatchJob(name, ns string) *JobWrapper {
	w := MakeBareBatchJob(name, ns)
	w.TypeMeta = metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BatchJob"}
	w.UID = types.UID(name + "-uid")
	w.Spec.Template.Labels = map[string]string{"app": name}
	return w
}

// Obj returns a deep copy of the built job.
func (w *JobWrapper) Obj() *v1alpha1.BatchJob { return w.BatchJob.DeepCopy() }

func (w *JobWrapper) Completions(n int32) *JobWrapper  { w.Spec.Completions = ptr.To(n); return w }
func (w *JobWrapper) Parallelism(n int32) *JobWrapper  { w.Spec.Parallelism = ptr.To(n); return w }
func (w *JobWrapper) BackoffLimit(n int32) *JobWrapper { w.Spec.BackoffLimit = ptr.To(n); return w }
func (w *JobWrapper) Suspend(s bool) *JobWrapper       { w.Spec.Suspend = ptr.To(s); return w }
func (w *JobWrapper) ManagedBy(s string) *JobWrapper   { w.Spec.ManagedBy = ptr.To(s); return w }

// NoCompletions makes a work-queue job (completions nil) with the given parallelism.
func (w *JobWrapper) NoCompletions(parallelism int32) *JobWrapper {
	w.Spec.Completions = nil
	w.Spec.Parallelism = ptr.To(parallelism)
	return w
}

func (w *JobWrapper) Indexed() *JobWrapper {
	w.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
	return w
}

func (w *JobWrapper) BackoffLimitPerIndex(n int32) *JobWrapper {
	w.Spec.BackoffLimitPerIndex = ptr.To(n)
	return w
}

func (w *JobWrapper) MaxFailedIndexes(n int32) *JobWrapper {
	w.Spec.MaxFailedIndexes = ptr.To(n)
	return w
}

func (w *JobWrapper) ActiveDeadlineSeconds(s int64) *JobWrapper {
	w.Spec.ActiveDeadlineSeconds = ptr.To(s)
	return w
}

func (w *JobWrapper) TTLSecondsAfterFinished(s int32) *JobWrapper {
	w.Spec.TTLSecondsAfterFinished = ptr.To(s)
	return w
}

func (w *JobWrapper) PodReplacementPolicy(p v1alpha1.PodReplacementPolicy) *JobWrapper {
	w.Spec.PodReplacementPolicy = ptr.To(p)
	return w
}

func (w *JobWrapper) PodFailurePolicy(rules ...v1alpha1.PodFailurePolicyRule) *JobWrapper {
	w.Spec.PodFailurePolicy = &v1alpha1.PodFailurePolicy{Rules: rules}
	return w
}

func (w *JobWrapper) SuccessPolicy(rules ...v1alpha1.SuccessPolicyRule) *JobWrapper {
	w.Spec.SuccessPolicy = &v1alpha1.SuccessPolicy{Rules: rules}
	return w
}

func (w *JobWrapper) RestartPolicy(p corev1.RestartPolicy) *JobWrapper {
	w.Spec.Template.Spec.RestartPolicy = p
	return w
}

func (w *JobWrapper) TemplateLabel(k, v string) *JobWrapper {
	if w.Spec.Template.Labels == nil {
		w.Spec.Template.Labels = map[string]string{}
	}
	w.Spec.Template.Labels[k] = v
	return w
}

func (w *JobWrapper) Label(k, v string) *JobWrapper {
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Labels[k] = v
	return w
}

// Selector sets the selector on matchLabels, as the generated one is set (manualSelector unset).
func (w *JobWrapper) Selector(matchLabels map[string]string) *JobWrapper {
	w.Spec.Selector = &metav1.LabelSelector{MatchLabels: matchLabels}
	return w
}

// ManualSelector sets manualSelector=true and a selector on matchLabels.
func (w *JobWrapper) ManualSelector(matchLabels map[string]string) *JobWrapper {
	w.Spec.ManualSelector = ptr.To(true)
	w.Spec.Selector = &metav1.LabelSelector{MatchLabels: matchLabels}
	return w
}

func (w *JobWrapper) InitContainer(name string) *JobWrapper {
	w.Spec.Template.Spec.InitContainers = append(w.Spec.Template.Spec.InitContainers, corev1.Container{Name: name, Image: "busybox"})
	return w
}

// WithSpec lets a test change any spec field the builder has no method for.
func (w *JobWrapper) WithSpec(f func(*v1alpha1.BatchJobSpec)) *JobWrapper {
	f(&w.Spec)
	return w
}

func (w *JobWrapper) DeletionTimestamp(t time.Time) *JobWrapper {
	w.ObjectMeta.DeletionTimestamp = &metav1.Time{Time: t}
	return w
}

// Status replaces the whole status.
func (w *JobWrapper) Status(s v1alpha1.BatchJobStatus) *JobWrapper { w.BatchJob.Status = s; return w }

func (w *JobWrapper) StartTime(t time.Time) *JobWrapper {
	w.BatchJob.Status.StartTime = &metav1.Time{Time: t}
	return w
}

func (w *JobWrapper) Succeeded(n int32) *JobWrapper { w.BatchJob.Status.Succeeded = n; return w }
func (w *JobWrapper) Failed(n int32) *JobWrapper    { w.BatchJob.Status.Failed = n; return w }
func (w *JobWrapper) Active(n int32) *JobWrapper    { w.BatchJob.Status.Active = n; return w }

func (w *JobWrapper) CompletedIndexes(s string) *JobWrapper {
	w.BatchJob.Status.CompletedIndexes = s
	return w
}

func (w *JobWrapper) FailedIndexes(s string) *JobWrapper {
	w.BatchJob.Status.FailedIndexes = ptr.To(s)
	return w
}

func (w *JobWrapper) Uncounted(succeeded, failed []types.UID) *JobWrapper {
	w.BatchJob.Status.UncountedTerminatedPods = &v1alpha1.UncountedTerminatedPods{Succeeded: succeeded, Failed: failed}
	return w
}

// Condition appends a condition whose probe and transition times are t.
func (w *JobWrapper) Condition(t v1alpha1.JobConditionType, s corev1.ConditionStatus, reason, msg string, at time.Time) *JobWrapper {
	w.BatchJob.Status.Conditions = append(w.BatchJob.Status.Conditions, Cond(t, s, reason, msg, at))
	return w
}

// Cond builds a job condition with probe and transition times at.
func Cond(t v1alpha1.JobConditionType, s corev1.ConditionStatus, reason, msg string, at time.Time) v1alpha1.JobCondition {
	return v1alpha1.JobCondition{
		Type: t, Status: s, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(at), LastTransitionTime: metav1.NewTime(at),
	}
}

// RetryPolicy sets spec.retryPolicy; f fills it in.
func (w *JobWrapper) RetryPolicy(f func(*v1alpha1.RetryPolicy)) *JobWrapper {
	if w.Spec.RetryPolicy == nil {
		w.Spec.RetryPolicy = &v1alpha1.RetryPolicy{}
	}
	f(w.Spec.RetryPolicy)
	return w
}

// RetryDelays sets spec.retryPolicy.initialDelaySeconds and maxDelaySeconds; negative
// leaves one unset.
func (w *JobWrapper) RetryDelays(initial, maxDelay int32) *JobWrapper {
	return w.RetryPolicy(func(rp *v1alpha1.RetryPolicy) {
		if initial >= 0 {
			rp.InitialDelaySeconds = ptr.To(initial)
		}
		if maxDelay >= 0 {
			rp.MaxDelaySeconds = ptr.To(maxDelay)
		}
	})
}

func (w *JobWrapper) TTLSecondsAfterFailure(s int32) *JobWrapper {
	w.Spec.TTLSecondsAfterFailure = ptr.To(s)
	return w
}

func (w *JobWrapper) CompletionIndexes(s string) *JobWrapper {
	w.Spec.CompletionIndexes = ptr.To(s)
	return w
}

// MemoryIncreaseOnOOM sets spec.retryPolicy.memoryIncreaseOnOOM.
func (w *JobWrapper) MemoryIncreaseOnOOM(factor, maxMemory string) *JobWrapper {
	return w.RetryPolicy(func(rp *v1alpha1.RetryPolicy) {
		rp.MemoryIncreaseOnOOM = &v1alpha1.MemoryIncrease{Factor: factor, Max: resource.MustParse(maxMemory)}
	})
}

// Memory sets the template container "main"'s memory request and limit to q.
func (w *JobWrapper) Memory(q string) *JobWrapper {
	w.Spec.Template.Spec.Containers[0].Resources = memoryResources(q)
	return w
}

func memoryResources(q string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)},
	}
}

// PodStartupPolicy sets spec.podStartupPolicy; timeout 0 leaves timeoutSeconds unset.
func (w *JobWrapper) PodStartupPolicy(timeout int32, reasons ...v1alpha1.WaitingReason) *JobWrapper {
	sp := &v1alpha1.PodStartupPolicy{FailOnWaitingReasons: reasons}
	if timeout > 0 {
		sp.TimeoutSeconds = ptr.To(timeout)
	}
	w.Spec.PodStartupPolicy = sp
	return w
}

// FullSpec replaces the whole spec, pod template included, with a copy of s (for table
// tests that hold a BatchJobSpec).
func (w *JobWrapper) FullSpec(s *v1alpha1.BatchJobSpec) *JobWrapper {
	w.Spec = *s.DeepCopy()
	return w
}

// Template replaces the pod template with a copy of t.
func (w *JobWrapper) Template(t *corev1.PodTemplateSpec) *JobWrapper {
	w.Spec.Template = *t.DeepCopy()
	return w
}

// WithUID sets metadata.uid (MakeBatchJob sets "<name>-uid").
func (w *JobWrapper) WithUID(uid types.UID) *JobWrapper { w.ObjectMeta.UID = uid; return w }

func (w *JobWrapper) WithGeneration(n int64) *JobWrapper { w.ObjectMeta.Generation = n; return w }

func (w *JobWrapper) WithResourceVersion(rv string) *JobWrapper {
	w.ObjectMeta.ResourceVersion = rv
	return w
}

func (w *JobWrapper) Annotation(k, v string) *JobWrapper {
	if w.Annotations == nil {
		w.Annotations = map[string]string{}
	}
	w.Annotations[k] = v
	return w
}

// Finalizer appends a metadata finalizer.
func (w *JobWrapper) Finalizer(f string) *JobWrapper {
	w.Finalizers = append(w.Finalizers, f)
	return w
}

// Owners appends ownerReferences.
func (w *JobWrapper) Owners(refs ...metav1.OwnerReference) *JobWrapper {
	w.OwnerReferences = append(w.OwnerReferences, refs...)
	return w
}
