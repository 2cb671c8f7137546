package v1alpha1

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// SetDefaults applies batch/v1's defaults (SetDefaults_Job) to job in place. The API server
// applies the same ones (CRD schema defaults plus the MutatingAdmissionPolicy in
// config/admission); the controller applies them to its working copy so that it behaves
// the same on clusters where the admission policy is not installed.
func SetDefaults(job *BatchJob) {
	spec := &job.Spec
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = ptr.To[int32](1)
		spec.Parallelism = ptr.To[int32](1)
	}
	if spec.Parallelism == nil {
		spec.Parallelism = ptr.To[int32](1)
	}
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = ptr.To[int32](math.MaxInt32)
		} else {
			spec.BackoffLimit = ptr.To[int32](6)
		}
	}
	if spec.CompletionMode == nil {
		spec.CompletionMode = ptr.To(NonIndexedCompletion)
	}
	if spec.Suspend == nil {
		spec.Suspend = ptr.To(false)
	}
	if spec.PodReplacementPolicy == nil {
		if spec.PodFailurePolicy != nil {
			spec.PodReplacementPolicy = ptr.To(Failed)
		} else {
			spec.PodReplacementPolicy = ptr.To(TerminatingOrFailed)
		}
	}
	if spec.ManualSelector == nil {
		spec.ManualSelector = ptr.To(false)
	}
	if spec.PodFailurePolicy != nil {
		for i := range spec.PodFailurePolicy.Rules {
			rule := &spec.PodFailurePolicy.Rules[i]
			for j := range rule.OnPodConditions {
				if rule.OnPodConditions[j].Status == "" {
					rule.OnPodConditions[j].Status = corev1.ConditionTrue
				}
			}
		}
	}
}

// IsManagedByThisController reports whether spec.managedBy is unset or names this controller.
func (job *BatchJob) IsManagedByThisController() bool {
	return job.Spec.ManagedBy == nil || *job.Spec.ManagedBy == ControllerName
}
