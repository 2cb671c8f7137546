// Package kueue makes BatchJob a Kueue workload: a BatchJob labelled with a queue name gets a
// Kueue Workload and runs only while Kueue admits it. It speaks Kueue's Workload protocol on
// Kueue's own API types (sigs.k8s.io/kueue/apis/kueue/v1beta2), following what Kueue's
// jobframework does for batch/v1 Jobs (Kueue v0.17); jobframework itself is not used, it does
// not build against our Kubernetes modules.
//
// The decisions are pure (Decide, in decide.go); the Reconciler (reconciler.go) reads the
// objects, calls Decide and writes what it returns.
package kueue

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	kueueapi "sigs.k8s.io/kueue/apis/kueue/v1beta2"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// The labels and annotations Kueue defines for jobs (Kueue's pkg/controller/constants and
// pkg/controller/jobs/job), with the same meaning for a BatchJob.
const (
	// QueueNameLabel names the LocalQueue a job is submitted to; only labelled jobs are
	// managed.
	QueueNameLabel = "kueue.x-k8s.io/queue-name"
	// PriorityClassLabel names the WorkloadPriorityClass of the job's Workload.
	PriorityClassLabel = "kueue.x-k8s.io/priority-class"
	// MinParallelismAnnotation allows partial admission: Kueue may admit the job with as few
	// as this many pods in parallel; the job then runs with the admitted parallelism.
	MinParallelismAnnotation = "kueue.x-k8s.io/job-min-parallelism"
	// CompletionsEqualParallelismAnnotation ("true") makes a partially admitted job's
	// completions follow its admitted parallelism (an elastic Indexed job).
	CompletionsEqualParallelismAnnotation = "kueue.x-k8s.io/job-completions-equal-parallelism"
	// StoppingAnnotation marks a job this integration suspended whose pod template is not
	// restored yet: the template may change only once the BatchJob controller has stopped
	// the pods (status Suspended, no active pods).
	StoppingAnnotation = "kueue.x-k8s.io/stopping"
	// PodSetLabel is set on the pods of an admitted job to the name of their pod set.
	PodSetLabel = "kueue.x-k8s.io/podset"
	// PrebuiltWorkloadLabel names a Workload made for the job by someone else (MultiKueue
	// makes one on the worker cluster before it copies the job there): the job uses that
	// Workload instead of creating its own.
	PrebuiltWorkloadLabel = "kueue.x-k8s.io/prebuilt-workload-name"
	// JobUIDLabel carries the owning job's UID on the Workload.
	JobUIDLabel = "kueue.x-k8s.io/job-uid"
	// FieldManager is the field manager of every write of this integration.
	FieldManager = "batchjob-kueue"
)

// GVK is the BatchJob's group, version and kind, as Kueue's externalFrameworks names it
// ("BatchJob.v1alpha1.batchjob.dev").
var GVK = v1alpha1.GroupVersion.WithKind("BatchJob")

// ExternalFramework is the entry for Kueue's integrations.externalFrameworks.
var ExternalFramework = fmt.Sprintf("%s.%s.%s", GVK.Kind, GVK.Version, GVK.Group)

// managedLabels are the template labels the BatchJob controller writes with the generated
// selector; they are left out of the Workload's pod set and kept when a template is restored,
// as Kueue does with batch/v1's job-name and controller-uid labels.
var managedLabels = []string{
	v1alpha1.JobNameLabel, v1alpha1.LegacyJobNameLabel,
	v1alpha1.ControllerUIDLabel, v1alpha1.LegacyControllerUIDLabel,
}

// WorkloadName is the name of the job's Workload: "batchjob-<name>-<hash>", the hash over
// the kind, name and UID, so that a re-created job of the same name gets a new Workload.
// Kueue's own scheme (GetWorkloadNameForOwnerWithGVK) has the same shape.
func WorkloadName(job *v1alpha1.BatchJob) string {
	sum := sha256.Sum256([]byte(GVK.String() + "/" + job.Name + "/" + string(job.UID)))
	hash := hex.EncodeToString(sum[:])[:5]
	prefix := "batchjob-" + job.Name
	const maxLen = 253 - 6 // a DNS subdomain, less "-" and the hash
	if len(prefix) > maxLen {
		prefix = prefix[:maxLen]
	}
	return prefix + "-" + hash
}

// QueueName is the job's queue-name label, "" when it has none.
func QueueName(job *v1alpha1.BatchJob) string { return job.Labels[QueueNameLabel] }

// podsCount is the pod set's count: parallelism, or completions when fewer (Kueue's Job).
func podsCount(job *v1alpha1.BatchJob) int32 {
	n := ptr.Deref(job.Spec.Parallelism, 1)
	if c := job.Spec.Completions; c != nil && *c < n {
		n = *c
	}
	return n
}

// minPodsCount is the partial-admission minimum from MinParallelismAnnotation, nil when the
// job does not allow partial admission.
func minPodsCount(job *v1alpha1.BatchJob) *int32 {
	s, ok := job.Annotations[MinParallelismAnnotation]
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 {
		return nil
	}
	return ptr.To(int32(n))
}

func completionsFollowParallelism(job *v1alpha1.BatchJob) bool {
	b, err := strconv.ParseBool(job.Annotations[CompletionsEqualParallelismAnnotation])
	return err == nil && b
}

// PodSets is the job's single pod set "main": the pod template without the managed labels,
// count as above, and the minimum count when the job allows partial admission.
func PodSets(job *v1alpha1.BatchJob) []kueueapi.PodSet {
	tpl := job.Spec.Template.DeepCopy()
	for _, k := range managedLabels {
		delete(tpl.Labels, k)
	}
	if len(tpl.Labels) == 0 {
		tpl.Labels = nil
	}
	return []kueueapi.PodSet{{
		Name:     kueueapi.DefaultPodSetName,
		Template: *tpl,
		Count:    podsCount(job),
		MinCount: minPodsCount(job),
	}}
}

// NewWorkload is the job's Workload as jobframework constructs it for a batch/v1 Job: owned
// (controller reference) by the job, with Kueue's resource-in-use finalizer, the queue name,
// the pod sets, and the priority the caller resolved (priorityRef nil: no class).
func NewWorkload(job *v1alpha1.BatchJob, priorityRef *kueueapi.PriorityClassRef, priority int32) *kueueapi.Workload {
	wl := &kueueapi.Workload{
		ObjectMeta: metav1.ObjectMeta{
			Name:            WorkloadName(job),
			Namespace:       job.Namespace,
			Labels:          map[string]string{JobUIDLabel: string(job.UID)},
			Finalizers:      []string{kueueapi.ResourceInUseFinalizerName},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, GVK)},
		},
		Spec: kueueapi.WorkloadSpec{
			QueueName:        kueueapi.LocalQueueName(QueueName(job)),
			PodSets:          PodSets(job),
			PriorityClassRef: priorityRef,
			Priority:         ptr.To(priority),
		},
	}
	if len(string(job.UID)) > 63 {
		delete(wl.Labels, JobUIDLabel) // not a valid label value
	}
	return wl
}

// equivalent reports whether the Workload's pod sets still describe the job, as Kueue's
// ComparePodSetSlices does: the counts, and the containers and init containers (resources);
// scheduling directives are what admission changes, so they are not compared.
func equivalent(job *v1alpha1.BatchJob, wl *kueueapi.Workload) bool {
	return podSetsMatch(job, wl, true)
}

// podSetsMatch compares the job's pod sets with the Workload's: their containers and init
// containers, and their counts when withCounts.
func podSetsMatch(job *v1alpha1.BatchJob, wl *kueueapi.Workload, withCounts bool) bool {
	want := PodSets(job)
	if len(want) != len(wl.Spec.PodSets) {
		return false
	}
	for i := range want {
		a, b := &want[i], &wl.Spec.PodSets[i]
		if withCounts && (a.Count != b.Count || ptr.Deref(a.MinCount, -1) != ptr.Deref(b.MinCount, -1)) {
			return false
		}
		if !equality.Semantic.DeepEqual(a.Template.Spec.Containers, b.Template.Spec.Containers) ||
			!equality.Semantic.DeepEqual(a.Template.Spec.InitContainers, b.Template.Spec.InitContainers) {
			return false
		}
	}
	return true
}

// prebuiltInSync is jobframework's in-sync check of a prebuilt Workload: it must describe
// the job. Once quota is reserved the admission may have changed the job's parallelism
// (partial admission), so only the containers are compared then.
func prebuiltInSync(job *v1alpha1.BatchJob, wl *kueueapi.Workload) bool {
	return podSetsMatch(job, wl, !isTrue(wl, kueueapi.WorkloadQuotaReserved))
}

// PrebuiltWorkload is the name of the Workload the job's PrebuiltWorkloadLabel names, ""
// when it has none.
func PrebuiltWorkload(job *v1alpha1.BatchJob) string { return job.Labels[PrebuiltWorkloadLabel] }

// PodSetInfo is what admission adds to (or a restore puts back into) the pod template:
// Kueue's podset.PodSetInfo.
type PodSetInfo struct {
	Count           int32
	Labels          map[string]string
	Annotations     map[string]string
	NodeSelector    map[string]string
	Tolerations     []corev1.Toleration
	SchedulingGates []corev1.PodSchedulingGate
}

// merge adds o to i; a key of labels, annotations or nodeSelector set to two different
// values is a conflict, which Kueue treats as a permanent failure to start.
func (i *PodSetInfo) merge(o PodSetInfo) error {
	for what, pair := range map[string][2]map[string]string{
		"annotations": {i.Annotations, o.Annotations}, "labels": {i.Labels, o.Labels},
		"nodeSelector": {i.NodeSelector, o.NodeSelector},
	} {
		for k, v := range pair[1] {
			if cur, ok := pair[0][k]; ok && cur != v {
				return fmt.Errorf("conflicting %s %q: %q and %q", what, k, cur, v)
			}
		}
	}
	i.Annotations = mergeMap(i.Annotations, o.Annotations)
	i.Labels = mergeMap(i.Labels, o.Labels)
	i.NodeSelector = mergeMap(i.NodeSelector, o.NodeSelector)
	for _, t := range o.Tolerations {
		if !slices.ContainsFunc(i.Tolerations, func(x corev1.Toleration) bool { return equality.Semantic.DeepEqual(x, t) }) {
			i.Tolerations = append(i.Tolerations, t)
		}
	}
	for _, g := range o.SchedulingGates {
		if !slices.Contains(i.SchedulingGates, g) {
			i.SchedulingGates = append(i.SchedulingGates, g)
		}
	}
	return nil
}

func mergeMap(dst, src map[string]string) map[string]string {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]string, len(src))
	}
	maps.Copy(dst, src)
	return dst
}

// Flavor is what a ResourceFlavor contributes to an admitted pod template.
type Flavor struct {
	NodeLabels  map[string]string
	Tolerations []corev1.Toleration
}

// AdmittedInfo is what the Workload's admission adds to the job's template (Kueue's
// getPodSetsInfoFromStatus): the node labels and tolerations of every assigned flavor
// (flavors, by name, as read by the caller), the pod-set label, the podSetUpdates of the
// admission checks, and the admitted count. ok is false when the admission names a flavor
// the caller could not read.
func AdmittedInfo(wl *kueueapi.Workload, flavors map[kueueapi.ResourceFlavorReference]Flavor) (PodSetInfo, error) {
	adm := wl.Status.Admission
	if adm == nil || len(adm.PodSetAssignments) != 1 || len(wl.Spec.PodSets) != 1 {
		return PodSetInfo{}, fmt.Errorf("the admission of Workload %s has no single pod set assignment", wl.Name)
	}
	as := adm.PodSetAssignments[0]
	info := PodSetInfo{
		Count:  ptr.Deref(as.Count, wl.Spec.PodSets[0].Count),
		Labels: map[string]string{PodSetLabel: string(as.Name)},
	}
	seen := map[kueueapi.ResourceFlavorReference]bool{}
	for _, name := range slices.Sorted(maps.Values(as.Flavors)) {
		if seen[name] {
			continue
		}
		seen[name] = true
		f, ok := flavors[name]
		if !ok {
			return PodSetInfo{}, fmt.Errorf("ResourceFlavor %s not found", name)
		}
		info.NodeSelector = mergeMap(info.NodeSelector, f.NodeLabels)
		info.Tolerations = append(info.Tolerations, f.Tolerations...)
	}
	for _, ac := range wl.Status.AdmissionChecks {
		for _, u := range ac.PodSetUpdates {
			if u.Name != as.Name {
				continue
			}
			if err := info.merge(PodSetInfo{Labels: u.Labels, Annotations: u.Annotations,
				NodeSelector: u.NodeSelector, Tolerations: u.Tolerations}); err != nil {
				return PodSetInfo{}, permanentError{fmt.Errorf("in admission check %q: %w", ac.Name, err)}
			}
		}
	}
	return info, nil
}

// restoreInfo is what a stopped job's template goes back to: the Workload's pod set as it
// was created from the job (Kueue's GetPodSetsInfoFromWorkload).
func restoreInfo(wl *kueueapi.Workload) (PodSetInfo, bool) {
	if wl == nil || len(wl.Spec.PodSets) != 1 {
		return PodSetInfo{}, false
	}
	ps := &wl.Spec.PodSets[0]
	return PodSetInfo{
		Count:           ps.Count,
		Labels:          maps.Clone(ps.Template.Labels),
		Annotations:     maps.Clone(ps.Template.Annotations),
		NodeSelector:    maps.Clone(ps.Template.Spec.NodeSelector),
		Tolerations:     slices.Clone(ps.Template.Spec.Tolerations),
		SchedulingGates: slices.Clone(ps.Template.Spec.SchedulingGates),
	}, true
}

// permanentError is a failure that retrying cannot fix (conflicting podSetUpdates).
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// ApplyAdmission changes job as Kueue's RunWithPodSetsInfo does for a batch/v1 Job: resumed,
// with info merged into the pod template, and with the admitted count as parallelism (and
// completions, when they follow it) if the job allows partial admission.
func ApplyAdmission(job *v1alpha1.BatchJob, info PodSetInfo) error {
	t := &job.Spec.Template
	cur := PodSetInfo{Labels: t.Labels, Annotations: t.Annotations, NodeSelector: t.Spec.NodeSelector,
		Tolerations: t.Spec.Tolerations, SchedulingGates: t.Spec.SchedulingGates}
	if err := cur.merge(info); err != nil {
		return permanentError{err}
	}
	t.Labels, t.Annotations, t.Spec.NodeSelector = cur.Labels, cur.Annotations, cur.NodeSelector
	t.Spec.Tolerations, t.Spec.SchedulingGates = cur.Tolerations, cur.SchedulingGates
	if minPodsCount(job) != nil {
		job.Spec.Parallelism = ptr.To(info.Count)
		if completionsFollowParallelism(job) {
			job.Spec.Completions = ptr.To(info.Count)
		}
	}
	job.Spec.Suspend = ptr.To(false)
	return nil
}

// RestoreTemplate puts info back into the job's pod template (Kueue's RestorePodSetsInfo),
// keeping the managed labels the template has, and the original parallelism of a partially
// admitted job. It reports whether anything changed.
func RestoreTemplate(job *v1alpha1.BatchJob, info PodSetInfo) bool {
	changed := false
	if minPodsCount(job) != nil && ptr.Deref(job.Spec.Parallelism, 1) != info.Count {
		job.Spec.Parallelism = ptr.To(info.Count)
		if completionsFollowParallelism(job) {
			job.Spec.Completions = ptr.To(info.Count)
		}
		changed = true
	}
	t := &job.Spec.Template
	labels := maps.Clone(info.Labels)
	for _, k := range managedLabels {
		if v, ok := t.Labels[k]; ok {
			labels = mergeMap(labels, map[string]string{k: v})
		}
	}
	if !maps.Equal(t.Labels, labels) {
		t.Labels, changed = labels, true
	}
	if !maps.Equal(t.Annotations, info.Annotations) {
		t.Annotations, changed = maps.Clone(info.Annotations), true
	}
	if !maps.Equal(t.Spec.NodeSelector, info.NodeSelector) {
		t.Spec.NodeSelector, changed = maps.Clone(info.NodeSelector), true
	}
	if !equality.Semantic.DeepEqual(t.Spec.Tolerations, info.Tolerations) {
		t.Spec.Tolerations, changed = slices.Clone(info.Tolerations), true
	}
	if !equality.Semantic.DeepEqual(t.Spec.SchedulingGates, info.SchedulingGates) {
		t.Spec.SchedulingGates, changed = slices.Clone(info.SchedulingGates), true
	}
	return changed
}
