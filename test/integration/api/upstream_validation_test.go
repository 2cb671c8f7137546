package api

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// Port of upstream TestValidateJobCreate (pkg/apis/batch/validation/validation_test.go).
//
// Not ported, because they cannot apply to a CRD or to fields we do not have:
//   - "do not allow new batch labels" (RequirePrefixedLabels=false): only for Jobs created
//     before the batch.kubernetes.io/ labels existed; BatchJob always had both label sets.
//   - "spec.selector: Required value": the registry generates the selector before validating;
//     a BatchJob gets its generated selector from the controller, so a missing selector on
//     create is valid (every "valid" case below is created without one).
//   - "metadata.uid: Required value": the API server always assigns a custom resource a UID.
//   - the scheduling (alpha WorkloadWithJob) cases: BatchJob has no spec.scheduling.
//
// Translated: "onPodConditions[0].status: Required value" — batch/v1 defaults an empty
// status to True before validation, and so does the CRD schema, so through the API the
// object is accepted with status True (asserted in TestUpstreamSetDefaultJob).
// The label cases upstream checks on the registry's generated selector are checked on the
// controller's first write, which is where a BatchJob's selector is generated.
func TestUpstreamValidateJobCreateValid(t *testing.T) {
	cases := map[string]*testutil.JobWrapper{
		"valid success policy": upstreamJobNever().Indexed().Completions(10).SuccessPolicy(
			testutil.SuccessRule("0,2,4", 1), testutil.SuccessRule("1,3,5-9", -1)),
		"valid pod failure policy with negative exitCodes - need for Windows support": upstreamJobNever().PodFailurePolicy(
			exitRule(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpNotIn, "", -1073741819, -1073741676, -1073741510)),
		"valid pod failure policy": upstreamJobNever().PodFailurePolicy(
			condRule(bj.PodFailurePolicyActionIgnore, pattern(corev1.DisruptionTarget, corev1.ConditionTrue)),
			condRule(bj.PodFailurePolicyActionFailJob, pattern("CustomConditionType", corev1.ConditionFalse)),
			exitRule(bj.PodFailurePolicyActionCount, bj.PodFailurePolicyOnExitCodesOpIn, "ctr", 1, 2, 3),
			exitRule(bj.PodFailurePolicyActionIgnore, bj.PodFailurePolicyOnExitCodesOpIn, "def", 4),
			exitRule(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpNotIn, "", 5, 6, 7)),
		"valid pod failure policy with FailIndex": upstreamJobNever().Indexed().Completions(2).BackoffLimitPerIndex(1).
			ManualSelector(map[string]string{"a": "b"}).TemplateLabel("a", "b").PodFailurePolicy(
			exitRule(bj.PodFailurePolicyActionFailIndex, bj.PodFailurePolicyOnExitCodesOpIn, "", 10)),
		"valid manual selector": func() *testutil.JobWrapper {
			w := manualJob()
			w.Annotations = map[string]string{"foo": "bar"}
			return w
		}(),
		"valid generated selector":          upstreamJob(),
		"valid pod replacement":             upstreamJob().PodReplacementPolicy(bj.TerminatingOrFailed),
		"valid pod replacement with failed": upstreamJob().PodReplacementPolicy(bj.Failed),
		"valid hostnet":                     hostNet(upstreamJob()),
		"valid NonIndexed completion mode":  withMode(upstreamJob(), bj.NonIndexedCompletion),
		"valid Indexed completion mode":     upstreamJob().Indexed().Completions(2).Parallelism(100000),
		"valid parallelism and maxFailedIndexes for high completions when backoffLimitPerIndex is used": upstreamJob().Indexed().
			Completions(100_000).Parallelism(100_000).MaxFailedIndexes(100_000).BackoffLimitPerIndex(1),
		"valid parallelism and maxFailedIndexes for unlimited completions when backoffLimitPerIndex is used": upstreamJob().Indexed().
			Completions(1_000_000_000).Parallelism(10_000).MaxFailedIndexes(10_000).BackoffLimitPerIndex(1),
		"valid job tracking annotation": upstreamJob(),
		"valid batch labels":            upstreamJob(),
		"valid managedBy field":         upstreamJob().ManagedBy("example.com/foo"),
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) { createAccepted(t, w.Obj()) })
	}
}

func hostNet(w *testutil.JobWrapper) *testutil.JobWrapper {
	w.Spec.Template.Spec.HostNetwork = true
	w.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 12345, Protocol: corev1.ProtocolTCP}}
	return w
}

func TestUpstreamValidateJobCreateInvalid(t *testing.T) {
	fj, ign := bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyActionIgnore
	in := bj.PodFailurePolicyOnExitCodesOpIn
	manyValues := make([]int32, 256)
	for i := range manyValues {
		manyValues[i] = int32(i)
	}
	manyRules := make([]bj.PodFailurePolicyRule, 21)
	for i := range manyRules {
		manyRules[i] = exitRule(fj, in, "", int32(i+1))
	}
	manyPatterns := make([]bj.PodFailurePolicyOnPodConditionsPattern, 21)
	for i := range manyPatterns {
		manyPatterns[i] = pattern(corev1.PodConditionType(fmt.Sprintf("CustomType_%d", i)), corev1.ConditionTrue)
	}
	manySuccess := make([]bj.SuccessPolicyRule, 21)
	for i := range manySuccess {
		manySuccess[i] = testutil.SuccessRule("", 5)
	}
	indexed5 := func() *testutil.JobWrapper { return upstreamJobNever().Indexed().Completions(5) }
	// want is upstream's expected field path (the part of its table key before the first
	// ":"), or a message fragment where noted.
	cases := map[string]struct {
		job  *testutil.JobWrapper
		want string
	}{
		"managedBy too long":         {upstreamJob().ManagedBy("example.com/" + strings.Repeat("x", 60)), "spec.managedBy: Too long"},
		"managedBy not a path":       {upstreamJob().ManagedBy("invalid custom controller name"), "spec.managedBy"},
		"successPolicy NonIndexed":   {upstreamJobNever().WithSpec(func(s *bj.BatchJobSpec) { s.SuccessPolicy = &bj.SuccessPolicy{Rules: []bj.SuccessPolicyRule{}} }), "spec.successPolicy"},
		"successPolicy no rules":     {indexed5().WithSpec(func(s *bj.BatchJobSpec) { s.SuccessPolicy = &bj.SuccessPolicy{} }), "spec.successPolicy.rules"},
		"successPolicy empty rule":   {indexed5().SuccessPolicy(testutil.SuccessRule("", -1)), "spec.successPolicy.rules[0]"},
		"succeededIndexes format":    {indexed5().SuccessPolicy(testutil.SuccessRule("invalid-format", -1)), "spec.successPolicy.rules[0].succeededIndexes"},
		"succeededIndexes too long":  {indexed5().SuccessPolicy(testutil.SuccessRule(strings.Repeat("1", 65537), -1)), "spec.successPolicy.rules[0].succeededIndexes: Too long"},
		"succeededCount negative":    {negativeCount(indexed5()), "spec.successPolicy.rules[0].succeededCount"},
		"succeededCount over 5":      {indexed5().SuccessPolicy(testutil.SuccessRule("", 6)), "spec.successPolicy.rules[0].succeededCount"},
		"succeededCount over 0-2":    {indexed5().SuccessPolicy(testutil.SuccessRule("0-2", 4)), "spec.successPolicy.rules[0].succeededCount"},
		"successPolicy 21 rules":     {indexed5().SuccessPolicy(manySuccess...), "spec.successPolicy.rules: Too many"},
		"pfp rule without matcher":   {upstreamJobNever().PodFailurePolicy(bj.PodFailurePolicyRule{Action: fj}), "spec.podFailurePolicy.rules[0]"},
		"pfp duplicate 11":           {upstreamJobNever().PodFailurePolicy(exitRule(fj, in, "", 11, 11)), "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Duplicate value"},
		"pfp 256 values":             {upstreamJobNever().PodFailurePolicy(exitRule(fj, in, "", manyValues...)), "spec.podFailurePolicy.rules[0].onExitCodes.values: Too many"},
		"pfp 21 rules":               {upstreamJobNever().PodFailurePolicy(manyRules...), "spec.podFailurePolicy.rules: Too many"},
		"pfp 21 onPodConditions":     {upstreamJobNever().PodFailurePolicy(condRule(fj, manyPatterns...)), "spec.podFailurePolicy.rules[0].onPodConditions: Too many"},
		"pfp duplicate 13":           {upstreamJobNever().PodFailurePolicy(exitRule(fj, in, "", 12, 13, 13, 13)), "spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value"},
		"pfp values not ordered":     {upstreamJobNever().PodFailurePolicy(exitRule(fj, in, "", 19, 11)), "spec.podFailurePolicy.rules[0].onExitCodes.values"},
		"pfp empty values":           {upstreamJobNever().PodFailurePolicy(exitRule(fj, in, "")), "spec.podFailurePolicy.rules[0].onExitCodes.values"},
		"pfp empty action":           {upstreamJobNever().PodFailurePolicy(exitRule("", in, "", 1, 2, 3)), "spec.podFailurePolicy.rules[0].action"},
		"pfp empty operator":         {upstreamJobNever().PodFailurePolicy(exitRule(fj, "", "", 1, 2, 3)), "spec.podFailurePolicy.rules[0].onExitCodes.operator"},
		"pfp both matchers":          {upstreamJobNever().PodFailurePolicy(bothMatchers()), "spec.podFailurePolicy.rules[0]"},
		"pfp 0 with In":              {upstreamJobNever().PodFailurePolicy(exitRule(ign, in, "", 1, 0, 2)), "spec.podFailurePolicy.rules[0].onExitCodes.values[1]"},
		"pfp unknown containerName":  {upstreamJobNever().PodFailurePolicy(exitRule(ign, in, "ctr", 1, 2, 3), exitRule(fj, in, "xyz", 5, 6, 7)), "spec.podFailurePolicy.rules[1].onExitCodes.containerName"},
		"pfp unknown action":         {upstreamJobNever().PodFailurePolicy(exitRule("UnknownAction", in, "ctr", 1, 2, 3)), "spec.podFailurePolicy.rules[0].action: Unsupported value"},
		"pfp unknown operator":       {upstreamJobNever().PodFailurePolicy(exitRule(ign, "UnknownOperator", "", 1, 2, 3)), "spec.podFailurePolicy.rules[0].onExitCodes.operator: Unsupported value"},
		"pfp unknown status":         {upstreamJobNever().PodFailurePolicy(condRule(ign, pattern(corev1.DisruptionTarget, "UnknownStatus"))), "spec.podFailurePolicy.rules[0].onPodConditions[0].status: Unsupported value"},
		"pfp empty condition type":   {upstreamJobNever().PodFailurePolicy(condRule(ign, pattern("", corev1.ConditionTrue))), "spec.podFailurePolicy.rules[0].onPodConditions[0].type"},
		"pfp invalid condition type": {upstreamJobNever().PodFailurePolicy(condRule(ign, pattern("Invalid Condition Type", corev1.ConditionTrue))), "spec.podFailurePolicy.rules[0].onPodConditions[0].type"},
		"pfp with TerminatingOrFailed": {upstreamJobNever().PodReplacementPolicy(bj.TerminatingOrFailed).PodFailurePolicy(
			condRule(ign, pattern(corev1.DisruptionTarget, corev1.ConditionTrue))), "spec.podReplacementPolicy: Unsupported value"},
		"empty podReplacementPolicy": {upstreamJobNever().PodReplacementPolicy(""), "spec.podReplacementPolicy: Unsupported value"},
		"pfp with OnFailure": {upstreamJob().WithSpec(func(s *bj.BatchJobSpec) {
			s.PodFailurePolicy = &bj.PodFailurePolicy{Rules: []bj.PodFailurePolicyRule{}}
		}), "spec.template.spec.restartPolicy"},
		"negative parallelism":        {upstreamJob().Parallelism(-1), "spec.parallelism"},
		"negative backoffLimit":       {upstreamJob().BackoffLimit(-1), "spec.backoffLimit"},
		"backoffLimitPerIndex NonIdx": {upstreamJob().BackoffLimitPerIndex(1), "spec.backoffLimitPerIndex"},
		"negative per index":          {upstreamJob().Indexed().BackoffLimitPerIndex(-1), "spec.backoffLimitPerIndex"},
		"maxFailedIndexes 11 over 10": {upstreamJob().Indexed().Completions(10).MaxFailedIndexes(11).BackoffLimitPerIndex(1), "spec.maxFailedIndexes"},
		"maxFailedIndexes required":   {upstreamJob().Indexed().Completions(100_001).BackoffLimitPerIndex(1), "spec.maxFailedIndexes: Required value"},
		"parallelism 50000":           {upstreamJob().Indexed().Completions(100_001).Parallelism(50_000).BackoffLimitPerIndex(1).MaxFailedIndexes(1), "spec.parallelism"},
		"maxFailedIndexes 100001":     {upstreamJob().Indexed().Completions(100_001).BackoffLimitPerIndex(1).MaxFailedIndexes(100_001), "spec.maxFailedIndexes"},
		"maxFailedIndexes 50000":      {upstreamJob().Indexed().Completions(100_001).BackoffLimitPerIndex(1).MaxFailedIndexes(50_000), "spec.maxFailedIndexes"},
		"negative maxFailedIndexes":   {upstreamJob().Indexed().BackoffLimitPerIndex(1).MaxFailedIndexes(-1), "spec.maxFailedIndexes"},
		"per index required":          {upstreamJob().Indexed().MaxFailedIndexes(1), "spec.backoffLimitPerIndex: Required value"},
		"negative completions":        {upstreamJob().Completions(-1), "spec.completions"},
		"negative deadline":           {upstreamJob().ActiveDeadlineSeconds(-1), "spec.activeDeadlineSeconds"},
		"selector does not match":     {relabel(manualJob(), map[string]string{"y": "z"}), "spec.template.metadata.labels"},
		"selector does not match uid": {relabel(manualJob(), map[string]string{"controller-uid": "4d5e6f"}), "spec.template.metadata.labels"},
		"restartPolicy required":      {manualJob().RestartPolicy(""), "spec.template.spec.restartPolicy: Required value"},
		"restartPolicy Always":        {manualJob().RestartPolicy(corev1.RestartPolicyAlways), "spec.template.spec.restartPolicy: Required value"},
		"restartPolicy Invalid":       {manualJob().RestartPolicy("Invalid"), "spec.template.spec.restartPolicy"},
		"negative ttl":                {upstreamJob().TTLSecondsAfterFinished(-1), "spec.ttlSecondsAfterFinished"},
		"Indexed without completions": {upstreamJob().Indexed().Parallelism(1), "spec.completions: Required value"},
		"Indexed parallelism 100001":  {upstreamJob().Indexed().Completions(2).Parallelism(100001), "spec.parallelism"},
		"selector not auto-generated": {withSelector(upstreamJob(), map[string]string{"a": "b"}), "spec.selector"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			expectError(t, k8sClient.Create(ctxT(t), tc.job.Obj()), tc.want)
		})
	}
}

func relabel(w *testutil.JobWrapper, labels map[string]string) *testutil.JobWrapper {
	w.Spec.Template.Labels = labels
	return w
}

// The generated-label cases of TestValidateJobCreate: upstream validates the selector its
// registry generated; a BatchJob's is written by the controller's first update.
func TestUpstreamValidateJobCreateGeneratedLabels(t *testing.T) {
	cases := map[string]struct {
		write func(*bj.BatchJob)
		want  string
	}{
		"spec.template.metadata.labels[controller-uid]: Required value": {
			generatedWithout(bj.LegacyControllerUIDLabel), "spec.template.metadata.labels[controller-uid]"},
		"spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Required value": {
			generatedWithout(bj.ControllerUIDLabel), "spec.template.metadata.labels[batchjob.dev/controller-uid]"},
		"spec.template.metadata.labels[job-name]": {
			generatedWithout(bj.LegacyJobNameLabel), "spec.template.metadata.labels[job-name]"},
		"spec.template.metadata.labels[batch.kubernetes.io/job-name]": {
			generatedWithout(bj.JobNameLabel), "spec.template.metadata.labels[batchjob.dev/job-name]"},
		"spec.selector: `selector` not auto-generated": {func(j *bj.BatchJob) {
			setGeneratedSelector(j)
			j.Spec.Selector.MatchLabels = map[string]string{"a": "b"}
		}, "spec.selector"},
		"generated selector": {setGeneratedSelector, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := upstreamJob().Obj()
			create(t, job)
			expectError(t, update(t, job, tc.write), tc.want)
		})
	}
	t.Run("empty onPodConditions status is defaulted to True", func(t *testing.T) {
		job := upstreamJobNever().PodFailurePolicy(condRule(bj.PodFailurePolicyActionIgnore, pattern(corev1.DisruptionTarget, ""))).Obj()
		createAccepted(t, job)
		if got := job.Spec.PodFailurePolicy.Rules[0].OnPodConditions[0].Status; got != corev1.ConditionTrue {
			t.Errorf("status = %q, want True", got)
		}
	})
}
