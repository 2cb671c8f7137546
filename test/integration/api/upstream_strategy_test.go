package api

import (
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// warnings records the API server's warning headers.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// warnClient writes BatchJobs through a dynamic client that records warnings.
func warnClient(t *testing.T) (dynamic.ResourceInterface, *warnings) {
	t.Helper()
	w := &warnings{}
	c := rest.CopyConfig(cfg)
	c.WarningHandler = w
	dc, err := dynamic.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return dc.Resource(bj.GroupVersion.WithResource("batchjobs")).Namespace(ns), w
}

func toUnstructured(t *testing.T, job *bj.BatchJob) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(job)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(bj.GroupVersion.String())
	u.SetKind("BatchJob")
	return u
}

// Port of upstream TestJobStrategy_WarningsOnUpdate (and the pod template case of
// WarningsOnCreate): warnings come from the batchjob-warnings admission policy, on create and
// on updates that change the spec (upstream: when the generation changes).
func TestUpstreamJobStrategyWarningsOnUpdate(t *testing.T) {
	emptySecret := func(s *bj.BatchJobSpec) {
		s.Template.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: ""}}
	}
	cases := map[string]struct {
		old          *testutil.JobWrapper
		update       func(*bj.BatchJob)
		wantOnCreate int
		want         int
	}{
		"generation 0 for both": {old: manualJob().Parallelism(1), update: func(*bj.BatchJob) {}},
		"generation 1 for new; force WarningsOnUpdate to check PodTemplate for updates": {old: manualJob().Parallelism(1),
			update: func(j *bj.BatchJob) { j.Spec.Parallelism = ptr.To[int32](2) }},
		"force validation failure in pod template": {old: manualJob().Parallelism(1).WithSpec(emptySecret),
			update: func(j *bj.BatchJob) { j.Spec.Parallelism = ptr.To[int32](2) }, wantOnCreate: 1, want: 1},
		"Invalid transition to high parallelism": {old: manualJob().Indexed().Completions(100_001).Parallelism(10_000),
			update: func(j *bj.BatchJob) { j.Spec.Parallelism = ptr.To[int32](10_001) }, want: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rc, w := warnClient(t)
			u, err := rc.Create(ctxT(t), toUnstructured(t, tc.old.Obj()), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := w.take(); len(got) != tc.wantOnCreate {
				t.Errorf("warnings on create = %q, want %d", got, tc.wantOnCreate)
			}
			job := &bj.BatchJob{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, job); err != nil {
				t.Fatal(err)
			}
			tc.update(job)
			if _, err := rc.Update(ctxT(t), toUnstructured(t, job), metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := w.take(); len(got) != tc.want {
				t.Errorf("warnings on update = %q, want %d", got, tc.want)
			}
		})
	}
}

// Port of upstream TestJobStrategy_PrepareForUpdate and TestStatusStrategy_PrepareForUpdate:
// the main resource ignores status, the status subresource ignores spec, and only spec
// changes bump the generation. Not ported: the cases about fields dropped while their
// feature gate is off (BatchJob has no gates) and the spec.scheduling cases.
func TestUpstreamPrepareForUpdate(t *testing.T) {
	cases := map[string]struct {
		old            *testutil.JobWrapper
		spec           func(*bj.BatchJob)
		status         func(*bj.BatchJobStatus)
		wantGeneration int64
		check          func(t *testing.T, got *bj.BatchJob)
	}{
		"attempt status update and verify it doesn't change": {old: manualJob(), wantGeneration: 1,
			spec: func(j *bj.BatchJob) { j.Status.Active = 1 },
			check: func(t *testing.T, got *bj.BatchJob) {
				if got.Status.Active != 0 {
					t.Errorf("status.active = %d, want 0", got.Status.Active)
				}
			}},
		"ensure generation doesn't change over non spec updates": {old: manualJob(), wantGeneration: 1,
			spec: func(j *bj.BatchJob) { j.Annotations = map[string]string{"hello": "world"} }},
		"test updating suspend false->true": {old: manualJob().Suspend(false), wantGeneration: 2,
			spec: func(j *bj.BatchJob) { j.Spec.Suspend = ptr.To(true) }},
		"test updating suspend nil -> true": {old: manualJob(), wantGeneration: 2,
			spec: func(j *bj.BatchJob) { j.Spec.Suspend = ptr.To(true) }},
		"update job with a new field and successPolicy": {old: manualJob().Indexed().Completions(3), wantGeneration: 1,
			spec: func(j *bj.BatchJob) { j.Spec.Parallelism = ptr.To[int32](1) }},
		"status: job must allow status updates": {old: manualJob(), wantGeneration: 1,
			status: func(s *bj.BatchJobStatus) { s.Active = 1 },
			check: func(t *testing.T, got *bj.BatchJob) {
				if got.Status.Active != 1 {
					t.Errorf("status.active = %d, want 1", got.Status.Active)
				}
			}},
		"status: parallelism changes not allowed": {old: manualJob().Parallelism(3), wantGeneration: 1,
			status: func(s *bj.BatchJobStatus) { s.Active = 1 },
			check: func(t *testing.T, got *bj.BatchJob) {
				if *got.Spec.Parallelism != 3 {
					t.Errorf("spec.parallelism = %d, want 3", *got.Spec.Parallelism)
				}
			}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := create(t, tc.old.Obj())
			var err error
			if tc.spec != nil {
				err = update(t, job, tc.spec)
			} else {
				err = updateStatus(t, job, func(s *bj.BatchJobStatus) {
					tc.status(s)
					job.Spec.Parallelism = ptr.To[int32](4) // ignored by the status subresource
				})
			}
			if err != nil {
				t.Fatal(err)
			}
			got := &bj.BatchJob{}
			if err := k8sClient.Get(ctxT(t), client.ObjectKeyFromObject(job), got); err != nil {
				t.Fatal(err)
			}
			if got.Generation != tc.wantGeneration {
				t.Errorf("generation = %d, want %d", got.Generation, tc.wantGeneration)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}
