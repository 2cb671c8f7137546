package api

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// upstreamDefaulted is what TestSetDefaultJob compares.
type upstreamDefaulted struct {
	Completions, Parallelism, BackoffLimit *int32
	CompletionMode                         *bj.CompletionMode
	Suspend, ManualSelector                *bool
	PodReplacementPolicy                   *bj.PodReplacementPolicy
	PodFailurePolicy                       *bj.PodFailurePolicy
	LabelsFromTemplate                     bool
}

func upstreamDefaultedOf(job *bj.BatchJob) upstreamDefaulted {
	s := job.Spec
	return upstreamDefaulted{s.Completions, s.Parallelism, s.BackoffLimit, s.CompletionMode, s.Suspend, s.ManualSelector,
		s.PodReplacementPolicy, s.PodFailurePolicy, cmp.Equal(job.Labels, job.Spec.Template.Labels)}
}

// Port of upstream TestSetDefaultJob (pkg/apis/batch/v1/defaults_test.go): each original is
// created through the API server (CRD defaults + the batchjob-defaults admission policy) and
// also defaulted in memory with SetDefaults; both must give upstream's expected values.
// Upstream's templates carry only labels; here they also get a container and a restart
// policy so that the API server accepts them, and manualSelector: true gets its selector.
func TestUpstreamSetDefaultJob(t *testing.T) {
	i32 := func(n int32) *int32 { return &n }
	nonIndexed, indexed := ptr.To(bj.NonIndexedCompletion), ptr.To(bj.IndexedCompletion)
	tof, failed := ptr.To(bj.TerminatingOrFailed), ptr.To(bj.Failed)
	f, tr := ptr.To(false), ptr.To(true)
	base := func() *testutil.JobWrapper {
		return testutil.MakeBareBatchJob(uniqueName("defaults"), ns).TemplateLabel("default", "default")
	}
	fj := bj.PodFailurePolicyActionFailJob
	pfp := func(unset bool) []bj.PodFailurePolicyRule {
		status := func(s corev1.ConditionStatus) corev1.ConditionStatus {
			if unset {
				return ""
			}
			return s
		}
		return []bj.PodFailurePolicyRule{
			condRule(fj, pattern(corev1.DisruptionTarget, corev1.ConditionTrue), pattern("MemoryLimitExceeded", corev1.ConditionFalse),
				pattern("DiskLimitExceeded", status(corev1.ConditionTrue))),
			exitRule(fj, bj.PodFailurePolicyOnExitCodesOpIn, "", 1),
			condRule(fj, pattern(corev1.DisruptionTarget, status(corev1.ConditionTrue))),
		}
	}
	exitOnly := []bj.PodFailurePolicyRule{exitRule(fj, bj.PodFailurePolicyOnExitCodesOpIn, "", 1)}
	cases := map[string]struct {
		job  *testutil.JobWrapper
		want upstreamDefaulted
	}{
		"Pod failure policy with some field values unspecified -> set default values": {base().PodFailurePolicy(pfp(true)...),
			upstreamDefaulted{i32(1), i32(1), i32(6), nonIndexed, f, f, failed, &bj.PodFailurePolicy{Rules: pfp(false)}, true}},
		"Pod failure policy and defaulting for pod replacement policy": {base().PodFailurePolicy(exitOnly...),
			upstreamDefaulted{i32(1), i32(1), i32(6), nonIndexed, f, f, failed, &bj.PodFailurePolicy{Rules: exitOnly}, true}},
		"All unspecified -> sets all to default values": {base(),
			upstreamDefaulted{i32(1), i32(1), i32(6), nonIndexed, f, f, tof, nil, true}},
		"suspend set, everything else is defaulted": {base().Suspend(true),
			upstreamDefaulted{i32(1), i32(1), i32(6), nonIndexed, tr, f, tof, nil, true}},
		"All unspecified -> all pointers are defaulted and no default labels": {base().Label("mylabel", "myvalue"),
			upstreamDefaulted{i32(1), i32(1), i32(6), nonIndexed, f, f, tof, nil, false}},
		"WQ: Parallelism explicitly 0 and completions unset -> BackoffLimit is defaulted": {base().Parallelism(0),
			upstreamDefaulted{nil, i32(0), i32(6), nonIndexed, f, f, tof, nil, true}},
		"WQ: Parallelism explicitly 2 and completions unset -> BackoffLimit is defaulted": {base().Parallelism(2),
			upstreamDefaulted{nil, i32(2), i32(6), nonIndexed, f, f, tof, nil, true}},
		"Completions explicitly 2 and others unset -> parallelism and BackoffLimit are defaulted": {base().Completions(2),
			upstreamDefaulted{i32(2), i32(1), i32(6), nonIndexed, f, f, tof, nil, true}},
		"BackoffLimit explicitly 5 and others unset -> parallelism and completions are defaulted": {base().BackoffLimit(5),
			upstreamDefaulted{i32(1), i32(1), i32(5), nonIndexed, f, f, tof, nil, true}},
		"All set -> no change": {base().Completions(8).Parallelism(9).BackoffLimit(10).WithSpec(func(s *bj.BatchJobSpec) {
			s.CompletionMode, s.Suspend, s.PodReplacementPolicy, s.ManualSelector = nonIndexed, f, tof, f
		}), upstreamDefaulted{i32(8), i32(9), i32(10), nonIndexed, f, f, tof, nil, true}},
		"All set, flipped -> no change": {base().Completions(11).Parallelism(10).BackoffLimit(9).Indexed().Suspend(true).
			PodReplacementPolicy(bj.Failed).ManualSelector(map[string]string{"default": "default"}),
			upstreamDefaulted{i32(11), i32(10), i32(9), indexed, tr, tr, failed, nil, true}},
		"BackoffLimitPerIndex specified, but no BackoffLimit -> default BackoffLimit to max int32": {
			base().Completions(11).Parallelism(10).BackoffLimitPerIndex(1).Indexed().Suspend(true).WithSpec(func(s *bj.BatchJobSpec) { s.ManualSelector = f }),
			upstreamDefaulted{i32(11), i32(10), i32(math.MaxInt32), indexed, tr, f, tof, nil, true}},
		"BackoffLimitPerIndex and BackoffLimit specified -> no change": {
			base().Completions(11).Parallelism(10).BackoffLimit(3).BackoffLimitPerIndex(1).Indexed().Suspend(true).ManualSelector(map[string]string{"default": "default"}),
			upstreamDefaulted{i32(11), i32(10), i32(3), indexed, tr, tr, tof, nil, true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := tc.job.Obj()
			inMemory := job.DeepCopy()
			bj.SetDefaults(inMemory)
			inMemory.Labels = job.Labels
			if len(inMemory.Labels) == 0 {
				// batch/v1 copies the template labels when the BatchJob has none; the
				// admission policy does that on the server, SetDefaults leaves metadata alone.
				inMemory.Labels = job.Spec.Template.Labels
			}
			if diff := cmp.Diff(tc.want, upstreamDefaultedOf(inMemory)); diff != "" {
				t.Errorf("SetDefaults (-want,+got):\n%s", diff)
			}
			create(t, job)
			got := &bj.BatchJob{}
			if err := k8sClient.Get(ctxT(t), client.ObjectKeyFromObject(job), got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, upstreamDefaultedOf(got)); diff != "" {
				t.Errorf("stored object (-want,+got):\n%s", diff)
			}
		})
	}
}
