// Package v1alpha1 holds the BatchJob API: a namespaced custom resource whose spec and
// status mirror batch/v1 Job field for field (see shared design API.md).
//
// +kubebuilder:object:generate=true
// +groupName=batchjob.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of BatchJob.
	GroupVersion = schema.GroupVersion{Group: "batchjob.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the BatchJob types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(&BatchJob{}, &BatchJobList{})
}
