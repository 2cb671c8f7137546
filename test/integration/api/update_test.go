package api

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// update re-reads the BatchJob, applies mutate and writes it back, returning the error.
func update(t *testing.T, job *bj.BatchJob, mutate func(*bj.BatchJob)) error {
	t.Helper()
	if err := k8sClient.Get(ctxT(t), client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
	mutate(job)
	return k8sClient.Update(ctxT(t), job)
}

func updateStatus(t *testing.T, job *bj.BatchJob, mutate func(*bj.BatchJobStatus)) error {
	t.Helper()
	if err := k8sClient.Get(ctxT(t), client.ObjectKeyFromObject(job), job); err != nil {
		t.Fatal(err)
	}
	mutate(&job.Status)
	return k8sClient.Status().Update(ctxT(t), job)
}

// setGeneratedSelector does what the controller does on its first pass.
func setGeneratedSelector(job *bj.BatchJob) {
	uid := string(job.UID)
	job.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{bj.ControllerUIDLabel: uid}}
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	for k, v := range map[string]string{bj.ControllerUIDLabel: uid, bj.LegacyControllerUIDLabel: uid, bj.JobNameLabel: job.Name, bj.LegacyJobNameLabel: job.Name} {
		job.Spec.Template.Labels[k] = v
	}
}

type step struct {
	name   string
	spec   func(*bj.BatchJob)
	status func(*bj.BatchJobStatus)
	want   string
}

func runSteps(t *testing.T, job *bj.BatchJob, steps []step) {
	t.Helper()
	create(t, job)
	for _, s := range steps {
		var err error
		if s.spec != nil {
			err = update(t, job, s.spec)
		} else {
			err = updateStatus(t, job, s.status)
		}
		if t.Failed() {
			return
		}
		t.Run(s.name, func(t *testing.T) { expectError(t, err, s.want) })
	}
}

func image(img string) func(*bj.BatchJob) {
	return func(j *bj.BatchJob) { j.Spec.Template.Spec.Containers[0].Image = img }
}

func TestSpecUpdates(t *testing.T) {
	now := metav1.Now()
	cases := map[string]struct {
		job   *testutil.JobWrapper
		steps []step
	}{
		"running": {testutil.MakeBareBatchJob("u", ns).Completions(4), []step{
			{name: "controller sets the generated selector and labels", spec: setGeneratedSelector},
			{name: "selector is then immutable", spec: func(j *bj.BatchJob) { j.Spec.Selector.MatchLabels["x"] = "y" }, want: "spec.selector: field is immutable"},
			{name: "image is immutable", spec: image("other"), want: "spec.template: field is immutable"},
			{name: "template labels are immutable", spec: func(j *bj.BatchJob) { j.Spec.Template.Labels["x"] = "y" }, want: "spec.template"},
			{name: "suspend", spec: func(j *bj.BatchJob) { j.Spec.Suspend = ptr.To(true) }},
			{name: "resume", spec: func(j *bj.BatchJob) { j.Spec.Suspend = ptr.To(false) }},
			{name: "parallelism is mutable", spec: func(j *bj.BatchJob) { j.Spec.Parallelism = ptr.To[int32](3) }},
			{name: "backoffLimit and deadline are mutable", spec: func(j *bj.BatchJob) {
				j.Spec.BackoffLimit = ptr.To[int32](1)
				j.Spec.ActiveDeadlineSeconds = ptr.To[int64](9)
			}},
			{name: "NonIndexed completions are immutable", spec: func(j *bj.BatchJob) { j.Spec.Completions = ptr.To[int32](5) }, want: "spec.completions: field is immutable"},
			{name: "completionMode is immutable", spec: func(j *bj.BatchJob) { j.Spec.CompletionMode = ptr.To(bj.IndexedCompletion) }, want: "spec.completionMode: field is immutable"},
			{name: "managedBy cannot be set", spec: func(j *bj.BatchJob) { j.Spec.ManagedBy = ptr.To("example.com/other") }, want: "spec.managedBy: field is immutable"},
			{name: "podFailurePolicy is immutable", spec: func(j *bj.BatchJob) {
				j.Spec.PodFailurePolicy = &bj.PodFailurePolicy{Rules: []bj.PodFailurePolicyRule{testutil.ExitCodes(bj.PodFailurePolicyActionFailJob, bj.PodFailurePolicyOnExitCodesOpIn, 1)}}
				j.Spec.PodReplacementPolicy = ptr.To(bj.Failed)
			}, want: "spec.podFailurePolicy: field is immutable"},
		}},
		"selector with more than the generated labels": {testutil.MakeBareBatchJob("u", ns), []step{
			{name: "extra template label", spec: func(j *bj.BatchJob) { setGeneratedSelector(j); j.Spec.Template.Labels["sneaky"] = "x" }, want: "setting spec.selector may only add the generated"},
			{name: "template spec change", spec: func(j *bj.BatchJob) { setGeneratedSelector(j); j.Spec.Template.Spec.Containers[0].Image = "x" }, want: "spec.template: field is immutable"},
			{name: "wrong uid", spec: func(j *bj.BatchJob) {
				setGeneratedSelector(j)
				for _, k := range []string{bj.ControllerUIDLabel, bj.LegacyControllerUIDLabel} {
					j.Spec.Template.Labels[k] = "not-the-uid"
				}
				j.Spec.Selector.MatchLabels[bj.ControllerUIDLabel] = "not-the-uid"
			}, want: "spec.selector"},
			{name: "selector without the labels", spec: func(j *bj.BatchJob) {
				j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{bj.ControllerUIDLabel: string(j.UID)}}
			}, want: "spec.template.metadata.labels[batchjob.dev/controller-uid]"},
			{name: "generated", spec: setGeneratedSelector},
		}},
		"elastic indexed": {testutil.MakeBareBatchJob("u", ns).Indexed().Completions(4).Parallelism(4), []step{
			{name: "completions with parallelism", spec: func(j *bj.BatchJob) { j.Spec.Completions = ptr.To[int32](6); j.Spec.Parallelism = ptr.To[int32](6) }},
			{name: "completions alone", spec: func(j *bj.BatchJob) { j.Spec.Completions = ptr.To[int32](7) }, want: "can only be modified in tandem with spec.parallelism"},
			{name: "completions to nil", spec: func(j *bj.BatchJob) { j.Spec.Completions = nil }, want: "spec.completions"},
			{name: "backoffLimitPerIndex is immutable", spec: func(j *bj.BatchJob) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) }, want: "spec.backoffLimitPerIndex: field is immutable"},
			{name: "successPolicy is immutable", spec: func(j *bj.BatchJob) {
				j.Spec.SuccessPolicy = &bj.SuccessPolicy{Rules: []bj.SuccessPolicyRule{testutil.SuccessRule("", 1)}}
			}, want: "spec.successPolicy: field is immutable"},
		}},
		"managed elsewhere": {testutil.MakeBareBatchJob("u", ns).ManagedBy("kueue.x-k8s.io/multikueue"), []step{
			{name: "managedBy cannot change", spec: func(j *bj.BatchJob) { j.Spec.ManagedBy = ptr.To("example.com/other") }, want: "spec.managedBy: field is immutable"},
			{name: "managedBy cannot be removed", spec: func(j *bj.BatchJob) { j.Spec.ManagedBy = nil }, want: "spec.managedBy: field is immutable"},
		}},
		"suspended, not started": {testutil.MakeBareBatchJob("u", ns).Suspend(true), []step{
			{name: "nodeSelector", spec: func(j *bj.BatchJob) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} }},
			{name: "tolerations and schedulingGates", spec: func(j *bj.BatchJob) {
				j.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
				j.Spec.Template.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/gate"}}
			}},
			{name: "nodeAffinity", spec: func(j *bj.BatchJob) {
				j.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}
			}},
			{name: "container resources", spec: func(j *bj.BatchJob) {
				j.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
			}},
			{name: "template labels and annotations", spec: func(j *bj.BatchJob) {
				j.Spec.Template.Annotations = map[string]string{"a": "b"}
				j.Spec.Template.Labels = map[string]string{"queue": "q"}
			}},
			{name: "image", spec: image("other"), want: "field is immutable: while suspended only"},
			{name: "podAffinity", spec: func(j *bj.BatchJob) {
				j.Spec.Template.Spec.Affinity.PodAffinity = &corev1.PodAffinity{}
				j.Spec.Template.Spec.Affinity.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = []corev1.WeightedPodAffinityTerm{{Weight: 1, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "zone"}}}
			}, want: "field is immutable: while suspended only"},
			{name: "container env", spec: func(j *bj.BatchJob) {
				j.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "b"}}
			}, want: "field is immutable: while suspended only"},
			{name: "resume with a nodeSelector change", spec: func(j *bj.BatchJob) {
				j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "b"}
				j.Spec.Suspend = ptr.To(false)
			}},
			{name: "running: nodeSelector is immutable again", spec: func(j *bj.BatchJob) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "c"} }, want: "spec.template: field is immutable"},
		}},
		"suspended after it started": {testutil.MakeBareBatchJob("u", ns).Suspend(true), []step{
			{name: "controller writes startTime", status: func(s *bj.BatchJobStatus) { s.StartTime = &now }},
			{name: "nodeSelector is immutable", spec: func(j *bj.BatchJob) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} }, want: "spec.template: field is immutable"},
			{name: "controller adds Suspended=True", status: func(s *bj.BatchJobStatus) {
				s.Conditions = append(s.Conditions, bj.JobCondition{Type: bj.JobSuspended, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now})
			}},
			{name: "nodeSelector is mutable with Suspended=True", spec: func(j *bj.BatchJob) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} }},
			{name: "not with active pods", status: func(s *bj.BatchJobStatus) { s.Active = 1 }},
			{name: "nodeSelector is immutable with active pods", spec: func(j *bj.BatchJob) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "b"} }, want: "spec.template: field is immutable"},
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := tc.job.Obj()
			job.Name = uniqueName("update")
			runSteps(t, job, tc.steps)
		})
	}
}
