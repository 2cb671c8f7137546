package plan

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/jobpod"
)

// FuzzPlan runs two passes over a random job and random pods, claiming the pods (adoption
// and release) and applying the first plan the way the controller and the cluster would,
// some creations failing, and checks the invariants of the claim and of the finalizer
// protocol (internal/plan/doc.go): nothing panics, creations never exceed parallelism, no
// UID is in both uncounted lists, no pod is counted twice, counters only grow by what left
// the uncounted lists, a failed creation lowers active by exactly itself.
func FuzzPlan(f *testing.F) {
	for seed := int64(0); seed < 16; seed++ {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed int64) {
		r := rand.New(rand.NewSource(seed))
		j := randomJob(r)
		orphans, strayed := randomStrangers(r, j)
		ps := claim(t, j, randomPods(r, j), orphans, strayed)
		in := Input{Job: j, Pods: ps, Now: now, ExpectationsSatisfied: r.Intn(4) != 0}
		res := Plan(in)
		checkPass(t, in, res)
		res = failSomeCreations(t, r, j, res)
		j2, ps2 := apply(j, ps, res)
		first := res.Status.UncountedTerminatedPods
		if rel := res.AfterRelease; rel != nil {
			checkAfterRelease(t, in, res)
			if r.Intn(2) == 0 { // the controller made the write after the releases
				j2.Status = *rel.Status.DeepCopy()
				first = rel.Status.UncountedTerminatedPods
			}
		}
		in2 := Input{Job: j2, Pods: ps2, Now: now.Add(time.Second), ExpectationsSatisfied: true, Backoff: res.Backoff}
		res2 := Plan(in2)
		checkPass(t, in2, res2)
		if !j.Status.IsFinished() && !res.TTLExpired {
			checkNoRecount(t, first, j.Status.UncountedTerminatedPods, res2.Status.UncountedTerminatedPods)
			if res2.Status.Succeeded < res.Status.Succeeded || res2.Status.Failed < res.Status.Failed {
				t.Errorf("counters decreased: %d/%d then %d/%d", res.Status.Succeeded, res.Status.Failed, res2.Status.Succeeded, res2.Status.Failed)
			}
		}
	})
}

func checkPass(t *testing.T, in Input, res Result) {
	t.Helper()
	job := in.Job.DeepCopy()
	v1alpha1.SetDefaults(job)
	if !job.IsManagedByThisController() || job.Status.IsFinished() {
		if len(res.Create)+len(res.Delete) > 0 || res.StatusChanged {
			t.Fatalf("finished or foreign job got work: %+v", res)
		}
		return
	}
	active := 0
	for _, p := range in.Pods {
		if jobpod.IsActive(p) {
			active++
		}
	}
	if len(res.Create) > 0 {
		if len(res.Delete) > 0 {
			t.Errorf("created and deleted in one pass")
		}
		if active+len(res.Create) > int(*job.Spec.Parallelism) {
			t.Errorf("active %d + created %d > parallelism %d", active, len(res.Create), *job.Spec.Parallelism)
		}
		if !in.ExpectationsSatisfied || job.DeletionTimestamp != nil || *job.Spec.Suspend {
			t.Errorf("created pods while expectations unsatisfied, deleting or suspended")
		}
	}
	u := res.Status.UncountedTerminatedPods
	if u == nil {
		t.Fatalf("uncountedTerminatedPods nil after a pass")
	}
	if both := sets.New(u.Succeeded...).Intersection(sets.New(u.Failed...)); both.Len() > 0 {
		t.Errorf("UIDs in both uncounted lists: %v", sets.List(both))
	}
	if len(sets.New(u.Succeeded...)) != len(u.Succeeded) || len(sets.New(u.Failed...)) != len(u.Failed) {
		t.Errorf("duplicate UIDs in uncounted lists: %+v", u)
	}
	checkCounters(t, job, res)
	if res.Status.Ready == nil || res.Status.Terminating == nil || *res.Status.Ready > res.Status.Active {
		t.Errorf("ready %v must be set and <= active %d", res.Status.Ready, res.Status.Active)
	}
	checkBeyond(t, job, res)
}

// checkCounters: the failed counter (and succeeded for NonIndexed) grows by exactly the
// UIDs that left the uncounted list, so nothing is counted without passing through it.
func checkCounters(t *testing.T, job *v1alpha1.BatchJob, res Result) {
	t.Helper()
	old := job.Status.UncountedTerminatedPods
	if old == nil {
		old = &v1alpha1.UncountedTerminatedPods{}
	}
	u := res.Status.UncountedTerminatedPods
	left := func(before, after []types.UID) int32 {
		return int32(sets.New(before...).Difference(sets.New(after...)).Len())
	}
	if got, want := res.Status.Failed-job.Status.Failed, left(old.Failed, u.Failed); got != want {
		t.Errorf("failed grew by %d, but %d UIDs left the uncounted list", got, want)
	}
	indexed := *job.Spec.CompletionMode == v1alpha1.IndexedCompletion
	if !indexed {
		if got, want := res.Status.Succeeded-job.Status.Succeeded, left(old.Succeeded, u.Succeeded); got != want {
			t.Errorf("succeeded grew by %d, but %d UIDs left the uncounted list", got, want)
		}
	}
}

// checkAfterRelease: the write after the releases comes only when they were the last
// finalizers of the job; it counts every uncounted pod and finishes the job.
func checkAfterRelease(t *testing.T, in Input, res Result) {
	t.Helper()
	rel := res.AfterRelease
	released := sets.New[types.UID]()
	for _, p := range res.RemoveFinalizers {
		released.Insert(p.UID)
	}
	for _, p := range in.Pods {
		if jobpod.HasFinalizer(p) && !released.Has(p.UID) {
			t.Errorf("write after the releases planned while pod %s keeps its finalizer", p.Name)
		}
	}
	if u := rel.Status.UncountedTerminatedPods; u == nil || len(u.Succeeded)+len(u.Failed) > 0 {
		t.Errorf("write after the releases leaves pods uncounted: %+v", u)
	}
	if rel.Finished == nil || !rel.Status.IsFinished() || len(res.Create)+len(res.Delete) > 0 {
		t.Errorf("write after the releases does not finish the job, or follows pod changes: %+v", rel)
	}
	written := in.Job.DeepCopy()
	v1alpha1.SetDefaults(written)
	written.Status = *res.Status.DeepCopy()
	checkCounters(t, written, *rel)
}

// checkNoRecount: a UID that left the uncounted lists (was counted) never comes back.
func checkNoRecount(t *testing.T, first, before, second *v1alpha1.UncountedTerminatedPods) {
	t.Helper()
	if before == nil {
		before = &v1alpha1.UncountedTerminatedPods{}
	}
	seen := sets.New(before.Succeeded...).Insert(before.Failed...).Insert(first.Succeeded...).Insert(first.Failed...)
	kept := sets.New(first.Succeeded...).Insert(first.Failed...)
	counted := seen.Difference(kept)
	for _, uid := range append(slices.Clone(second.Succeeded), second.Failed...) {
		if counted.Has(uid) {
			t.Errorf("pod %s counted twice", uid)
		}
	}
}

// apply plays the controller and the cluster: status written, deleted pods get a
// deletionTimestamp (finalizer stripped first when asked), finalizers removed, pods created.
func apply(j *v1alpha1.BatchJob, ps []*corev1.Pod, res Result) (*v1alpha1.BatchJob, []*corev1.Pod) {
	j2 := j.DeepCopy()
	j2.Status = *res.Status.DeepCopy()
	byUID := map[types.UID]*corev1.Pod{}
	var out []*corev1.Pod
	for _, p := range ps {
		c := p.DeepCopy()
		byUID[c.UID] = c
		out = append(out, c)
	}
	for _, d := range res.Delete {
		p := byUID[d.Pod.UID]
		if d.StripFinalizerFirst {
			p.Finalizers = nil
		}
		p.DeletionTimestamp = &metav1.Time{Time: now}
	}
	for _, rm := range res.RemoveFinalizers {
		byUID[rm.UID].Finalizers = nil
	}
	for i, c := range res.Create {
		p := c.DeepCopy()
		p.Name = fmt.Sprintf("%snew%d", p.GenerateName, i)
		p.UID = types.UID(p.Name)
		p.Status.Phase = corev1.PodPending
		out = append(out, p)
	}
	return j2, out
}

func randomJob(r *rand.Rand) *v1alpha1.BatchJob {
	w := job("fz", "ns").Parallelism(int32(r.Intn(6))).BackoffLimit(int32(r.Intn(4))).Suspend(r.Intn(5) == 0)
	if r.Intn(4) == 0 {
		w.NoCompletions(int32(r.Intn(6)))
	} else {
		w.Completions(int32(r.Intn(7)))
		if r.Intn(2) == 0 {
			w.Indexed()
			if r.Intn(2) == 0 {
				w.BackoffLimitPerIndex(int32(r.Intn(2)))
				if r.Intn(2) == 0 {
					w.MaxFailedIndexes(int32(r.Intn(2)))
				}
			}
			if r.Intn(3) == 0 {
				w.SuccessPolicy(v1alpha1.SuccessPolicyRule{SucceededCount: ptr.To(int32(r.Intn(3) + 1))})
			}
		}
	}
	if r.Intn(3) == 0 {
		action := []v1alpha1.PodFailurePolicyAction{"FailJob", "Ignore", "Count", "FailIndex"}[r.Intn(4)]
		if action == "FailIndex" && w.Spec.BackoffLimitPerIndex == nil {
			action = "Ignore"
		}
		w.PodFailurePolicy(exitCodeRule(action, int32(r.Intn(3)+1)))
	} else if r.Intn(3) == 0 {
		w.PodReplacementPolicy(v1alpha1.Failed)
	}
	if r.Intn(3) == 0 {
		w.ActiveDeadlineSeconds(int64(r.Intn(120)))
	}
	if r.Intn(6) == 0 {
		w.DeletionTimestamp(ago(time.Second))
	}
	randomBeyond(r, w)
	st := status().Succeeded(int32(r.Intn(3))).Failed(int32(r.Intn(3)))
	if r.Intn(3) != 0 {
		st.StartTime(ago(time.Duration(r.Intn(200)) * time.Second))
	}
	switch r.Intn(8) {
	case 0:
		st.Condition(v1alpha1.JobFailureTarget, corev1.ConditionTrue, "BackoffLimitExceeded", "x", ago(time.Second))
	case 1:
		st.Condition(v1alpha1.JobSuccessCriteriaMet, corev1.ConditionTrue, "CompletionsReached", "x", ago(time.Second))
	case 2:
		st.Condition(v1alpha1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", ago(time.Second))
	}
	if w.Spec.CompletionMode != nil && w.Spec.Completions != nil {
		st.CompletedIndexes(fmt.Sprintf("%d", r.Intn(int(*w.Spec.Completions)+1)))
	}
	return w.Status(st.Obj()).Obj()
}

func randomPods(r *rand.Rand, j *v1alpha1.BatchJob) []*corev1.Pod {
	n := r.Intn(9)
	var out []*corev1.Pod
	var succ, fail []types.UID
	phases := []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed}
	for i := range n {
		w := pod(fmt.Sprintf("p%d", i)).Phase(phases[r.Intn(4)]).Created(ago(time.Duration(r.Intn(100)) * time.Second))
		if r.Intn(2) == 0 {
			w.Index(r.Intn(8) - 1)
		}
		if r.Intn(3) == 0 {
			w.Exited("main", int32(r.Intn(4)), ago(time.Duration(r.Intn(60))*time.Second))
		}
		if r.Intn(3) == 0 {
			w.Ready(ago(time.Duration(r.Intn(60)) * time.Second))
		}
		if r.Intn(5) == 0 {
			w.Deleted(ago(time.Second))
		}
		if r.Intn(4) == 0 {
			w.NoFinalizer()
		}
		if r.Intn(4) == 0 {
			w.FailureCount(r.Intn(3), r.Intn(2))
		}
		p := w.Obj()
		switch {
		case p.Status.Phase == corev1.PodSucceeded && r.Intn(3) == 0:
			succ = append(succ, p.UID)
		case p.Status.Phase == corev1.PodFailed && r.Intn(6) == 0:
			// Recorded as succeeded, then its status turned Failed (the API server allows it).
			succ = append(succ, p.UID)
		case jobpod.IsTerminal(p) && r.Intn(3) == 0:
			fail = append(fail, p.UID)
		}
		out = append(out, p)
	}
	if r.Intn(2) == 0 {
		j.Status.UncountedTerminatedPods = &v1alpha1.UncountedTerminatedPods{Succeeded: succ, Failed: append(fail, "gone")}
	}
	return out
}

// randomBeyond sets some of the fields beyond batch/v1.
func randomBeyond(r *rand.Rand, w *jobW) {
	if r.Intn(4) == 0 {
		w.RetryDelays(int32(r.Intn(3))-1, int32(r.Intn(3)*20)-1)
	}
	if r.Intn(3) == 0 {
		w.RetryPolicy(func(rp *v1alpha1.RetryPolicy) { rp.AvoidFailedNodes = ptr.To(true) })
	}
	if r.Intn(3) == 0 {
		w.MemoryIncreaseOnOOM("1.5", "1Gi")
	}
	if r.Intn(3) == 0 {
		w.PodStartupPolicy(int32(r.Intn(3))*30, "ImagePullBackOff")
	}
	if c := w.Spec.Completions; c != nil && *c > 0 && w.Spec.CompletionMode != nil && r.Intn(3) == 0 {
		first := r.Intn(int(*c))
		w.CompletionIndexes(fmt.Sprintf("%d-%d", first, first+r.Intn(int(*c)-first)))
	}
}

// checkBeyond: the state is one the CRD accepts, recentFailures lists each pod once and
// at most 5, and a suspended job waits for no backoff.
func checkBeyond(t *testing.T, job *v1alpha1.BatchJob, res Result) {
	t.Helper()
	switch res.Status.State {
	case v1alpha1.StatePending, v1alpha1.StateRunning, v1alpha1.StateBackingOff, v1alpha1.StateSuspended,
		v1alpha1.StateComplete, v1alpha1.StateFailed, v1alpha1.StateTerminating, v1alpha1.StateFailureTarget,
		v1alpha1.StateSuccessCriteriaMet:
	default:
		t.Errorf("state %q is not one the CRD accepts", res.Status.State)
	}
	names := sets.New[string]()
	for _, f := range res.Status.RecentFailures {
		names.Insert(f.Pod)
	}
	if n := len(res.Status.RecentFailures); n > maxRecentFailures || names.Len() != n {
		t.Errorf("recentFailures: %d entries, %d pods; want at most %d, each once", n, names.Len(), maxRecentFailures)
	}
	if *job.Spec.Suspend && res.Status.NextPodCreationTime != nil {
		t.Errorf("suspended job with nextPodCreationTime %v", res.Status.NextPodCreationTime)
	}
}

// randomStrangers are the pods a claim must sort out besides the job's own: orphans that
// match the job's selector (some being deleted), orphans that do not, and pods the job
// controls that no longer match.
func randomStrangers(r *rand.Rand, j *v1alpha1.BatchJob) (orphans, strayed []*corev1.Pod) {
	for i := range r.Intn(4) {
		w := pod(fmt.Sprintf("orphan%d", i)).Phase(corev1.PodRunning).NoFinalizer()
		if r.Intn(3) != 0 {
			w.Label(v1alpha1.ControllerUIDLabel, string(j.UID))
		}
		if r.Intn(4) == 0 {
			w.Deleted(ago(time.Second))
		}
		orphans = append(orphans, w.Obj())
	}
	for i := range r.Intn(3) {
		strayed = append(strayed, pod(fmt.Sprintf("strayed%d", i)).Phase(corev1.PodRunning).
			Label(v1alpha1.ControllerUIDLabel, "another").ControlledBy(j.Name, j.UID).Obj())
	}
	return orphans, strayed
}

// claim gives the job its generated selector and the pods its labels and ownerReference,
// runs ClaimPods over them and the strangers, checks the claim, and returns the pods Plan
// is given: the claimed ones plus the adopted ones as the adoption patch leaves them.
func claim(t *testing.T, j *v1alpha1.BatchJob, own []*corev1.Pod, orphans, strayed []*corev1.Pod) []*corev1.Pod {
	t.Helper()
	j.Spec.Selector, j.Spec.Template.Labels = GeneratedSelector(j)
	owned := slices.Clone(strayed)
	for _, p := range own {
		p.Labels = map[string]string{v1alpha1.ControllerUIDLabel: string(j.UID)}
		p.OwnerReferences = []metav1.OwnerReference{{UID: j.UID, Name: j.Name, Controller: ptr.To(true)}}
		owned = append(owned, p)
	}
	c := ClaimPods(j, owned, orphans)
	frozen := j.DeletionTimestamp != nil || j.Status.IsFinished()
	if want := podUIDs(own); !slices.Equal(podUIDs(c.Claimed), want) {
		t.Errorf("claimed %v, want the job's own matching pods %v", podUIDs(c.Claimed), want)
	}
	wantRelease, wantAdopt := []types.UID{}, []types.UID{}
	if !frozen {
		wantRelease = podUIDs(strayed)
		for _, p := range orphans {
			if p.DeletionTimestamp == nil && p.Labels[v1alpha1.ControllerUIDLabel] == string(j.UID) {
				wantAdopt = append(wantAdopt, p.UID)
			}
		}
	}
	if got := podUIDs(c.Release); !slices.Equal(got, wantRelease) {
		t.Errorf("released %v, want %v (frozen %v)", got, wantRelease, frozen)
	}
	if got := podUIDs(c.Adopt); !slices.Equal(got, wantAdopt) {
		t.Errorf("adopted %v, want %v (frozen %v)", got, wantAdopt, frozen)
	}
	pods := slices.Clone(c.Claimed)
	for _, p := range c.Adopt {
		a := p.DeepCopy()
		a.OwnerReferences = append(a.OwnerReferences, metav1.OwnerReference{UID: j.UID, Name: j.Name, Controller: ptr.To(true)})
		a.Finalizers = append(a.Finalizers, v1alpha1.JobTrackingFinalizer)
		pods = append(pods, a)
	}
	return pods
}

func podUIDs(ps []*corev1.Pod) []types.UID {
	out := []types.UID{}
	for _, p := range ps {
		out = append(out, p.UID)
	}
	return out
}

// failSomeCreations plays the API server refusing the last of the planned creations, and
// returns the Result the controller then carries out: fewer pods and WithoutCreations'
// status, checked against the planned one.
func failSomeCreations(t *testing.T, r *rand.Rand, j *v1alpha1.BatchJob, res Result) Result {
	t.Helper()
	if len(res.Create) == 0 || r.Intn(2) == 0 {
		return res
	}
	n := 1 + r.Intn(len(res.Create))
	st, changed := WithoutCreations(j, &res, n)
	if want := max(res.Status.Active-int32(n), 0); st.Active != want {
		t.Errorf("%d of %d creations failed: active %d, want %d", n, len(res.Create), st.Active, want)
	}
	if st.Ready == nil || *st.Ready > st.Active {
		t.Errorf("ready %v after failed creations, active %d", st.Ready, st.Active)
	}
	if changed != !statusEqual(st, &j.Status) {
		t.Errorf("changed = %v, but the status equals the stored one: %v", changed, statusEqual(st, &j.Status))
	}
	res.Status, res.StatusChanged = *st, changed
	res.Create = res.Create[:len(res.Create)-n]
	return res
}
