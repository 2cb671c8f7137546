package podbuilder

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

var indexEnv = corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{
	FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['batchjob.dev/job-completion-index']"},
}}

func owner() []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: "batchjob.dev/v1alpha1", Kind: "BatchJob", Name: "pi", UID: "pi-uid",
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
}

func TestBuild(t *testing.T) {
	jobLabels := map[string]string{"app": "pi", "batchjob.dev/job-name": "pi", "job-name": "pi",
		"batchjob.dev/controller-uid": "pi-uid", "controller-uid": "pi-uid"}
	withIndexLabel := func(ix string) map[string]string {
		l := map[string]string{"batchjob.dev/job-completion-index": ix}
		for k, v := range jobLabels {
			l[k] = v
		}
		return l
	}
	cases := map[string]struct {
		job    *v1alpha1.BatchJob
		ix     int
		counts *FailureCounts
		want   *corev1.Pod
	}{
		"non-indexed": {
			job: testutil.MakeBatchJob("pi", "ns").Obj(), ix: NoIndex,
			want: testutil.MakeBarePod("", "ns").WithGenerateName("pi-").WithLabels(jobLabels).
				Finalizer("batchjob.dev/job-tracking").Owners(owner()...).Obj(),
		},
		"indexed with init container and existing env": {
			job: func() *v1alpha1.BatchJob {
				j := testutil.MakeBatchJob("pi", "ns").Indexed().Obj()
				j.Spec.Template.Spec.Hostname = "ignored"
				j.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init"}}
				j.Spec.Template.Spec.Containers = append(j.Spec.Template.Spec.Containers,
					corev1.Container{Name: "own", Env: []corev1.EnvVar{{Name: "JOB_COMPLETION_INDEX", Value: "x"}}})
				j.Spec.Template.Finalizers = []string{"batchjob.dev/job-tracking"}
				return j
			}(),
			ix: 3,
			want: testutil.MakeEmptyPod("", "ns").WithGenerateName("pi-3-").WithLabels(withIndexLabel("3")).
				Annotation("batchjob.dev/job-completion-index", "3").
				Finalizer("batchjob.dev/job-tracking").Owners(owner()...).
				PodSpec(&corev1.PodSpec{
					RestartPolicy:  corev1.RestartPolicyNever,
					Hostname:       "pi-3",
					InitContainers: []corev1.Container{{Name: "init", Env: []corev1.EnvVar{indexEnv}}},
					Containers: []corev1.Container{
						{Name: "main", Image: "busybox", Env: []corev1.EnvVar{indexEnv}},
						{Name: "own", Env: []corev1.EnvVar{{Name: "JOB_COMPLETION_INDEX", Value: "x"}}},
					},
				}).Obj(),
		},
		"per-index failure counts": {
			job: testutil.MakeBatchJob("pi", "ns").Indexed().BackoffLimitPerIndex(2).Obj(), ix: 0,
			counts: &FailureCounts{Counted: 1, Ignored: 2},
			want: testutil.MakeEmptyPod("", "ns").WithGenerateName("pi-0-").WithLabels(withIndexLabel("0")).
				Annotation("batchjob.dev/job-completion-index", "0").
				Annotation("batchjob.dev/job-index-failure-count", "1").
				Annotation("batchjob.dev/job-index-ignored-failure-count", "2").
				Finalizer("batchjob.dev/job-tracking").Owners(owner()...).
				PodSpec(&corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Hostname: "pi-0",
					Containers: []corev1.Container{{Name: "main", Image: "busybox", Env: []corev1.EnvVar{indexEnv}}}}).Obj(),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := tc.job.DeepCopy()
			got := Build(tc.job, tc.ix, tc.counts)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Build (-want,+got):\n%s", diff)
			}
			if diff := cmp.Diff(before, tc.job); diff != "" {
				t.Errorf("Build mutated the job (-want,+got):\n%s", diff)
			}
		})
	}
}

func TestGenerateName(t *testing.T) {
	long := strings.Repeat("a", 60)
	cases := map[string]struct {
		name string
		ix   int
		want string
	}{
		"non-indexed":            {name: "pi", ix: NoIndex, want: "pi-"},
		"indexed":                {name: "pi", ix: 12, want: "pi-12-"},
		"indexed truncated":      {name: long, ix: 7, want: strings.Repeat("a", 55) + "-7-"},
		"indexed exactly fits":   {name: strings.Repeat("b", 55), ix: 1, want: strings.Repeat("b", 55) + "-1-"},
		"non-indexed long kept":  {name: long, ix: NoIndex, want: long + "-"},
		"non-indexed bad prefix": {name: "Pi", ix: NoIndex, want: "Pi"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := generateName(tc.name, tc.ix); got != tc.want {
				t.Errorf("generateName = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBuildKeepsTemplateLabels: with manualSelector the template may pin a predecessor's
// UID (to adopt its orphans); pods carry it as it is, and the job's labels only fill in
// what the template lacks.
func TestBuildKeepsTemplateLabels(t *testing.T) {
	job := testutil.MakeBatchJob("pi", "ns").ManualSelector(map[string]string{v1alpha1.ControllerUIDLabel: "old-uid"}).
		TemplateLabel(v1alpha1.ControllerUIDLabel, "old-uid").TemplateLabel(v1alpha1.LegacyJobNameLabel, "custom").Obj()
	got := Build(job, NoIndex, nil).Labels
	want := map[string]string{
		"app":                             "pi",
		v1alpha1.ControllerUIDLabel:       "old-uid",
		v1alpha1.LegacyJobNameLabel:       "custom",
		v1alpha1.JobNameLabel:             "pi",
		v1alpha1.LegacyControllerUIDLabel: "pi-uid",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels (-want,+got):\n%s", diff)
	}
}
