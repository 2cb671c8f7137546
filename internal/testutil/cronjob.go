package testutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// CronJobWrapper builds a BatchCronJob.
type CronJobWrapper struct{ v1alpha1.BatchCronJob }

// MakeBatchCronJob returns what a user would submit: the schedule and a job template of
// one container "main" (image busybox) with restartPolicy Never; no defaults, UID or
// template metadata.
func MakeBatchCronJob(name, ns, schedule string) *CronJobWrapper {
	return &CronJobWrapper{v1alpha1.BatchCronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.BatchCronJobSpec{
			Schedule: schedule,
			JobTemplate: v1alpha1.BatchJobTemplateSpec{Spec: v1alpha1.BatchJobSpec{
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
				}},
			}},
		},
	}}
}

// Obj returns a deep copy of the built BatchCronJob.
func (w *CronJobWrapper) Obj() *v1alpha1.BatchCronJob { return w.BatchCronJob.DeepCopy() }

func (w *CronJobWrapper) WithUID(uid types.UID) *CronJobWrapper { w.ObjectMeta.UID = uid; return w }

func (w *CronJobWrapper) WithGeneration(n int64) *CronJobWrapper {
	w.ObjectMeta.Generation = n
	return w
}

// Created sets metadata.creationTimestamp.
func (w *CronJobWrapper) Created(t time.Time) *CronJobWrapper {
	w.CreationTimestamp = metav1.NewTime(t)
	return w
}

func (w *CronJobWrapper) TimeZone(z string) *CronJobWrapper { w.Spec.TimeZone = ptr.To(z); return w }

func (w *CronJobWrapper) ConcurrencyPolicy(p v1alpha1.ConcurrencyPolicy) *CronJobWrapper {
	w.Spec.ConcurrencyPolicy = p
	return w
}

func (w *CronJobWrapper) Suspend(s bool) *CronJobWrapper { w.Spec.Suspend = ptr.To(s); return w }

// HistoryLimits sets successfulJobsHistoryLimit and failedJobsHistoryLimit.
func (w *CronJobWrapper) HistoryLimits(succeeded, failed int32) *CronJobWrapper {
	w.Spec.SuccessfulJobsHistoryLimit, w.Spec.FailedJobsHistoryLimit = ptr.To(succeeded), ptr.To(failed)
	return w
}

// JobTemplateLabel sets a label of the job template (copied onto every job created).
func (w *CronJobWrapper) JobTemplateLabel(k, v string) *CronJobWrapper {
	if w.Spec.JobTemplate.Labels == nil {
		w.Spec.JobTemplate.Labels = map[string]string{}
	}
	w.Spec.JobTemplate.Labels[k] = v
	return w
}

// JobTemplateAnnotation sets an annotation of the job template.
func (w *CronJobWrapper) JobTemplateAnnotation(k, v string) *CronJobWrapper {
	if w.Spec.JobTemplate.Annotations == nil {
		w.Spec.JobTemplate.Annotations = map[string]string{}
	}
	w.Spec.JobTemplate.Annotations[k] = v
	return w
}
