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
	"github.com/batchjob-dev/batchjob/internal/testutil"
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
		job  *testutil.JobWrapper
		want defaulted
	}{
		"nothing set": {testutil.MakeBareBatchJob("d", ns),
			defaulted{i32(1), i32(1), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, nil}},
		"only completions": {testutil.MakeBareBatchJob("d", ns).Completions(5),
			defaulted{i32(5), i32(1), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, nil}},
		"only parallelism (work queue)": {testutil.MakeBareBatchJob("d", ns).Parallelism(3),
			defaulted{nil, i32(3), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, nil}},
		"both set": {testutil.MakeBareBatchJob("d", ns).Completions(4).Parallelism(2),
			defaulted{i32(4), i32(2), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, nil}},
		"backoffLimitPerIndex": {testutil.MakeBareBatchJob("d", ns).Indexed().Completions(3).BackoffLimitPerIndex(1),
			defaulted{i32(3), i32(1), i32(math.MaxInt32), indexed, ptr.To(false), ptr.To(false), tof, nil}},
		"explicit backoffLimit kept": {testutil.MakeBareBatchJob("d", ns).Indexed().Completions(3).BackoffLimitPerIndex(1).BackoffLimit(2),
			defaulted{i32(3), i32(1), i32(2), indexed, ptr.To(false), ptr.To(false), tof, nil}},
		"podFailurePolicy": {testutil.MakeBareBatchJob("d", ns).PodFailurePolicy(testutil.ExitCodes(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, 1)),
			defaulted{i32(1), i32(1), i32(6), nonIndexed, ptr.To(false), ptr.To(false), failed, nil}},
		"explicit podReplacementPolicy and suspend": {testutil.MakeBareBatchJob("d", ns).PodReplacementPolicy(bj.Failed).Suspend(true),
			defaulted{i32(1), i32(1), i32(6), nonIndexed, ptr.To(true), ptr.To(false), failed, nil}},
		"labels copied from the template": {testutil.MakeBareBatchJob("d", ns).TemplateLabel("app", "x"),
			defaulted{i32(1), i32(1), i32(6), nonIndexed, ptr.To(false), ptr.To(false), tof, map[string]string{"app": "x"}}},
		"own labels kept": {testutil.MakeBareBatchJob("d", ns).TemplateLabel("app", "x").Label("team", "a"),
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
	job := testutil.MakeBareBatchJob(uniqueName("pfp-status"), ns).PodFailurePolicy(testutil.PodCondition(bj.PodFailurePolicyActionIgnore, corev1.DisruptionTarget, "")).Obj()
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
	cases := map[string]*testutil.JobWrapper{
		"completions":          testutil.MakeBareBatchJob("v", ns).Completions(5),
		"parallelism":          testutil.MakeBareBatchJob("v", ns).Completions(10).Parallelism(3),
		"indexed":              testutil.MakeBareBatchJob("v", ns).Indexed().Completions(5).Parallelism(5),
		"work queue":           testutil.MakeBareBatchJob("v", ns).Parallelism(4),
		"deadline":             testutil.MakeBareBatchJob("v", ns).ActiveDeadlineSeconds(30).BackoffLimit(2),
		"deadline zero":        testutil.MakeBareBatchJob("v", ns).ActiveDeadlineSeconds(0),
		"ttl":                  testutil.MakeBareBatchJob("v", ns).TTLSecondsAfterFinished(100),
		"onFailure":            testutil.MakeBareBatchJob("v", ns).RestartPolicy(corev1.RestartPolicyOnFailure),
		"backoffLimitPerIndex": testutil.MakeBareBatchJob("v", ns).Indexed().Completions(10).BackoffLimitPerIndex(1).MaxFailedIndexes(5),
		"high completions":     testutil.MakeBareBatchJob("v", ns).Indexed().Completions(200000).Parallelism(10000).BackoffLimitPerIndex(1).MaxFailedIndexes(10000),
		"podFailurePolicy": testutil.MakeBareBatchJob("v", ns).InitContainer("setup").PodFailurePolicy(
			testutil.ExitCodes(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, 1, 2, 42),
			testutil.ExitCodes(bj.PodFailurePolicyActionCount, bj.PodFailurePolicyOnExitCodesOpNotIn, 0),
			testutil.PodCondition(bj.PodFailurePolicyActionIgnore, corev1.DisruptionTarget, corev1.ConditionTrue),
			testutil.PodCondition(bj.PodFailurePolicyActionCount, "example.com/custom", corev1.ConditionFalse)),
		"podFailurePolicy containerName": testutil.MakeBareBatchJob("v", ns).InitContainer("setup").PodFailurePolicy(withContainer(
			testutil.ExitCodes(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, 3), "setup")),
		"FailIndex": testutil.MakeBareBatchJob("v", ns).Indexed().Completions(4).BackoffLimitPerIndex(0).PodFailurePolicy(
			testutil.ExitCodes(bj.PodFailurePolicyActionFailIndex, bj.PodFailurePolicyOnExitCodesOpIn, 42)),
		"successPolicy": testutil.MakeBareBatchJob("v", ns).Indexed().Completions(10).SuccessPolicy(
			testutil.SuccessRule("0,2-4,6", 3), testutil.SuccessRule("", 5), testutil.SuccessRule("1,2", -1), testutil.SuccessRule("9", -1)),
		"managedBy":       testutil.MakeBareBatchJob("v", ns).ManagedBy("kueue.x-k8s.io/multikueue"),
		"manual selector": testutil.MakeBareBatchJob("v", ns).ManualSelector(map[string]string{"app": "x"}).TemplateLabel("app", "x"),
		"suspended":       testutil.MakeBareBatchJob("v", ns).Suspend(true),
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
		successRules[i] = testutil.SuccessRule("", 1)
	}
	cases := map[string]struct {
		job  *testutil.JobWrapper
		want string
	}{
		"restartPolicy Always":              {testutil.MakeBareBatchJob("x", ns).RestartPolicy(corev1.RestartPolicyAlways), "spec.template.spec.restartPolicy"},
		"restartPolicy empty":               {testutil.MakeBareBatchJob("x", ns).RestartPolicy(""), "spec.template.spec.restartPolicy"},
		"restartPolicy OnFailure with pfp":  {testutil.MakeBareBatchJob("x", ns).RestartPolicy(corev1.RestartPolicyOnFailure).PodFailurePolicy(testutil.ExitCodes(fj, in, 1)), `only "Never" is supported when podFailurePolicy`},
		"completionMode unknown":            {withMode(testutil.MakeBareBatchJob("x", ns), "Bogus"), "spec.completionMode"},
		"Indexed without completions":       {testutil.MakeBareBatchJob("x", ns).Indexed().Parallelism(2), "spec.completions: Required value"},
		"Indexed parallelism over 100000":   {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(5).Parallelism(100001), "spec.parallelism: Invalid value"},
		"maxFailedIndexes over completions": {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(5).BackoffLimitPerIndex(1).MaxFailedIndexes(6), "spec.maxFailedIndexes: Invalid value"},
		"maxFailedIndexes over 100000":      {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(99999999).Parallelism(1).BackoffLimitPerIndex(1).MaxFailedIndexes(100001), "must be less than or equal to 100000"},
		"high completions no maxFailedIdx":  {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(100001).BackoffLimitPerIndex(1), "spec.maxFailedIndexes: Required value"},
		"high completions parallelism":      {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(100001).Parallelism(10001).BackoffLimitPerIndex(1).MaxFailedIndexes(1), "must be less than or equal to 10000 when completions are above 100000"},
		"high completions maxFailedIndexes": {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(200000).BackoffLimitPerIndex(1).MaxFailedIndexes(10001), "spec.maxFailedIndexes: Invalid value"},
		"backoffLimitPerIndex NonIndexed":   {testutil.MakeBareBatchJob("x", ns).BackoffLimitPerIndex(1), "spec.backoffLimitPerIndex: Invalid value"},
		"maxFailedIndexes NonIndexed":       {testutil.MakeBareBatchJob("x", ns).MaxFailedIndexes(1).BackoffLimitPerIndex(1), "spec.maxFailedIndexes: Invalid value"},
		"maxFailedIndexes alone":            {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(3).MaxFailedIndexes(1), "spec.backoffLimitPerIndex: Required value"},
		"negative parallelism":              {testutil.MakeBareBatchJob("x", ns).Parallelism(-1), "spec.parallelism"},
		"negative completions":              {testutil.MakeBareBatchJob("x", ns).Completions(-1), "spec.completions"},
		"negative activeDeadlineSeconds":    {testutil.MakeBareBatchJob("x", ns).ActiveDeadlineSeconds(-1), "spec.activeDeadlineSeconds"},
		"negative backoffLimit":             {testutil.MakeBareBatchJob("x", ns).BackoffLimit(-1), "spec.backoffLimit"},
		"negative ttl":                      {testutil.MakeBareBatchJob("x", ns).TTLSecondsAfterFinished(-1), "spec.ttlSecondsAfterFinished"},
		"negative backoffLimitPerIndex":     {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(2).BackoffLimitPerIndex(-1), "spec.backoffLimitPerIndex"},
		"negative maxFailedIndexes":         {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(2).BackoffLimitPerIndex(1).MaxFailedIndexes(-1), "spec.maxFailedIndexes"},
		"pfp 21 rules":                      {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(many(21, testutil.ExitCodes(fj, in, 1))...), "spec.podFailurePolicy.rules: Too many"},
		"pfp unknown action":                {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(testutil.ExitCodes("Explode", in, 1)), "spec.podFailurePolicy.rules[0].action"},
		"pfp FailIndex without per-index":   {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(2).PodFailurePolicy(testutil.ExitCodes(bj.PodFailurePolicyActionFailIndex, in, 1)), "spec.podFailurePolicy.rules[0].action: Invalid value: FailIndex: requires the backoffLimitPerIndex to be set"},
		"pfp both matchers":                 {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(bothMatchers()), "specifying both OnExitCodes and OnPodConditions is not supported"},
		"pfp no matcher":                    {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(bj.PodFailurePolicyRule{Action: fj}), "specifying one of OnExitCodes and OnPodConditions is required"},
		"pfp unknown operator":              {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(testutil.ExitCodes(fj, "Between", 1)), "spec.podFailurePolicy.rules[0].onExitCodes.operator"},
		"pfp no values":                     {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(testutil.ExitCodes(fj, in)), "spec.podFailurePolicy.rules[0].onExitCodes.values"},
		"pfp 256 values":                    {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(testutil.ExitCodes(fj, in, codes...)), "spec.podFailurePolicy.rules[0].onExitCodes.values: Too many"},
		"pfp 0 with In":                     {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(testutil.ExitCodes(fj, in, 0, 1)), "must not be 0 for the In operator"},
		"pfp unsorted values":               {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(testutil.ExitCodes(fj, notIn, 2, 1)), "must be ordered"},
		"pfp duplicate values":              {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(testutil.ExitCodes(fj, notIn, 1, 1)), "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Duplicate value"},
		"pfp unknown containerName":         {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(withContainer(testutil.ExitCodes(fj, in, 1), "nope")), "must be one of the container or initContainer names"},
		"pfp 21 pod conditions":             {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(bj.PodFailurePolicyRule{Action: fj, OnPodConditions: conds}), "spec.podFailurePolicy.rules[0].onPodConditions: Too many"},
		"pfp condition status":              {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(testutil.PodCondition(fj, corev1.DisruptionTarget, "Maybe")), "spec.podFailurePolicy.rules[0].onPodConditions[0].status"},
		"pfp condition type":                {testutil.MakeBareBatchJob("x", ns).PodFailurePolicy(testutil.PodCondition(fj, "not a name!", corev1.ConditionTrue)), "spec.podFailurePolicy.rules[0].onPodConditions[0].type"},
		"podReplacementPolicy unknown":      {testutil.MakeBareBatchJob("x", ns).PodReplacementPolicy("Never"), "spec.podReplacementPolicy"},
		"podReplacementPolicy with pfp":     {testutil.MakeBareBatchJob("x", ns).PodReplacementPolicy(bj.TerminatingOrFailed).PodFailurePolicy(testutil.ExitCodes(fj, in, 1)), "spec.podReplacementPolicy"},
		"successPolicy NonIndexed":          {testutil.MakeBareBatchJob("x", ns).Completions(3).SuccessPolicy(testutil.SuccessRule("", 1)), "spec.successPolicy: Invalid value"},
		"successPolicy no rules":            {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(), "spec.successPolicy.rules"},
		"successPolicy 21 rules":            {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(successRules...), "spec.successPolicy.rules: Too many"},
		"successPolicy empty rule":          {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(testutil.SuccessRule("", -1)), "at least one of succeededCount or succeededIndexes"},
		"succeededCount over completions":   {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(testutil.SuccessRule("", 4)), "spec.successPolicy.rules[0].succeededCount: Invalid value: must be less than or equal to spec.completions"},
		"succeededCount negative":           {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(testutil.SuccessRule("", -5)), ""},
		"succeededIndexes format":           {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(3).SuccessPolicy(testutil.SuccessRule("a", -1)), "spec.successPolicy.rules[0].succeededIndexes"},
		"succeededIndexes 3 parts":          {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(9).SuccessPolicy(testutil.SuccessRule("1-2-3", -1)), "spec.successPolicy.rules[0].succeededIndexes"},
		"succeededIndexes X-X":              {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(9).SuccessPolicy(testutil.SuccessRule("3-3", -1)), "error parsing succeededIndexes"},
		"succeededIndexes overlapping":      {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(9).SuccessPolicy(testutil.SuccessRule("1-3,3", -1)), "error parsing succeededIndexes"},
		"succeededIndexes decreasing":       {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(9).SuccessPolicy(testutil.SuccessRule("5,2", -1)), "error parsing succeededIndexes"},
		"succeededIndexes too large":        {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(5).SuccessPolicy(testutil.SuccessRule("1,5", -1)), "error parsing succeededIndexes"},
		"succeededIndexes too long":         {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(5).SuccessPolicy(testutil.SuccessRule("1"+strings.Repeat(",1", 32768), -1)), "spec.successPolicy.rules[0].succeededIndexes: Too long"},
		"succeededCount over indexes":       {testutil.MakeBareBatchJob("x", ns).Indexed().Completions(5).SuccessPolicy(testutil.SuccessRule("0,1", 3)), "number of indexes in the specified succeededIndexes"},
		"managedBy not a path":              {testutil.MakeBareBatchJob("x", ns).ManagedBy("kueue"), "spec.managedBy"},
		"managedBy too long":                {testutil.MakeBareBatchJob("x", ns).ManagedBy("example.com/" + strings.Repeat("a", 60)), "spec.managedBy: Too long"},
		"Indexed hostname not a DNS label":  {testutil.MakeBareBatchJob(strings.Repeat("a", 58), ns).Indexed().Completions(100000), "metadata.name: Invalid value: will not able to create pod with invalid DNS label: " + strings.Repeat("a", 58) + "-99999"},
		"selector without manualSelector":   {withSelector(testutil.MakeBareBatchJob("x", ns).TemplateLabel("app", "x"), map[string]string{"app": "x"}), "spec.selector"},
		"generated uid label set by user":   {testutil.MakeBareBatchJob("x", ns).TemplateLabel(bj.ControllerUIDLabel, "abc"), "spec.template.metadata.labels"},
		"job-name label not the name":       {testutil.MakeBareBatchJob("x", ns).TemplateLabel(bj.LegacyJobNameLabel, "other"), "spec.template.metadata.labels"},
		"manual selector not matching":      {testutil.MakeBareBatchJob("x", ns).ManualSelector(map[string]string{"app": "y"}).TemplateLabel("app", "x"), "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"},
		"manual selector expression":        {withExpr(testutil.MakeBareBatchJob("x", ns).ManualSelector(nil).TemplateLabel("app", "x"), "app", metav1.LabelSelectorOpNotIn, "x"), "`selector` does not match template `labels`"},
	}
	cases["succeededCount negative"] = struct {
		job  *testutil.JobWrapper
		want string
	}{negativeCount(testutil.MakeBareBatchJob("x", ns).Indexed().Completions(3)), "spec.successPolicy.rules[0].succeededCount"}
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

func withMode(w *testutil.JobWrapper, m bj.CompletionMode) *testutil.JobWrapper {
	w.Spec.CompletionMode = &m
	return w
}

func withSelector(w *testutil.JobWrapper, ml map[string]string) *testutil.JobWrapper {
	w.Spec.Selector = &metav1.LabelSelector{MatchLabels: ml}
	return w
}

func withExpr(w *testutil.JobWrapper, key string, op metav1.LabelSelectorOperator, values ...string) *testutil.JobWrapper {
	w.Spec.Selector.MatchExpressions = append(w.Spec.Selector.MatchExpressions, metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values})
	return w
}

func negativeCount(w *testutil.JobWrapper) *testutil.JobWrapper {
	w.Spec.SuccessPolicy = &bj.SuccessPolicy{Rules: []bj.SuccessPolicyRule{{SucceededCount: ptr.To[int32](-1)}}}
	return w
}

func bothMatchers() bj.PodFailurePolicyRule {
	r := testutil.ExitCodes(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, 1)
	r.OnPodConditions = []bj.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	return r
}
