// Package podbuilder builds the pods a BatchJob creates from its template (upstream Controller.manageJob and its pod template handling; see internal/plan/doc.go).
package podbuilder

import (
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// maxGeneratedNameLength is the length the API server keeps of a generateName before
// appending its 5 random characters.
const maxGeneratedNameLength = 63 - 5

// NoIndex builds a NonIndexed pod.
const NoIndex = -1

// FailureCounts are the per-index annotations of a pod replacing a failed one.
type FailureCounts struct {
	Counted, Ignored int32
}

// Build returns a pod for job, for completion index ix (NoIndex for NonIndexed). counts
// is set when the job uses backoffLimitPerIndex.
func Build(job *v1alpha1.BatchJob, ix int, counts *FailureCounts) *corev1.Pod {
	tmpl := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       job.Namespace,
			GenerateName:    generateName(job.Name, ix),
			Labels:          tmpl.Labels,
			Annotations:     tmpl.Annotations,
			Finalizers:      tmpl.Finalizers,
			OwnerReferences: []metav1.OwnerReference{OwnerRef(job)},
		},
		Spec: tmpl.Spec,
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	// Pods carry the template's labels as they are, as upstream's pods do: with
	// manualSelector the template may pin another job's UID (adopting a predecessor's
	// orphans) and the selector selects by it. The job's own labels fill in only what the
	// template lacks: the pod cache is filtered on the controller-uid label's presence,
	// and `kubectl get pods -l job-name=NAME` finds them.
	for k, v := range map[string]string{
		v1alpha1.JobNameLabel:             job.Name,
		v1alpha1.LegacyJobNameLabel:       job.Name,
		v1alpha1.ControllerUIDLabel:       string(job.UID),
		v1alpha1.LegacyControllerUIDLabel: string(job.UID),
	} {
		if _, ok := pod.Labels[k]; !ok {
			pod.Labels[k] = v
		}
	}
	if !slices.Contains(pod.Finalizers, v1alpha1.JobTrackingFinalizer) {
		pod.Finalizers = append(pod.Finalizers, v1alpha1.JobTrackingFinalizer)
	}
	if ix != NoIndex {
		setIndex(pod, job.Name, ix)
	}
	if counts != nil {
		setAnnotation(pod, v1alpha1.JobIndexFailureCountAnnotation, strconv.Itoa(int(counts.Counted)))
		if counts.Ignored > 0 {
			setAnnotation(pod, v1alpha1.JobIndexIgnoredFailureCountAnnotation, strconv.Itoa(int(counts.Ignored)))
		}
	}
	return pod
}

func setIndex(pod *corev1.Pod, jobName string, ix int) {
	s := strconv.Itoa(ix)
	setAnnotation(pod, v1alpha1.JobCompletionIndexAnnotation, s)
	pod.Labels[v1alpha1.JobCompletionIndexAnnotation] = s
	pod.Spec.Hostname = jobName + "-" + s
	for i := range pod.Spec.InitContainers {
		addIndexEnv(&pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		addIndexEnv(&pod.Spec.Containers[i])
	}
}

// addIndexEnv exposes the index through the downward API unless the user defined the
// variable already.
func addIndexEnv(c *corev1.Container) {
	for _, e := range c.Env {
		if e.Name == v1alpha1.JobCompletionIndexEnv {
			return
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{
		Name: v1alpha1.JobCompletionIndexEnv,
		ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			FieldPath: fmt.Sprintf("metadata.labels['%s']", v1alpha1.JobCompletionIndexAnnotation),
		}},
	})
}

func setAnnotation(pod *corev1.Pod, k, v string) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[k] = v
}

// generateName is "<job>-" (or "<job>" when that is not a valid prefix) for NonIndexed
// pods and "<job>-<ix>-" for Indexed ones, with the job name cut so the prefix fits the
// 58 characters the API server keeps, still ending in "-<ix>-".
func generateName(jobName string, ix int) string {
	if ix == NoIndex {
		prefix := jobName + "-"
		if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
			return jobName
		}
		return prefix
	}
	suffix := "-" + strconv.Itoa(ix) + "-"
	prefix := jobName + suffix
	if len(prefix) > maxGeneratedNameLength {
		prefix = prefix[:maxGeneratedNameLength-len(suffix)] + suffix
	}
	return prefix
}

// OwnerRef is the controller reference a BatchJob puts on the pods it creates or adopts.
func OwnerRef(job *v1alpha1.BatchJob) metav1.OwnerReference {
	return *metav1.NewControllerRef(job, v1alpha1.GroupVersion.WithKind("BatchJob"))
}
