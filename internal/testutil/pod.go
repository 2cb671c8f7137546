package testutil

import (
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// PodWrapper builds a Pod.
type PodWrapper struct{ corev1.Pod }

// MakePod returns a Pending pod with UID = name, one container "main" and the tracking finalizer.
func MakePod(name, ns string) *PodWrapper {
	return &PodWrapper{corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: types.UID(name),
			Finalizers: []string{v1alpha1.JobTrackingFinalizer},
		},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "main"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}}
}

// MakeBarePod returns a pod as a client would create it on an API server: one container
// "main" (image busybox), restartPolicy Never, and no UID, finalizer or status, which the
// server assigns or rejects on create.
func MakeBarePod(name, ns string) *PodWrapper {
	w := MakeEmptyPod(name, ns)
	w.Spec = corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
	}
	return w
}

// MakeEmptyPod returns a pod with only a name and namespace (either may be ""): no spec,
// status, UID or finalizer, for code under test that reads no more than it is given.
func MakeEmptyPod(name, ns string) *PodWrapper {
	return &PodWrapper{corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}}
}

// Obj returns a deep copy of the built pod.
func (w *PodWrapper) Obj() *corev1.Pod { return w.Pod.DeepCopy() }

func (w *PodWrapper) Phase(p corev1.PodPhase) *PodWrapper { w.Status.Phase = p; return w }

// NoFinalizer removes the tracking finalizer.
func (w *PodWrapper) NoFinalizer() *PodWrapper { w.Finalizers = nil; return w }

func (w *PodWrapper) Index(i int) *PodWrapper {
	return w.Annotation(v1alpha1.JobCompletionIndexAnnotation, strconv.Itoa(i))
}

func (w *PodWrapper) Annotation(k, v string) *PodWrapper {
	if w.Annotations == nil {
		w.Annotations = map[string]string{}
	}
	w.Annotations[k] = v
	return w
}

// FailureCount sets the job-index-failure-count annotation (and the ignored count if > 0).
func (w *PodWrapper) FailureCount(counted, ignored int) *PodWrapper {
	w.Annotation(v1alpha1.JobIndexFailureCountAnnotation, strconv.Itoa(counted))
	if ignored > 0 {
		w.Annotation(v1alpha1.JobIndexIgnoredFailureCountAnnotation, strconv.Itoa(ignored))
	}
	return w
}

func (w *PodWrapper) NodeName(n string) *PodWrapper { w.Spec.NodeName = n; return w }

func (w *PodWrapper) Created(t time.Time) *PodWrapper {
	w.CreationTimestamp = metav1.NewTime(t)
	return w
}

// Deleted sets a deletionTimestamp with a zero grace period.
func (w *PodWrapper) Deleted(t time.Time) *PodWrapper {
	w.DeletionTimestamp = &metav1.Time{Time: t}
	w.DeletionGracePeriodSeconds = ptr.To[int64](0)
	return w
}

// Ready adds Ready=True since t.
func (w *PodWrapper) Ready(t time.Time) *PodWrapper {
	return w.PodCondition(corev1.PodReady, corev1.ConditionTrue, t)
}

// NotReadySince adds Ready=False since t (the fallback finish time of a pod).
func (w *PodWrapper) NotReadySince(t time.Time) *PodWrapper {
	return w.PodCondition(corev1.PodReady, corev1.ConditionFalse, t)
}

func (w *PodWrapper) PodCondition(t corev1.PodConditionType, s corev1.ConditionStatus, at time.Time) *PodWrapper {
	w.Status.Conditions = append(w.Status.Conditions, corev1.PodCondition{Type: t, Status: s, LastTransitionTime: metav1.NewTime(at)})
	return w
}

// Exited records that container name terminated with code at finishedAt.
func (w *PodWrapper) Exited(name string, code int32, finishedAt time.Time) *PodWrapper {
	w.Status.ContainerStatuses = append(w.Status.ContainerStatuses, terminated(name, code, finishedAt, ""))
	return w
}

// ExitedWithMessage is Exited with a termination message.
func (w *PodWrapper) ExitedWithMessage(name string, code int32, finishedAt time.Time, msg string) *PodWrapper {
	w.Status.ContainerStatuses = append(w.Status.ContainerStatuses, terminated(name, code, finishedAt, msg))
	return w
}

// InitExited records that init container name terminated with code at finishedAt.
func (w *PodWrapper) InitExited(name string, code int32, finishedAt time.Time) *PodWrapper {
	w.Status.InitContainerStatuses = append(w.Status.InitContainerStatuses, terminated(name, code, finishedAt, ""))
	return w
}

// Restarts records a running container with the given restart count.
func (w *PodWrapper) Restarts(name string, n int32) *PodWrapper {
	w.Status.ContainerStatuses = append(w.Status.ContainerStatuses, corev1.ContainerStatus{
		Name: name, RestartCount: n, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
	})
	return w
}

func terminated(name string, code int32, at time.Time, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, FinishedAt: metav1.NewTime(at), Message: msg,
	}}}
}

// Terminated records that container name terminated with code, reason and message at
// finishedAt (OOMKilled, Error, ...).
func (w *PodWrapper) Terminated(name string, code int32, reason, msg string, finishedAt time.Time) *PodWrapper {
	cs := terminated(name, code, finishedAt, msg)
	cs.State.Terminated.Reason = reason
	w.Status.ContainerStatuses = append(w.Status.ContainerStatuses, cs)
	return w
}

// Waiting records that container name waits to start with reason and message
// (ImagePullBackOff, CreateContainerConfigError, ...).
func (w *PodWrapper) Waiting(name, reason, msg string) *PodWrapper {
	w.Status.ContainerStatuses = append(w.Status.ContainerStatuses, corev1.ContainerStatus{
		Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}},
	})
	return w
}

// WithReason sets the pod's status reason and message (Evicted, DeadlineExceeded, ...).
func (w *PodWrapper) WithReason(reason, msg string) *PodWrapper {
	w.Status.Reason, w.Status.Message = reason, msg
	return w
}

// Memory sets container "main"'s memory request and limit to q.
func (w *PodWrapper) Memory(q string) *PodWrapper {
	w.Spec.Containers[0].Resources = memoryResources(q)
	return w
}

// StartupFailed adds the BatchJobPodStartupFailed=True condition with reason and message.
func (w *PodWrapper) StartupFailed(reason, msg string, at time.Time) *PodWrapper {
	w.Status.Conditions = append(w.Status.Conditions, corev1.PodCondition{Type: v1alpha1.PodStartupFailedCondition,
		Status: corev1.ConditionTrue, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(at)})
	return w
}

// Label sets a pod label.
func (w *PodWrapper) Label(k, v string) *PodWrapper {
	if w.Labels == nil {
		w.Labels = map[string]string{}
	}
	w.Labels[k] = v
	return w
}

// ControlledBy adds a controller ownerReference to a BatchJob with uid.
func (w *PodWrapper) ControlledBy(name string, uid types.UID) *PodWrapper {
	w.OwnerReferences = append(w.OwnerReferences, metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "BatchJob", Name: name, UID: uid,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
	})
	return w
}

// WithLabels sets every label of m.
func (w *PodWrapper) WithLabels(m map[string]string) *PodWrapper {
	for k, v := range m {
		w.Label(k, v)
	}
	return w
}

// Finalizer appends a metadata finalizer.
func (w *PodWrapper) Finalizer(f string) *PodWrapper {
	w.Finalizers = append(w.Finalizers, f)
	return w
}

// Owners appends ownerReferences (ControlledBy adds the usual BatchJob one).
func (w *PodWrapper) Owners(refs ...metav1.OwnerReference) *PodWrapper {
	w.OwnerReferences = append(w.OwnerReferences, refs...)
	return w
}

// PodSpec replaces the whole pod spec with a copy of s.
func (w *PodWrapper) PodSpec(s *corev1.PodSpec) *PodWrapper {
	w.Spec = *s.DeepCopy()
	return w
}

// WithUID sets metadata.uid (MakePod sets the name).
func (w *PodWrapper) WithUID(uid types.UID) *PodWrapper { w.ObjectMeta.UID = uid; return w }

// WithGenerateName sets metadata.generateName, for a pod the API server names.
func (w *PodWrapper) WithGenerateName(prefix string) *PodWrapper {
	w.ObjectMeta.GenerateName = prefix
	return w
}

func (w *PodWrapper) WithResourceVersion(rv string) *PodWrapper {
	w.ObjectMeta.ResourceVersion = rv
	return w
}
