package cronjob

import (
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// newJob is upstream's getJobFromTemplate2: the template's labels and annotations, the
// scheduled time as an annotation (RFC3339 in the schedule's zone), a name derived from
// the scheduled time, and the BatchCronJob as controller.
func newJob(cj *v1alpha1.BatchCronJob, scheduled time.Time, loc *time.Location) *v1alpha1.BatchJob {
	annotations := maps.Clone(cj.Spec.JobTemplate.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[v1alpha1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	job := &v1alpha1.BatchJob{
		ObjectMeta: metav1.ObjectMeta{
			Name:            jobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          maps.Clone(cj.Spec.JobTemplate.Labels),
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, v1alpha1.GroupVersion.WithKind("BatchCronJob"))},
		},
	}
	cj.Spec.JobTemplate.Spec.DeepCopyInto(&job.Spec)
	return job
}

// finishedCondition is upstream's jobutil.FinishedCondition: whether the job has a true
// Complete or Failed condition, and which.
func finishedCondition(j *v1alpha1.BatchJob) (bool, v1alpha1.JobConditionType) {
	for _, c := range j.Status.Conditions {
		if (c.Type == v1alpha1.JobComplete || c.Type == v1alpha1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true, c.Type
		}
	}
	return false, ""
}

// Reference is how status.active lists a BatchJob (upstream's getRef).
func Reference(j *v1alpha1.BatchJob) corev1.ObjectReference {
	return corev1.ObjectReference{
		APIVersion:      v1alpha1.GroupVersion.String(),
		Kind:            "BatchJob",
		Namespace:       j.Namespace,
		Name:            j.Name,
		UID:             j.UID,
		ResourceVersion: j.ResourceVersion,
	}
}
