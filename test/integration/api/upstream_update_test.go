package api

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// upstreamUpdate is one case of upstream's update tables: the old BatchJob (created, given
// its generated selector, then its status), the update, and the expected field path.
type upstreamUpdate struct {
	old    *testutil.JobWrapper
	status func(*bj.BatchJobStatus)
	update func(*bj.BatchJob)
	want   string
}

func runUpstreamUpdates(t *testing.T, cases map[string]upstreamUpdate) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := running(t, tc.old, tc.status)
			expectError(t, update(t, job, tc.update), tc.want)
		})
	}
}

func nodeAffinity(values ...string) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "foo", Operator: corev1.NodeSelectorOpIn, Values: values}}}}}}}
}

func requests(cpu, mem string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}
}

func containers(names ...string) []corev1.Container {
	out := make([]corev1.Container, len(names))
	for i, n := range names {
		out[i] = corev1.Container{Name: n, Image: "image", Resources: requests("100m", "64Mi")}
	}
	return out
}

var tolerations = []corev1.Toleration{{Key: "foo", Operator: corev1.TolerationOpEqual, Value: "bar", Effect: corev1.TaintEffectPreferNoSchedule}}

// Port of upstream TestValidateJobUpdate. Upstream's AllowMutableSchedulingDirectives and
// AllowMutablePodResources options are what its strategy sets for a suspended BatchJob that
// has not started, so those cases use a suspended old object; the others a running one.
//
// Not ported: "reject container resource updates only with feature gate off" (the
// MutablePodResourcesForSuspendedJobs gate is on by default in 1.37 and BatchJob has no
// gates) and the four spec.scheduling cases (BatchJob has no alpha scheduling field).
// Translated: "immutable completions for non-indexed jobs" — upstream's old object has
// neither completions nor parallelism, which batch/v1 defaulting would have set to 1 (making
// the update a no-op); here the old object is a work queue (parallelism set), so
// completions is really unset.
func TestUpstreamValidateJobUpdate(t *testing.T) {
	sp := func(rules ...bj.SuccessPolicyRule) *bj.SuccessPolicy { return &bj.SuccessPolicy{Rules: rules} }
	disruption := condRule(bj.PodFailurePolicyActionIgnore, pattern(corev1.DisruptionTarget, corev1.ConditionTrue))
	indexed := func() *testutil.JobWrapper { return upstreamJob().Indexed() }
	perIndex := func() *testutil.JobWrapper {
		return upstreamJobNever().Indexed().Completions(3).BackoffLimitPerIndex(1)
	}
	suspended := func() *testutil.JobWrapper { return upstreamJob().Suspend(true) }
	withAffinity := func() *testutil.JobWrapper {
		return suspended().WithSpec(func(s *bj.BatchJobSpec) { s.Template.Spec.Affinity = nodeAffinity("bar", "value") })
	}
	withInit := func(names ...string) *testutil.JobWrapper {
		return suspended().WithSpec(func(s *bj.BatchJobSpec) { s.Template.Spec.InitContainers = containers(names...) })
	}
	runUpstreamUpdates(t, map[string]upstreamUpdate{
		"mutable fields": {old: upstreamJob().Parallelism(5).ActiveDeadlineSeconds(2).TTLSecondsAfterFinished(1), update: func(j *bj.BatchJob) {
			j.Spec.Parallelism, j.Spec.ActiveDeadlineSeconds, j.Spec.TTLSecondsAfterFinished = ptr.To[int32](2), ptr.To[int64](3), ptr.To[int32](2)
			j.Spec.ManualSelector = ptr.To(true)
		}},
		"invalid attempt to set managedBy field": {old: upstreamJob(), update: func(j *bj.BatchJob) { j.Spec.ManagedBy = ptr.To("example.com/custom-controller") }, want: "spec.managedBy"},
		"invalid update of the managedBy field": {old: upstreamJob().ManagedBy("example.com/custom-controller1"),
			update: func(j *bj.BatchJob) { j.Spec.ManagedBy = ptr.To("example.com/custom-controller2") }, want: "spec.managedBy"},
		"immutable completions for non-indexed jobs": {old: upstreamJob().Parallelism(1), update: func(j *bj.BatchJob) { j.Spec.Completions = ptr.To[int32](1) }, want: "spec.completions"},
		"immutable selector":                         {old: upstreamJob().TemplateLabel("foo", "bar"), update: func(j *bj.BatchJob) { j.Spec.Selector.MatchLabels["foo"] = "bar" }, want: "spec.selector"},
		"add success policy": {old: upstreamJobNever().Indexed().Completions(5),
			update: func(j *bj.BatchJob) { j.Spec.SuccessPolicy = sp(testutil.SuccessRule("", 2)) }, want: "spec.successPolicy"},
		"update success policy": {old: upstreamJobNever().Indexed().Completions(5).SuccessPolicy(testutil.SuccessRule("1-3", -1)),
			update: func(j *bj.BatchJob) {
				j.Spec.SuccessPolicy.Rules = append(j.Spec.SuccessPolicy.Rules, testutil.SuccessRule("", 3))
			}, want: "spec.successPolicy"},
		"remove success policy": {old: upstreamJobNever().Indexed().Completions(5).SuccessPolicy(testutil.SuccessRule("1-3", -1)),
			update: func(j *bj.BatchJob) { j.Spec.SuccessPolicy = nil }, want: "spec.successPolicy"},
		"add pod failure policy": {old: upstreamJobNever(), update: func(j *bj.BatchJob) {
			j.Spec.PodFailurePolicy = &bj.PodFailurePolicy{Rules: []bj.PodFailurePolicyRule{disruption}}
		}, want: "spec.podFailurePolicy"},
		"update pod failure policy": {old: upstreamJobNever().PodFailurePolicy(disruption), update: func(j *bj.BatchJob) {
			j.Spec.PodFailurePolicy.Rules = append(j.Spec.PodFailurePolicy.Rules, condRule(bj.PodFailurePolicyActionCount, pattern(corev1.DisruptionTarget, corev1.ConditionTrue)))
		}, want: "spec.podFailurePolicy"},
		"remove pod failure policy":      {old: upstreamJobNever().PodFailurePolicy(disruption), update: func(j *bj.BatchJob) { j.Spec.PodFailurePolicy = nil }, want: "spec.podFailurePolicy"},
		"set backoff limit per index":    {old: upstreamJobNever().Indexed().Completions(3), update: func(j *bj.BatchJob) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) }, want: "spec.backoffLimitPerIndex"},
		"unset backoff limit per index":  {old: perIndex(), update: func(j *bj.BatchJob) { j.Spec.BackoffLimitPerIndex = nil }, want: "spec.backoffLimitPerIndex"},
		"update backoff limit per index": {old: perIndex(), update: func(j *bj.BatchJob) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](2) }, want: "spec.backoffLimitPerIndex"},
		"set max failed indexes":         {old: perIndex(), update: func(j *bj.BatchJob) { j.Spec.MaxFailedIndexes = ptr.To[int32](1) }},
		"unset max failed indexes":       {old: perIndex().MaxFailedIndexes(1), update: func(j *bj.BatchJob) { j.Spec.MaxFailedIndexes = nil }},
		"update max failed indexes":      {old: perIndex().MaxFailedIndexes(1), update: func(j *bj.BatchJob) { j.Spec.MaxFailedIndexes = ptr.To[int32](2) }},
		"immutable pod template": {old: indexed().Completions(3),
			update: func(j *bj.BatchJob) { j.Spec.Template.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet }, want: "spec.template"},
		"immutable completion mode": {old: indexed().Completions(2),
			update: func(j *bj.BatchJob) { j.Spec.CompletionMode = ptr.To(bj.NonIndexedCompletion) }, want: "spec.completionMode"},
		"immutable completions for non-indexed job": {old: withMode(upstreamJob(), bj.NonIndexedCompletion).Completions(2),
			update: func(j *bj.BatchJob) { j.Spec.Completions = ptr.To[int32](4) }, want: "spec.completions"},
		"immutable node affinity": {old: upstreamJob(), update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Affinity = nodeAffinity("bar", "value2") }, want: "spec.template"},
		"add node affinity":       {old: suspended(), update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Affinity = nodeAffinity("bar", "value2") }},
		"update node affinity":    {old: withAffinity(), update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Affinity = nodeAffinity("bar", "value2") }},
		"remove node affinity":    {old: withAffinity(), update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Affinity.NodeAffinity = nil }},
		"remove affinity":         {old: withAffinity(), update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Affinity = nil }},
		"immutable tolerations":   {old: upstreamJob(), update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Tolerations = tolerations }, want: "spec.template"},
		"mutable tolerations":     {old: suspended(), update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Tolerations = tolerations }},
		"immutable node selector": {old: upstreamJob(), update: func(j *bj.BatchJob) { j.Spec.Template.Spec.NodeSelector = map[string]string{"foo": "bar"} }, want: "spec.template"},
		"mutable node selector":   {old: suspended(), update: func(j *bj.BatchJob) { j.Spec.Template.Spec.NodeSelector = map[string]string{"foo": "bar"} }},
		"immutable annotations":   {old: upstreamJob(), update: func(j *bj.BatchJob) { j.Spec.Template.Annotations = map[string]string{"foo": "baz"} }, want: "spec.template"},
		"mutable annotations":     {old: suspended(), update: func(j *bj.BatchJob) { j.Spec.Template.Annotations = map[string]string{"foo": "baz"} }},
		"immutable labels":        {old: upstreamJob(), update: func(j *bj.BatchJob) { j.Spec.Template.Labels["bar"] = "baz" }, want: "spec.template"},
		"mutable labels":          {old: suspended(), update: func(j *bj.BatchJob) { j.Spec.Template.Labels["bar"] = "baz" }},
		"immutable schedulingGates": {old: upstreamJob(), update: func(j *bj.BatchJob) {
			j.Spec.Template.Spec.SchedulingGates = append(j.Spec.Template.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "gate"})
		}, want: "spec.template"},
		"mutable schedulingGates": {old: suspended(), update: func(j *bj.BatchJob) {
			j.Spec.Template.Spec.SchedulingGates = append(j.Spec.Template.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "gate"})
		}},
		"update completions and parallelism to same value is valid":                        {old: indexed().Completions(1).Parallelism(1), update: completionsParallelism(2, 2)},
		"previous parallelism != previous completions, new parallelism == new completions": {old: indexed().Completions(1).Parallelism(2), update: completionsParallelism(3, 3)},
		"indexed job updating completions and parallelism to different values is invalid": {old: indexed().Completions(1).Parallelism(1),
			update: completionsParallelism(2, 3), want: "spec.completions"},
		"indexed job with completions set updated to nil does not panic": {old: indexed().Completions(1).Parallelism(1), update: func(j *bj.BatchJob) {
			j.Spec.Completions, j.Spec.Parallelism = nil, ptr.To[int32](3)
		}, want: "spec.completions: Required value"},
		"indexed job with completions unchanged, parallelism reduced to less than completions":  {old: indexed().Completions(2).Parallelism(2), update: completionsParallelism(2, 1)},
		"indexed job with completions unchanged, parallelism increased higher than completions": {old: indexed().Completions(2).Parallelism(2), update: completionsParallelism(2, 3)},
		"allow container resource updates only": {old: suspended(), update: func(j *bj.BatchJob) {
			j.Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: requests("200m", "256Mi").Requests, Limits: requests("500m", "512Mi").Requests}
		}},
		"allow init container resource updates only": {old: withInit("init-container"), update: func(j *bj.BatchJob) {
			j.Spec.Template.Spec.InitContainers[0].Resources = corev1.ResourceRequirements{Requests: requests("200m", "128Mi").Requests, Limits: requests("400m", "256Mi").Requests}
		}},
		"allow both container and init container resource updates": {old: withInit("init-container"), update: func(j *bj.BatchJob) {
			j.Spec.Template.Spec.Containers[0].Resources = requests("200m", "256Mi")
			j.Spec.Template.Spec.InitContainers[0].Resources = requests("150m", "128Mi")
		}},
		"reject container resource update with other field changes": {old: suspended(), update: func(j *bj.BatchJob) {
			j.Spec.Template.Spec.Containers[0].Resources = requests("200m", "256Mi")
			j.Spec.Template.Spec.Containers[0].Image = "nginx:latest"
		}, want: "spec.template.spec"},
		"reject non-resource field updates when AllowMutablePodResources is true": {old: suspended(),
			update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Containers[0].Image = "nginx:latest" }, want: "spec.template.spec"},
		"reject pod spec changes when container count differs": {old: suspended(), update: func(j *bj.BatchJob) {
			j.Spec.Template.Spec.Containers = append(j.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "image"})
		}, want: "spec.template.spec"},
		"reject pod spec changes when init container count differs": {old: suspended(), update: func(j *bj.BatchJob) {
			j.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init-container", Image: "image"}}
		}, want: "spec.template.spec"},
		"reject pod spec changes if update reorders init containers": {old: withInit("init-container", "init-container-2"), update: func(j *bj.BatchJob) {
			j.Spec.Template.Spec.InitContainers = containers("init-container-2", "init-container")
		}, want: "spec.template.spec"},
		"reject pod spec changes if update reorders containers": {old: suspended().WithSpec(func(s *bj.BatchJobSpec) { s.Template.Spec.Containers = containers("container", "container-2") }),
			update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Containers = containers("container-2", "container") }, want: "spec.template.spec"},
	})
}

func completionsParallelism(c, p int32) func(*bj.BatchJob) {
	return func(j *bj.BatchJob) { j.Spec.Completions, j.Spec.Parallelism = ptr.To(c), ptr.To(p) }
}

func nodeSelectorFoo(j *bj.BatchJob) {
	j.Spec.Template.Spec.NodeSelector = map[string]string{"foo": "bar"}
}

func cpuRequest(j *bj.BatchJob) {
	j.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")}
}

// oldStatus is an old BatchJob's status: startTime (if started), active, and a Suspended
// condition when suspendedCond is True or False.
func oldStatus(started bool, active int32, suspendedCond corev1.ConditionStatus) func(*bj.BatchJobStatus) {
	return func(s *bj.BatchJobStatus) {
		if started {
			s.StartTime = &testTime
		}
		s.Active = active
		if suspendedCond != "" {
			s.Conditions = append(s.Conditions, cond(bj.JobSuspended, suspendedCond))
		}
	}
}

// Ports of upstream TestJobStrategy_ValidateUpdate, _MutablePodResources and
// _MutableSchedulingDirectives. Not ported: the cases that only hold with the
// MutablePodResourcesForSuspendedJobs / MutableSchedulingDirectivesForSuspendedJobs gates off
// where the outcome differs from gate-on (BatchJob implements the 1.37 defaults, gates on),
// "old job has no batch.kubernetes.io labels" (Jobs from before the prefixed labels existed)
// and the gang scheduling cases (no spec.scheduling).
func TestUpstreamJobStrategyValidateUpdate(t *testing.T) {
	manual := func() *testutil.JobWrapper { return manualJob().Parallelism(1) }
	badSelector := manualJob().WithSpec(func(s *bj.BatchJobSpec) {
		s.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "key", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"bad value"}}}
	})
	annotate := func(j *bj.BatchJob) { j.Annotations = map[string]string{"foo": "bar", "hello": "world"} }
	susp := func() *testutil.JobWrapper { return upstreamJob().Suspend(true) }
	T, F := corev1.ConditionTrue, corev1.ConditionFalse
	runUpstreamUpdates(t, map[string]upstreamUpdate{
		"update parallelism":                                                          {old: manual(), update: func(j *bj.BatchJob) { j.Spec.Parallelism = ptr.To[int32](2) }},
		"update completions disallowed":                                               {old: manual().Completions(1), update: func(j *bj.BatchJob) { j.Spec.Completions = ptr.To[int32](2) }, want: "spec.completions"},
		"updating node selector for unsuspended job disallowed":                       {old: manual(), update: nodeSelectorFoo, want: "spec.template"},
		"updating node selector for suspended but previously started job disallowed":  {old: manual().Suspend(true), status: oldStatus(true, 0, ""), update: nodeSelectorFoo, want: "spec.template"},
		"updating node selector for suspended and not previously started job allowed": {old: manual().Suspend(true), status: oldStatus(false, 0, T), update: nodeSelectorFoo},
		"invalid label selector":                                                      {old: badSelector, update: annotate},
		"old job has all labels":                                                      {old: upstreamJob().Parallelism(4), update: annotate},
		// _MutablePodResources
		"resources: job suspended, but with remaining active Pods":                       {old: susp(), status: oldStatus(false, 1, F), update: cpuRequest, want: "spec.template"},
		"resources: job suspended, with the suspended condition, but pods remain active": {old: susp(), status: oldStatus(false, 1, T), update: cpuRequest, want: "spec.template"},
		"resources: unsuspended job":                                                     {old: upstreamJob(), status: oldStatus(false, 1, F), update: cpuRequest, want: "spec.template"},
		"resources: suspended but started job":                                           {old: susp(), status: oldStatus(true, 0, T), update: cpuRequest},
		"resources: suspended and not started job":                                       {old: susp(), status: oldStatus(false, 0, T), update: cpuRequest},
		"resources: non-resource field updates still rejected": {old: susp(), status: oldStatus(false, 0, T),
			update: func(j *bj.BatchJob) { j.Spec.Template.Spec.Containers[0].Image = "different-image" }, want: "spec.template.spec"},
		"resources: suspended without Suspended condition but never started":            {old: susp(), update: cpuRequest},
		"resources: job resuming (suspend=false) but JobSuspended condition still true": {old: upstreamJob(), status: oldStatus(false, 0, T), update: cpuRequest, want: "spec.template"},
		// _MutableSchedulingDirectives
		"scheduling: suspended job never started":                             {old: susp(), status: oldStatus(false, 0, T), update: nodeSelectorFoo},
		"scheduling: suspended job with active pods, started":                 {old: susp(), status: oldStatus(true, 1, ""), update: nodeSelectorFoo, want: "spec.template"},
		"scheduling: unsuspended Job":                                         {old: upstreamJob(), status: oldStatus(true, 1, ""), update: nodeSelectorFoo, want: "spec.template"},
		"scheduling: suspended Job which was running in the past":             {old: susp(), status: oldStatus(true, 0, T), update: nodeSelectorFoo},
		"scheduling: suspended Job still have active pods":                    {old: susp(), status: oldStatus(true, 1, T), update: nodeSelectorFoo, want: "spec.template"},
		"scheduling: suspended Job without Suspended condition":               {old: susp(), status: oldStatus(true, 1, F), update: nodeSelectorFoo, want: "spec.template"},
		"scheduling: job resuming but JobSuspended condition still true":      {old: upstreamJob(), status: oldStatus(false, 0, T), update: nodeSelectorFoo, want: "spec.template"},
		"scheduling: suspended Job without Suspended condition never started": {old: susp(), update: nodeSelectorFoo},
	})
}
