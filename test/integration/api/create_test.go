package api

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// defaulted is the part of the spec that batch/v1 defaults.
type defaulted struct {
	Completions, Parallelism, BackoffLimit *int32
	CompletionMode                         *bj.CompletionMode
	Suspend, ManualSelector                *bool
	PodReplacementPolicy                   *bj.PodReplacementPolicy
	Labels                                 map[string]string
}

func defaultedOf(job *bj.BatchJob) defaulted {
	s := job.Spec
	return defaulted{s.Completions, s.Parallelism, s.BackoffLimit, s.CompletionMode, s.Suspend, s.ManualSelector, s.PodReplacementPolicy, job.Labels}
}

func TestStoredDefaults(t *testing.T) {
	nonIndexed, indexed := ptr.To(bj.NonIndexedCompletion), ptr.To(bj.IndexedCompletion)
	tof, failed := ptr.To(bj.TerminatingOrFailed), ptr.To(bj.Failed)
	i32 := func(n int32) *int32 { return ptr.To(n) }
	cases := map[string]struct {
		job  *BatchJobWrapper
		want defaulted
	}{
		"nothing set": {MakeBatchJob("d", ns),
			defaulted{i32(1), i32(1), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, nil}},
		"only completions": {MakeBatchJob("d", ns).Completions(5),
			defaulted{i32(5), i32(1), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, nil}},
		"only parallelism (work queue)": {MakeBatchJob("d", ns).Parallelism(3),
			defaulted{nil, i32(3), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, nil}},
		"both set": {MakeBatchJob("d", ns).Completions(4).Parallelism(2),
			defaulted{i32(4), i32(2), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, nil}},
		"backoffLimitPerIndex": {MakeBatchJob("d", ns).Indexed().Completions(3).BackoffLimitPerIndex(1),
			defaulted{i32(3), i32(1), i32(math.MaxInt32), indexed, ptr.To(false), ptr.To(false), tof, nil}},
		"explicit backoffLimit kept": {MakeBatchJob("d", ns).Indexed().Completions(3).BackoffLimitPerIndex(1).BackoffLimit(2),
			defaulted{i32(3), i32(1), i32(2), indexed, ptr.To(false), ptr.To(false), tof, nil}},
		"podFailurePolicy": {MakeBatchJob("d", ns).PodFailurePolicy(ExitCodes(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, 1)),
			defaulted{i32(1), i32(1), i32(6), nonIndexed, ptr.To(false), ptr.To(false), failed, nil}},
		"explicit podReplacementPolicy and suspend": {MakeBatchJob("d", ns).PodReplacementPolicy(bj.Failed).Suspend(true),
			defaulted{i32(1), i32(1), i32(6), nonIndexed, ptr.To(true), ptr.To(false), failed, nil}},
		"labels copied from the template": {MakeBatchJob("d", ns).TemplateLabel("app", "x"),
			defaulted{i32(1), i32(1), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, map[string]string{"app": "x"}}},
		"own labels kept": {MakeBatchJob("d", ns).TemplateLabel("app", "x").Label("team", "a"),
			defaulted{i32(1), i32(1), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, map[string]string{"team": "a"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := tc.job.Obj()
			job.Name = uniqueName("defaults")
			inMemory := job.DeepCopy()
			bj.SetDefaults(inMemory)
			create(t, job)
			got := &bj.BatchJob{}
			if err := k8sClient.Get(ctxT(t), client.ObjectKeyFromObject(job), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, defaultedOf(got)); diff != "" {
				t.Errorf("stored defaults (-want,+got):\n%s", diff)
			}
			// The controller's in-memory SetDefaults must agree with the API server.
			if diff := cmp.Diff(inMemory.Spec, got.Spec); diff != "" {
				t.Errorf("SetDefaults differs from the stored spec (-SetDefaults,+stored):\n%s", diff)
			}
		})
	}
}

func TestPodFailurePolicyConditionStatusDefault(t *testing.T) {
	job := MakeBatchJob(uniqueName("pfp-status"), ns).PodFailurePolicy(PodCondition(bj.PodFailurePolicyActionIgnore, corev1.DisruptionTarget, "")).Obj()
	create(t, job)
	got := &bj.BatchJob{}
	if err := k8sClient.Get(ctxT(t), client.ObjectKeyFromObject(job), got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(corev1.ConditionTrue, got.Spec.PodFailurePolicy.Rules[0].OnPodConditions[0].Status); diff != "" {
		t.Errorf("onPodConditions[0].status (-want,+got):\n%s", diff)
	}
}

// TestValidManifestsAccepted creates one BatchJob per kind of seed manifest.
func TestValidManifestsAccepted(t *testing.T) {
	cases := map[string]*BatchJobWrapper{
		"completions":          MakeBatchJob("v", ns).Completions(5),
		"parallelism":          MakeBatchJob("v", ns).Completions(10).Parallelism(3),
		"indexed":              MakeBatchJob("v", ns).Indexed().Completions(5).Parallelism(5),
		"work queue":           MakeBatchJob("v", ns).Parallelism(4),
		"deadline":             MakeBatchJob("v", ns).ActiveDeadlineSeconds(30).BackoffLimit(2),
		"deadline zero":        MakeBatchJob("v", ns).ActiveDeadlineSeconds(0),
		"ttl":                  MakeBatchJob("v", ns).TTLSecondsAfterFinished(100),
		"onFailure":            MakeBatchJob("v", ns).RestartPolicy(corev1.RestartPolicyOnFailure),
		"backoffLimitPerIndex": MakeBatchJob("v", ns).Indexed().Completions(10).BackoffLimitPerIndex(1).MaxFailedIndexes(5),
		"high completions":     MakeBatchJob("v", ns).Indexed().Completions(200000).Parallelism(10000).BackoffLimitPerIndex(1).MaxFailedIndexes(10000),
		"podFailurePolicy": MakeBatchJob("v", ns).InitContainer("setup").PodFailurePolicy(
			ExitCodes(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, 1, 2, 42),
			ExitCodes(bj.PodFailurePolicyActionCount, bj.PodFailurePolicyOnExitCodesOpNotIn, 0),
			PodCondition(bj.PodFailurePolicyActionIgnore, corev1.DisruptionTarget, corev1.ConditionTrue),
			PodCondition(bj.PodFailurePolicyActionCount, "example.com/custom", corev1.ConditionFalse)),
		"podFailurePolicy containerName": MakeBatchJob("v", ns).InitContainer("setup").PodFailurePolicy(withContainer(
			ExitCodes(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, 3), "setup")),
		"FailIndex": MakeBatchJob("v", ns).Indexed().Completions(4).BackoffLimitPerIndex(0).PodFailurePolicy(
			ExitCodes(bj.PodFailurePolicyActionFailIndex, bj.PodFailurePolicyOnExitCodesOpIn, 42)),
		"successPolicy": MakeBatchJob("v", ns).Indexed().Completions(10).SuccessPolicy(
			SuccessRule("0,2-4,6", 3), SuccessRule("", 5), SuccessRule("1,2", -1), SuccessRule("9", -1)),
		"managedBy":       MakeBatchJob("v", ns).ManagedBy("kueue.x-k8s.io/multikueue"),
		"manual selector": MakeBatchJob("v", ns).ManualSelector(map[string]string{"app": "x"}).TemplateLabel("app", "x"),
		"suspended":       MakeBatchJob("v", ns).Suspend(true),
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			job := w.Obj()
			job.Name = uniqueName("valid")
			expectError(t, k8sClient.Create(ctxT(t), job), "")
		})
	}
}

func withContainer(r bj.PodFailurePolicyRule, name string) bj.PodFailurePolicyRule {
	r.OnExitCodes.ContainerName = ptr.To(name)
	return r
}

func TestInvalidBatchJobsRejected(t *testing.T) {
	fj, in, notIn := bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, bj.PodFailurePolicyOnExitCodesOpNotIn
	many := func(n int, r bj.PodFailurePolicyRule) []bj.PodFailurePolicyRule {
		out := make([]bj.PodFailurePolicyRule, n)
		for i := range out {
			out[i] = r
		}
		return out
	}
	codes := make([]int32, 256)
	for i := range codes {
		codes[i] = int32(i + 1)
	}
	conds := make([]bj.PodFailurePolicyOnPodConditionsPattern, 21)
	for i := range conds {
		conds[i] = bj.PodFailurePolicyOnPodConditionsPattern{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}
	}
	successRules := make([]bj.SuccessPolicyRule, 21)
	for i := range successRules {
		successRules[i] = SuccessRule("", 1)
	}
	cases := map[string]struct {
		job  *BatchJobWrapper
		want string
	}{
		"restartPolicy Always":              {MakeBatchJob("x", ns).RestartPolicy(corev1.RestartPolicyAlways), "spec.template.spec.restartPolicy"},
		"restartPolicy empty":               {MakeBatchJob("x", ns).RestartPolicy(""), "spec.template.spec.restartPolicy"},
		"restartPolicy OnFailure with pfp":  {MakeBatchJob("x", ns).RestartPolicy(corev1.RestartPolicyOnFailure).PodFailurePolicy(ExitCodes(fj, in, 1)), `only "Never" is supported when podFailurePolicy`},
		"completionMode unknown":            {withMode(MakeBatchJob("x", ns), "Bogus"), "spec.completionMode"},
		"Indexed without completions":       {MakeBatchJob("x", ns).Indexed().Parallelism(2), "spec.completions: Required value"},
		"Indexed parallelism over 100000":   {MakeBatchJob("x", ns).Indexed().Completions(5).Parallelism(100001), "spec.parallelism: Invalid value"},
		"maxFailedIndexes over completions": {MakeBatchJob("x", ns).Indexed().Completions(5).BackoffLimitPerIndex(1).MaxFailedIndexes(6), "spec.maxFailedIndexes: Invalid value"},
		"maxFailedIndexes over 100000":      {MakeBatchJob("x", ns).Indexed().Completions(99999999).Parallelism(1).BackoffLimitPerIndex(1).MaxFailedIndexes(100001), "must be less than or equal to 100000"},
		"high completions no maxFailedIdx":  {MakeBatchJob("x", ns).Indexed().Completions(100001).BackoffLimitPerIndex(1), "spec.maxFailedIndexes: Required value"},
		"high completions parallelism":      {MakeBatchJob("x", ns).Indexed().Completions(100001).Parallelism(10001).BackoffLimitPerIndex(1).MaxFailedIndexes(1), "must be less than or equal to 10000 when completions are above 100000"},
		"high completions maxFailedIndexes": {MakeBatchJob("x", ns).Indexed().Completions(200000).BackoffLimitPerIndex(1).MaxFailedIndexes(10001), "spec.maxFailedIndexes: Invalid value"},
		"backoffLimitPerIndex NonIndexed":   {MakeBatchJob("x", ns).BackoffLimitPerIndex(1), "spec.backoffLimitPerIndex: Invalid value"},
		"maxFailedIndexes NonIndexed":       {MakeBatchJob("x", ns).MaxFailedIndexes(1).BackoffLimitPerIndex(1), "spec.maxFailedIndexes: Invalid value"},
		"maxFailedIndexes alone":            {MakeBatchJob("x", ns).Indexed().Completions(3).MaxFailedIndexes(1), "spec.backoffLimitPerIndex: Required value"},
		"negative parallelism":              {MakeBatchJob("x", ns).Parallelism(-1), "spec.parallelism"},
		"negative completions":              {MakeBatchJob("x", ns).Completions(-1), "spec.completions"},
		"negative activeDeadlineSeconds":    {MakeBatchJob("x", ns).ActiveDeadlineSeconds(-1), "spec.activeDeadlineSeconds"},
		"negative backoffLimit":             {MakeBatchJob("x", ns).BackoffLimit(-1), "spec.backoffLimit"},
		"negative ttl":                      {MakeBatchJob("x", ns).TTLSecondsAfterFinished(-1), "spec.ttlSecondsAfterFinished"},
		"negative backoffLimitPerIndex":     {MakeBatchJob("x", ns).Indexed().Completions(2).BackoffLimitPerIndex(-1), "spec.backoffLimitPerIndex"},
		"negative maxFailedIndexes":         {MakeBatchJob("x", ns).Indexed().Completions(2).BackoffLimitPerIndex(1).MaxFailedIndexes(-1), "spec.maxFailedIndexes"},
		"pfp 21 rules":                      {MakeBatchJob("x", ns).PodFailurePolicy(many(21, ExitCodes(fj, in, 1))...), "spec.podFailurePolicy.rules: Too many"},
		"pfp unknown action":                {MakeBatchJob("x", ns).PodFailurePolicy(ExitCodes("Explode", in, 1)), "spec.podFailurePolicy.rules[0].action"},
		"pfp FailIndex without per-index":   {MakeBatchJob("x", ns).Indexed().Completions(2).PodFailurePolicy(ExitCodes(bj.PodFailurePolicyActionFailIndex, in, 1)), "spec.podFailurePolicy.rules[0].action: Invalid value: FailIndex: requires the backoffLimitPerIndex to be set"},
		"pfp both matchers":                 {MakeBatchJob("x", ns).PodFailurePolicy(bothMatchers()), "specifying both OnExitCodes and OnPodConditions is not supported"},
		"pfp no matcher":                    {MakeBatchJob("x", ns).PodFailurePolicy(bj.PodFailurePolicyRule{Action: fj}), "specifying one of OnExitCodes and OnPodConditions is required"},
		"pfp unknown operator":              {MakeBatchJob("x", ns).PodFailurePolicy(ExitCodes(fj, "Between", 1)), "spec.podFailurePolicy.rules[0].onExitCodes.operator"},
		"pfp no values":                     {MakeBatchJob("x", ns).PodFailurePolicy(ExitCodes(fj, in)), "spec.podFailurePolicy.rules[0].onExitCodes.values"},
		"pfp 256 values":                    {MakeBatchJob("x", ns).PodFailurePolicy(ExitCodes(fj, in, codes...)), "spec.podFailurePolicy.rules[0].onExitCodes.values: Too many"},
		"pfp 0 with In":                     {MakeBatchJob("x", ns).PodFailurePolicy(ExitCodes(fj, in, 0, 1)), "must not be 0 for the In operator"},
		"pfp unsorted values":               {MakeBatchJob("x", ns).PodFailurePolicy(ExitCodes(fj, notIn, 2, 1)), "must be ordered"},
		"pfp duplicate values":              {MakeBatchJob("x", ns).PodFailurePolicy(ExitCodes(fj, notIn, 1, 1)), "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Duplicate value"},
		"pfp unknown containerName":         {MakeBatchJob("x", ns).PodFailurePolicy(withContainer(ExitCodes(fj, in, 1), "nope")), "must be one of the container or initContainer names"},
		"pfp 21 pod conditions":             {MakeBatchJob("x", ns).PodFailurePolicy(bj.PodFailurePolicyRule{Action: fj, OnPodConditions: conds}), "spec.podFailurePolicy.rules[0].onPodConditions: Too many"},
		"pfp condition status":              {MakeBatchJob("x", ns).PodFailurePolicy(PodCondition(fj, corev1.DisruptionTarget, "Maybe")), "spec.podFailurePolicy.rules[0].onPodConditions[0].status"},
		"pfp condition type":                {MakeBatchJob("x", ns).PodFailurePolicy(PodCondition(fj, "not a name!", corev1.ConditionTrue)), "spec.podFailurePolicy.rules[0].onPodConditions[0].type"},
		"podReplacementPolicy unknown":      {MakeBatchJob("x", ns).PodReplacementPolicy("Never"), "spec.podReplacementPolicy"},
		"podReplacementPolicy with pfp":     {MakeBatchJob("x", ns).PodReplacementPolicy(bj.TerminatingOrFailed).PodFailurePolicy(ExitCodes(fj, in, 1)), "spec.podReplacementPolicy"},
		"successPolicy NonIndexed":          {MakeBatchJob("x", ns).Completions(3).SuccessPolicy(SuccessRule("", 1)), "spec.successPolicy: Invalid value"},
		"successPolicy no rules":            {MakeBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(), "spec.successPolicy.rules"},
		"successPolicy 21 rules":            {MakeBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(successRules...), "spec.successPolicy.rules: Too many"},
		"successPolicy empty rule":          {MakeBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(SuccessRule("", -1)), "at least one of succeededCount or succeededIndexes"},
		"succeededCount over completions":   {MakeBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(SuccessRule("", 4)), "spec.successPolicy.rules[0].succeededCount: Invalid value: must be less than or equal to spec.completions"},
		"succeededCount negative":           {MakeBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(SuccessRule("", -5)), ""},
		"succeededIndexes format":           {MakeBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(SuccessRule("a", -1)), "spec.successPolicy.rules[0].succeededIndexes"},
		"succeededIndexes 3 parts":          {MakeBatchJob("x", ns).Indexed().Completions(9).SuccessPolicy(SuccessRule("1-2-3", -1)), "spec.successPolicy.rules[0].succeededIndexes"},
		"succeededIndexes X-X":              {MakeBatchJob("x", ns).Indexed().Completions(9).SuccessPolicy(SuccessRule("3-3", -1)), "error parsing succeededIndexes"},
		"succeededIndexes overlapping":      {MakeBatchJob("x", ns).Indexed().Completions(9).SuccessPolicy(SuccessRule("1-3,3", -1)), "error parsing succeededIndexes"},
		"succeededIndexes decreasing":       {MakeBatchJob("x", ns).Indexed().Completions(9).SuccessPolicy(SuccessRule("5,2", -1)), "error parsing succeededIndexes"},
		"succeededIndexes too large":        {MakeBatchJob("x", ns).Indexed().Completions(5).SuccessPolicy(SuccessRule("1,5", -1)), "error parsing succeededIndexes"},
		"succeededIndexes too long":         {MakeBatchJob("x", ns).Indexed().Completions(5).SuccessPolicy(SuccessRule("1"+strings.Repeat(",1", 32768), -1)), "spec.successPolicy.rules[0].succeededIndexes: Too long"},
		"succeededCount over indexes":       {MakeBatchJob("x", ns).Indexed().Completions(5).SuccessPolicy(SuccessRule("0,1", 3)), "number of indexes in the specified succeededIndexes"},
		"managedBy not a path":              {MakeBatchJob("x", ns).ManagedBy("kueue"), "spec.managedBy"},
		"managedBy too long":                {MakeBatchJob("x", ns).ManagedBy("example.com/" + strings.Repeat("a", 60)), "spec.managedBy: Too long"},
		"Indexed hostname not a DNS label":  {MakeBatchJob(strings.Repeat("a", 58), ns).Indexed().Completions(100000), "metadata.name: Invalid value: will not able to create pod with invalid DNS label: " + strings.Repeat("a", 58) + "-99999"},
		"selector without manualSelector":   {withSelector(MakeBatchJob("x", ns).TemplateLabel("app", "x"), map[string]string{"app": "x"}), "spec.selector"},
		"generated uid label set by user":   {MakeBatchJob("x", ns).TemplateLabel(bj.ControllerUIDLabel, "abc"), "spec.template.metadata.labels"},
		"job-name label not the name":       {MakeBatchJob("x", ns).TemplateLabel(bj.LegacyJobNameLabel, "other"), "spec.template.metadata.labels"},
		"manual selector not matching":      {MakeBatchJob("x", ns).ManualSelector(map[string]string{"app": "y"}).TemplateLabel("app", "x"), "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"},
		"manual selector expression":        {withExpr(MakeBatchJob("x", ns).ManualSelector(nil).TemplateLabel("app", "x"), "app", metav1.LabelSelectorOpNotIn, "x"), "`selector` does not match template `labels`"},
	}
	cases["succeededCount negative"] = struct {
		job  *BatchJobWrapper
		want string
	}{negativeCount(MakeBatchJob("x", ns).Indexed().Completions(3)), "spec.successPolicy.rules[0].succeededCount"}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := tc.job.Obj()
			if job.Name == "x" {
				job.Name = uniqueName("invalid")
			}
			expectError(t, k8sClient.Create(ctxT(t), job), tc.want)
		})
	}
}

func withMode(w *BatchJobWrapper, m bj.CompletionMode) *BatchJobWrapper {
	w.Spec.CompletionMode = &m
	return w
}

func withSelector(w *BatchJobWrapper, ml map[string]string) *BatchJobWrapper {
	w.Spec.Selector = &metav1.LabelSelector{MatchLabels: ml}
	return w
}

func withExpr(w *BatchJobWrapper, key string, op metav1.LabelSelectorOperator, values ...string) *BatchJobWrapper {
	w.Spec.Selector.MatchExpressions = append(w.Spec.Selector.MatchExpressions, metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values})
	return w
}

func negativeCount(w *BatchJobWrapper) *BatchJobWrapper {
	w.Spec.SuccessPolicy = &bj.SuccessPolicy{Rules: []bj.SuccessPolicyRule{{SucceededCount: ptr.To[int32](-1)}}}
	return w
}

func bothMatchers() bj.PodFailurePolicyRule {
	r := ExitCodes(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, 1)
	r.OnPodConditions = []bj.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	return r
}
