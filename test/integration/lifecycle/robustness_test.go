package lifecycle

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// The documented "specifying your own pod selector" flow: a BatchJob is deleted with
// --cascade=orphan (its pods stay, without owner or tracking finalizer) and a new one
// with manualSelector selects them by the old controller-uid. Upstream adopts the orphans
// and creates only what is missing, with the template's labels; new pods must match the
// selector, or they would be released and re-created without end.
func TestManualSelectorAdoptsPredecessorsOrphans(t *testing.T) {
	ns := env.NewNamespace(t, "rb-manual")
	startController(t, ns)
	const oldUID = "0d7cbd5e-predecessor"
	labels := map[string]string{v1alpha1.ControllerUIDLabel: oldUID, v1alpha1.JobNameLabel: "old"}
	for i := range 2 {
		p := newPod(ns, fmt.Sprintf("orphan-%d", i), labels, nil)
		p.Spec.NodeName = "node-a"
		createPod(t, p)
	}
	b := testutil.MakeBatchJob("new", ns).Completions(3).Parallelism(3)
	b.Spec.ManualSelector = ptr.To(true)
	b.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{v1alpha1.ControllerUIDLabel: oldUID}}
	b.Spec.Template.Labels = map[string]string{v1alpha1.ControllerUIDLabel: oldUID, v1alpha1.JobNameLabel: "old"}
	job := env.CreateJob(t, b.Obj())

	owned := func() []corev1.Pod {
		var list corev1.PodList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatalf("Listing pods: %v", err)
		}
		return framework.FilterPods(list.Items, func(p *corev1.Pod) bool {
			ref := metav1.GetControllerOf(p)
			return ref != nil && ref.UID == job.UID
		})
	}
	framework.Eventually(t, "3 pods owned by the new job", func() (bool, string) {
		n := len(owned())
		return n == 3, fmt.Sprintf("%d owned", n)
	})
	framework.Consistently(t, framework.ControllerLatency*3, "no more pods", func() (bool, string) {
		var list corev1.PodList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 3 && len(owned()) == 3, fmt.Sprintf("%d pods, %d owned", len(list.Items), len(owned()))
	})
	for _, p := range owned() {
		if p.Labels[v1alpha1.ControllerUIDLabel] != oldUID || !jobpod.HasFinalizer(&p) {
			t.Errorf("pod %s: labels %v finalizers %v; want the template's controller-uid %s and the tracking finalizer",
				p.Name, p.Labels, p.Finalizers, oldUID)
		}
	}
	for _, p := range owned() {
		env.SetPodPhase(t, &p, corev1.PodSucceeded, 0)
	}
	env.WaitForCondition(t, job, v1alpha1.JobComplete, "CompletionsReached")
	if got := env.GetJob(t, job); got.Status.Succeeded != 3 {
		t.Errorf("succeeded = %d, want 3", got.Status.Succeeded)
	}
}

// delayPodPatches slows down every PATCH of a pod (the tracking finalizer removals) so
// that a terminal condition written before them would be seen while pods still hold
// the finalizer.
func delayPodPatches(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodPatch && strings.Contains(req.URL.Path, "/pods/") {
				time.Sleep(300 * time.Millisecond)
			}
			return rt.RoundTrip(req)
		})
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// Upstream's contract, checked by its integration tests right after the terminal condition
// is seen: once a job is Complete or Failed, none of its pods keeps the tracking finalizer.
// An Indexed job whose last indexes succeed together records them and releases their
// finalizers in one pass; Complete must wait for the pass that sees them gone.
func TestTerminalConditionAfterLastFinalizer(t *testing.T) {
	cases := map[string]struct {
		build func(ns string) *v1alpha1.BatchJob
		phase corev1.PodPhase
		cond  v1alpha1.JobConditionType
	}{
		"indexed, last indexes together": {
			build: func(ns string) *v1alpha1.BatchJob {
				return testutil.MakeBatchJob("ix", ns).Indexed().Completions(3).Parallelism(3).Obj()
			},
			phase: corev1.PodSucceeded, cond: v1alpha1.JobComplete,
		},
		"indexed, failed with backoffLimit 0": {
			build: func(ns string) *v1alpha1.BatchJob {
				return testutil.MakeBatchJob("ixf", ns).Indexed().Completions(3).Parallelism(3).BackoffLimit(0).Obj()
			},
			phase: corev1.PodFailed, cond: v1alpha1.JobFailed,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ns := env.NewNamespace(t, "rb-terminal")
			env.StartTestController(t, framework.ControllerOptions{Namespaces: []string{ns},
				PodFailureBackoff: framework.FastPodFailureBackoff, WrapConfig: delayPodPatches})
			job := env.CreateJob(t, tc.build(ns))
			pods := env.WaitForActivePods(t, job, 3)
			exit := int32(0)
			if tc.phase == corev1.PodFailed {
				exit = 1
			}
			for i := range pods {
				env.WritePodStatus(t, &pods[i], framework.PodStatus(tc.phase, exit, 0))
			}
			deadline := time.Now().Add(time.Minute)
			for time.Now().Before(deadline) {
				got := &v1alpha1.BatchJob{}
				if err := env.Client.Get(ctx, client.ObjectKeyFromObject(job), got); err != nil {
					t.Fatalf("Getting job: %v", err)
				}
				if framework.HasCondition(got, tc.cond, "") {
					var list corev1.PodList
					if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
						t.Fatalf("Listing pods: %v", err)
					}
					for _, p := range list.Items {
						if jobpod.HasFinalizer(&p) {
							t.Fatalf("job is %s while pod %s still holds the tracking finalizer", tc.cond, p.Name)
						}
					}
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Fatalf("job did not reach %s", tc.cond)
		})
	}
}

// Upstream's TTL-after-finished controller deletes any finished Job with a TTL, whoever
// manages it: a BatchJob handed to another controller is cleaned up too.
func TestTTLOfJobManagedByAnotherController(t *testing.T) {
	ns := env.NewNamespace(t, "rb-ttl-managed")
	startController(t, ns)
	job := env.CreateJob(t, testutil.MakeBatchJob("ext", ns).ManagedBy("example.com/other").TTLSecondsAfterFinished(1).Obj())
	now := metav1.Now()
	job = env.GetJob(t, job)
	job.Status.StartTime = &now
	job.Status.CompletionTime = &now
	job.Status.Succeeded = 1
	job.Status.Conditions = []v1alpha1.JobCondition{
		{Type: v1alpha1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: now, LastProbeTime: now},
		{Type: v1alpha1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastTransitionTime: now, LastProbeTime: now},
	}
	if err := env.Client.Status().Update(ctx, job); err != nil {
		t.Fatalf("Writing the other controller's status: %v", err)
	}
	waitForegroundDeletion(t, job, 15*time.Second)
}
