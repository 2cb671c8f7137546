package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// jobSpec is one job of the workload and what it must end as.
type jobSpec struct {
	kind       string
	wantType   v1alpha1.JobConditionType // Complete or Failed
	wantReason string                    // "" = any
	// allFailedIndexes: a Failed Indexed job whose every index must be in failedIndexes.
	allFailedIndexes bool
	deletable        bool // the pod deleter may delete its running pods
	steered          bool // the driver changes its parallelism/suspend and tells the checker
	ttl              bool // must be deleted by its TTL once finished
	ignoreExitCodes  []int32
	build            func(*v1alpha1.BatchJob)
	steer            func(ctx context.Context, d *driver, name string)
}

// kindNames lists the job kinds of one workload cycle, in submission order.
var kindNames = []string{
	"nonindexed", "indexed", "suspend", "elastic", "perindex-ok", "perindex-fail",
	"backoff", "pfp-failjob", "pfp-ignore", "pfp-failindex", "deadline", "ttl",
}

// kinds returns the job kinds; size is the completions of the two big kinds.
func kinds(size int, cycle int) map[string]*jobSpec {
	big := int32(size)
	return map[string]*jobSpec{
		"nonindexed": {wantType: v1alpha1.JobComplete, deletable: true, build: func(b *v1alpha1.BatchJob) {
			shape(b, big, 8, "1s", 0)
			b.Spec.BackoffLimit = ptr.To[int32](1000)
		}},
		"indexed": {wantType: v1alpha1.JobComplete, deletable: true, build: func(b *v1alpha1.BatchJob) {
			shape(b, big, 8, "1s", 0)
			indexed(b)
			b.Spec.BackoffLimit = ptr.To[int32](1000)
		}},
		"suspend": {wantType: v1alpha1.JobComplete, deletable: true, steered: true, build: func(b *v1alpha1.BatchJob) {
			shape(b, big/2+5, 6, "2s", 0)
			if cycle%2 == 1 {
				indexed(b)
			}
			b.Spec.BackoffLimit = ptr.To[int32](1000)
		}, steer: steerSuspend},
		// Elastic Indexed: completions and parallelism change together, up and then down.
		"elastic": {wantType: v1alpha1.JobComplete, steered: true, build: func(b *v1alpha1.BatchJob) {
			shape(b, 6, 6, "4s", 0)
			indexed(b)
		}, steer: steerElastic},
		"perindex-ok": {wantType: v1alpha1.JobComplete, build: func(b *v1alpha1.BatchJob) {
			shape(b, 20, 5, "1s", 0)
			indexed(b)
			b.Spec.BackoffLimitPerIndex = ptr.To[int32](2)
		}},
		"perindex-fail": {wantType: v1alpha1.JobFailed, allFailedIndexes: cycle%2 == 0, build: func(b *v1alpha1.BatchJob) {
			shape(b, 6, 3, "1s", 1)
			indexed(b)
			b.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
			if cycle%2 == 1 {
				b.Spec.MaxFailedIndexes = ptr.To[int32](1)
			}
		}},
		"backoff": {wantType: v1alpha1.JobFailed, wantReason: v1alpha1.ReasonBackoffLimitExceeded, build: func(b *v1alpha1.BatchJob) {
			// Four pods fail together: one more than the limit, no backoff wait.
			shape(b, 4, 4, "1s", 1)
			b.Spec.BackoffLimit = ptr.To[int32](3)
		}},
		"pfp-failjob": {wantType: v1alpha1.JobFailed, wantReason: v1alpha1.ReasonPodFailurePolicy, build: func(b *v1alpha1.BatchJob) {
			shape(b, 5, 3, "1s", 3)
			b.Spec.PodFailurePolicy = policy(
				rule(v1alpha1.PodFailurePolicyActionIgnore, 42),
				rule(v1alpha1.PodFailurePolicyActionFailJob, 3))
		}},
		// Every failure is ignored, so only the deadline ends it; the pods it kills count.
		"pfp-ignore": {wantType: v1alpha1.JobFailed, wantReason: v1alpha1.ReasonDeadlineExceeded, deletable: true, ignoreExitCodes: []int32{42}, build: func(b *v1alpha1.BatchJob) {
			shape(b, 10, 2, "1s", 42)
			b.Spec.BackoffLimit = ptr.To[int32](1000)
			b.Spec.ActiveDeadlineSeconds = ptr.To[int64](20)
			b.Spec.PodFailurePolicy = policy(
				rule(v1alpha1.PodFailurePolicyActionIgnore, 42),
				rule(v1alpha1.PodFailurePolicyActionCount, 1))
		}},
		"pfp-failindex": {wantType: v1alpha1.JobFailed, wantReason: v1alpha1.ReasonFailedIndexes, allFailedIndexes: true, build: func(b *v1alpha1.BatchJob) {
			shape(b, 4, 4, "1s", 5)
			indexed(b)
			b.Spec.BackoffLimitPerIndex = ptr.To[int32](3)
			b.Spec.PodFailurePolicy = policy(rule(v1alpha1.PodFailurePolicyActionFailIndex, 5))
		}},
		"deadline": {wantType: v1alpha1.JobFailed, wantReason: v1alpha1.ReasonDeadlineExceeded, deletable: true, build: func(b *v1alpha1.BatchJob) {
			shape(b, 10, 3, "1h", 0)
			b.Spec.BackoffLimit = ptr.To[int32](1000)
			b.Spec.ActiveDeadlineSeconds = ptr.To[int64](15)
		}},
		"ttl": {wantType: v1alpha1.JobComplete, deletable: true, ttl: true, build: func(b *v1alpha1.BatchJob) {
			shape(b, 5, 5, "1s", 0)
			b.Spec.BackoffLimit = ptr.To[int32](1000)
			b.Spec.TTLSecondsAfterFinished = ptr.To[int32](5)
		}},
		// One-pod jobs created at each leader kill, so the new leader has work at once.
		"probe": {wantType: v1alpha1.JobComplete, build: func(b *v1alpha1.BatchJob) {
			shape(b, 1, 1, "1s", 0)
		}},
	}
}

func shape(b *v1alpha1.BatchJob, completions, parallelism int32, duration string, exitCode int) {
	b.Spec.Completions = ptr.To(completions)
	b.Spec.Parallelism = ptr.To(parallelism)
	ann := map[string]string{"batchjob.dev/simulate-duration": duration}
	if exitCode != 0 {
		ann["batchjob.dev/simulate-exit-code"] = fmt.Sprint(exitCode)
	}
	b.Spec.Template = corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: ann},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "main", Image: "busybox:1.36"}},
			// Pods end at once when deleted (the simulated kubelet ignores it anyway).
			TerminationGracePeriodSeconds: ptr.To[int64](0),
		},
	}
}

func indexed(b *v1alpha1.BatchJob) {
	b.Spec.CompletionMode = ptr.To(v1alpha1.IndexedCompletion)
}

func policy(rules ...v1alpha1.PodFailurePolicyRule) *v1alpha1.PodFailurePolicy {
	return &v1alpha1.PodFailurePolicy{Rules: rules}
}

func rule(action v1alpha1.PodFailurePolicyAction, code int32) v1alpha1.PodFailurePolicyRule {
	return v1alpha1.PodFailurePolicyRule{Action: action, OnExitCodes: &v1alpha1.PodFailurePolicyOnExitCodesRequirement{
		Operator: v1alpha1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{code},
	}}
}

// submit creates the job kind as name, retrying through API outages, and registers it
// with the checker.
func (d *driver) submit(ctx context.Context, name string, spec *jobSpec) error {
	spec.kind = kindOf(name)
	b := &v1alpha1.BatchJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
		Labels: map[string]string{"chaos.batchjob.dev/kind": spec.kind}}}
	spec.build(b)
	var uid types.UID
	err := retry(ctx, time.Minute, func(ctx context.Context) error {
		obj := b.DeepCopy()
		err := d.c.Create(ctx, obj)
		if apierrors.IsAlreadyExists(err) {
			err = d.c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		}
		uid = obj.UID
		return err
	})
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	d.ck.register(uid, name, spec, *b.Spec.Parallelism)
	d.mu.Lock()
	d.report.Jobs++
	d.mu.Unlock()
	if spec.steer != nil {
		d.wg.Go(func() { spec.steer(ctx, d, name) })
	}
	return nil
}

// kindOf returns the kind of a job name: "c<cycle>-<kind>" or "probe-<n>".
func kindOf(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] == '-' {
			if name[:i] == "probe" {
				return "probe"
			}
			return name[i+1:]
		}
	}
	return name
}

// retry runs f until it succeeds, ctx ends or timeout passes, pausing between attempts.
func retry(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		callCtx, callCancel := context.WithTimeout(ctx, 15*time.Second)
		err := f(callCtx)
		callCancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// patchSpec merge-patches the job's spec through API outages. A rejected patch (the job
// finished first) is returned at once.
func (d *driver) patchSpec(ctx context.Context, name, spec string) error {
	b := &v1alpha1.BatchJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":`+spec+`}`))
	var rejected error
	err := retry(ctx, time.Minute, func(ctx context.Context) error {
		err := d.c.Patch(ctx, b, patch)
		if apierrors.IsInvalid(err) || apierrors.IsNotFound(err) {
			rejected = err
			return nil
		}
		return err
	})
	if err == nil {
		err = rejected
	}
	d.tl.add("patch %s spec %s: %v", name, spec, err)
	return err
}

func (d *driver) sleep(ctx context.Context, dur time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(dur):
		return true
	}
}

func finished(b *v1alpha1.BatchJob) bool {
	if b == nil {
		return false
	}
	for _, c := range b.Status.Conditions {
		if finishing(c.Type) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// steerSuspend suspends the job once it has made some progress and resumes it later.
func steerSuspend(ctx context.Context, d *driver, name string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b := d.ck.jobState(name); b != nil && (b.Status.Succeeded >= 3 || finished(b)) {
			break
		}
		if !d.sleep(ctx, 300*time.Millisecond) {
			return
		}
	}
	if finished(d.ck.jobState(name)) {
		d.count(func(r *Report) { r.SteerSkipped++ })
		return
	}
	if d.patchSpec(ctx, name, `{"suspend":true}`) != nil {
		d.count(func(r *Report) { r.SteerSkipped++ })
		return
	}
	d.ck.lower(name, 0)
	d.count(func(r *Report) { r.Suspends++ })
	if !d.sleep(ctx, time.Duration(3+rand.IntN(4))*time.Second) {
		return
	}
	d.ck.raise(name, 6)
	if d.patchSpec(ctx, name, `{"suspend":false}`) == nil {
		d.count(func(r *Report) { r.Resumes++ })
	}
}

// steerElastic scales an elastic Indexed job from 6 to 12 while its first pods run, then
// down to 4 (completions and parallelism together, as elastic Indexed jobs require).
func steerElastic(ctx context.Context, d *driver, name string) {
	if !d.sleep(ctx, 2*time.Second) {
		return
	}
	d.ck.raise(name, 12)
	if d.patchSpec(ctx, name, `{"completions":12,"parallelism":12}`) != nil {
		d.ck.lower(name, 6)
		d.count(func(r *Report) { r.SteerSkipped++ })
		return
	}
	d.count(func(r *Report) { r.ScaleUps++ })
	if !d.sleep(ctx, 3*time.Second) {
		return
	}
	if d.patchSpec(ctx, name, `{"completions":4,"parallelism":4}`) != nil {
		d.count(func(r *Report) { r.SteerSkipped++ })
		return
	}
	d.ck.lower(name, 4)
	d.count(func(r *Report) { r.ScaleDowns++ })
}

// submitter creates workload cycles, keeping at most maxInFlight jobs unfinished, until
// stop is closed and at least minPods pods exist.
func (d *driver) submitter(ctx context.Context, stop <-chan struct{}) error {
	for cycle := 0; ; cycle++ {
		specs := kinds(d.cfg.Size, cycle)
		for _, k := range kindNames {
			for {
				pods, unfinished := d.ck.counts()
				select {
				case <-stop:
					if pods >= d.cfg.MinPods {
						return nil
					}
				default:
				}
				if unfinished < d.cfg.MaxJobsInFlight {
					break
				}
				if !d.sleep(ctx, 200*time.Millisecond) {
					return ctx.Err()
				}
			}
			if err := d.submit(ctx, fmt.Sprintf("c%d-%s", cycle, k), specs[k]); err != nil {
				return err
			}
		}
	}
}

// deleter deletes a random running pod every interval (jittered) until stop is closed.
func (d *driver) deleter(ctx context.Context, stop <-chan struct{}) {
	for {
		wait := d.cfg.DeleteEvery/2 + rand.N(d.cfg.DeleteEvery)
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		uid, name, ok := d.ck.pickRunning(rand.IntN)
		if !ok {
			continue
		}
		d.ck.markHandDeleted(uid)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := d.c.Delete(callCtx, pod, client.Preconditions{UID: &uid})
		cancel()
		if err == nil {
			d.count(func(r *Report) { r.PodsDeletedByHand++ })
		}
	}
}

// count updates the report under the driver's lock.
func (d *driver) count(f func(*Report)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d.report)
}
