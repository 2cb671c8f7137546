package chaos

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// The checker is independent of the controller: it shares only the API types. It watches
// every pod and BatchJob of the workload namespace (listwatch.go) and keeps, per job, what really happened to each
// of its pods. Invariants that hold at every moment (active pods ≤ parallelism) are checked
// on each event; the rest are checked once the run has settled (verify.go).

// podRec is what the checker saw of one pod.
type podRec struct {
	uid       types.UID
	name      string
	jobUID    types.UID
	index     int // -1 for NonIndexed
	createdAt time.Time
	createdRV uint64

	phase     corev1.PodPhase
	exitCodes []int32 // terminated containers' exit codes, last seen
	// codesRewritten: the exit codes changed after the pod was seen terminal. The
	// simulated kubelet's kill stage can overwrite a pod that failed on its own while it
	// was being deleted (exit 42, then 137): a controller may have judged either.
	codesRewritten  bool
	deleting        bool // deletionTimestamp seen
	hasFinalizer    bool
	terminalAt      time.Time // first seen Succeeded/Failed
	endAt           time.Time // first seen terminal or deleting (the end of its active life)
	finalizerGoneRV uint64    // RV of the first observation without the finalizer
	finalizerGoneAt time.Time
	// stripped: the finalizer disappeared while the pod was neither terminal nor being
	// deleted, i.e. the controller released it uncounted (suspend, scale-down deletions).
	stripped bool
	// deletedRunning: deletionTimestamp seen while the pod was not terminal.
	deletedRunning bool
	handDeleted    bool
	// everSucceeded: seen Succeeded at some point. The simulated kubelet can still turn a
	// pod deleted while it succeeds from Succeeded into Failed (two stages race).
	everSucceeded bool
	gone          bool
	goneUnknown   bool // removed during a watch gap: its last state may be stale
	active        bool // counted in its job's active count
}

func (p *podRec) terminal() bool {
	return p.phase == corev1.PodSucceeded || p.phase == corev1.PodFailed
}

// jobRec is what the checker saw of one BatchJob.
type jobRec struct {
	uid  types.UID
	name string
	spec *jobSpec // the workload's description (nil until registered)
	last *v1alpha1.BatchJob
	pods map[types.UID]*podRec

	active    int32
	maxActive int32
	limit     int32 // current bound on active pods; -1 unknown
	lowerTo   int32 // a pending lower bound, applied once active ≤ lowerTo; -1 none
	overLimit int   // observations above the bound
	overFirst string
	finishAt  time.Time // first seen with a finishing condition
	finishRV  uint64
	// finishCompletions is spec.completions in the object that first carried a finishing
	// condition: what the controller decided on. A scale patch the driver sends after that
	// (delayed by a kube-apiserver restart) changes the spec of a finished job, not its
	// final status.
	finishCompletions *int32
	terminalAt        time.Time // first seen Complete/Failed
	terminalRV        uint64
	deletedAt         time.Time
	goneUnknown       bool
	timeline          []string
}

// timelineCap bounds each job's timeline (evidence for violations).
const timelineCap = 400

func (j *jobRec) note(start time.Time, format string, args ...any) {
	if len(j.timeline) >= timelineCap {
		return
	}
	j.timeline = append(j.timeline, fmt.Sprintf("%8.3fs ", time.Since(start).Seconds())+fmt.Sprintf(format, args...))
}

// leaseRec is one observed holder of the leader-election Lease.
type leaseRec struct {
	holder string
	rv     uint64
	at     time.Time
}

type writeWaiter struct {
	afterRV uint64
	ch      chan time.Time
}

// Checker holds the observations. All methods are safe for concurrent use.
type Checker struct {
	mu       sync.Mutex
	start    time.Time
	ns       string
	jobs     map[types.UID]*jobRec
	byName   map[string]*jobRec
	pods     map[types.UID]*podRec
	leases   []leaseRec
	waiters  []*writeWaiter
	paused   int // Lists being applied: no parallelism check meanwhile
	writes   int // controller writes seen (pod creations, finalizer removals, status writes)
	events   int
	timeline *Timeline
}

func newChecker(ns string, tl *Timeline) *Checker {
	return &Checker{
		start: tl.start, ns: ns, timeline: tl,
		jobs: map[types.UID]*jobRec{}, byName: map[string]*jobRec{}, pods: map[types.UID]*podRec{},
	}
}

func parseRV(rv string) uint64 {
	n, _ := strconv.ParseUint(rv, 10, 64)
	return n
}

func (ck *Checker) jobFor(uid types.UID) *jobRec {
	j := ck.jobs[uid]
	if j == nil {
		j = &jobRec{uid: uid, pods: map[types.UID]*podRec{}, limit: -1, lowerTo: -1}
		ck.jobs[uid] = j
	}
	return j
}

func podJobUID(p *corev1.Pod) types.UID {
	for _, r := range p.OwnerReferences {
		if r.Controller != nil && *r.Controller && r.Kind == "BatchJob" {
			return r.UID
		}
	}
	return types.UID(p.Labels[v1alpha1.ControllerUIDLabel])
}

func (ck *Checker) onPod(o client.Object, deleted, tomb bool) {
	p, ok := o.(*corev1.Pod)
	if !ok || p.Namespace != ck.ns {
		return
	}
	now := time.Now()
	ck.mu.Lock()
	defer ck.mu.Unlock()
	ck.events++
	if tomb {
		// Removed while the watch was down: only its last seen state is known.
		if r := ck.pods[p.UID]; r != nil && !r.gone {
			r.gone, r.goneUnknown = true, true
			j := ck.jobs[r.jobUID]
			j.note(ck.start, "pod %s removed during a watch gap (last phase %s, finalizer %v)", r.name, r.phase, r.hasFinalizer)
			ck.updateActive(j, r, now)
		}
		return
	}
	rv := parseRV(p.ResourceVersion)
	jobUID := podJobUID(p)
	if jobUID == "" {
		return
	}
	r := ck.pods[p.UID]
	j := ck.jobFor(jobUID)
	if r == nil {
		r = &podRec{uid: p.UID, name: p.Name, jobUID: jobUID, index: -1, createdAt: now, createdRV: rv, hasFinalizer: true}
		if s, ok := p.Annotations[v1alpha1.JobCompletionIndexAnnotation]; ok {
			if n, err := strconv.Atoi(s); err == nil {
				r.index = n
			}
		}
		ck.pods[p.UID] = r
		j.pods[p.UID] = r
		ck.controllerWrite(rv, now)
		j.note(ck.start, "pod %s created (index %d)", p.Name, r.index)
	}
	// A removed pod has no finalizer left, whatever the delete event's copy says: removing
	// the last finalizer of a pod deleted with grace period 0 removes the pod in the same
	// write, which the watch reports as the deletion only.
	r.hasFinalizer = slices.Contains(p.Finalizers, v1alpha1.JobTrackingFinalizer) && !deleted
	wasTerminal, wasDeleting := r.terminal(), r.deleting
	if !r.hasFinalizer && r.finalizerGoneRV == 0 {
		r.finalizerGoneRV, r.finalizerGoneAt = rv, now
		ck.controllerWrite(rv, now) // only the controller removes its finalizer
		if !wasTerminal && !wasDeleting && p.DeletionTimestamp.IsZero() &&
			p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			r.stripped = true
		}
		j.note(ck.start, "pod %s finalizer removed (phase %s, deleting %v)", p.Name, p.Status.Phase, !p.DeletionTimestamp.IsZero())
	}
	if p.Status.Phase != r.phase {
		j.note(ck.start, "pod %s phase %s", p.Name, p.Status.Phase)
	}
	r.phase = p.Status.Phase
	r.everSucceeded = r.everSucceeded || r.phase == corev1.PodSucceeded
	if codes := exitCodes(p); len(codes) > 0 {
		if wasTerminal && len(r.exitCodes) > 0 && !slices.Equal(codes, r.exitCodes) {
			r.codesRewritten = true
			j.note(ck.start, "pod %s exit codes %v rewritten to %v after it was terminal", p.Name, r.exitCodes, codes)
		}
		r.exitCodes = codes
	}
	if r.terminal() && r.terminalAt.IsZero() {
		r.terminalAt = now
	}
	if !p.DeletionTimestamp.IsZero() && !r.deleting {
		r.deleting = true
		r.deletedRunning = !wasTerminal && !r.terminal()
		j.note(ck.start, "pod %s deleting (phase %s, finalizer %v)", p.Name, p.Status.Phase, r.hasFinalizer)
	}
	if (r.terminal() || r.deleting) && r.endAt.IsZero() {
		r.endAt = now
	}
	if deleted {
		r.gone = true
		j.note(ck.start, "pod %s removed (phase %s, finalizer %v)", p.Name, r.phase, r.hasFinalizer)
	}
	ck.updateActive(j, r, now)
}

// updateActive keeps the job's active count (pods neither terminal nor being deleted, as
// a Job counts them) and checks it against the bound.
func (ck *Checker) updateActive(j *jobRec, r *podRec, now time.Time) {
	isActive := !r.terminal() && !r.deleting && !r.gone
	if isActive != r.active {
		r.active = isActive
		if isActive {
			j.active++
		} else {
			j.active--
		}
	}
	j.maxActive = max(j.maxActive, j.active)
	ck.checkLimit(j, now)
}

func (ck *Checker) checkLimit(j *jobRec, now time.Time) {
	if ck.paused > 0 {
		return
	}
	if j.lowerTo >= 0 && j.active <= j.lowerTo {
		j.limit, j.lowerTo = j.lowerTo, -1
	}
	if j.limit < 0 || j.active <= j.limit {
		return
	}
	j.overLimit++
	if j.overLimit == 1 {
		var names []string
		for _, p := range j.pods {
			if p.active {
				names = append(names, p.name)
			}
		}
		slices.Sort(names)
		j.overFirst = fmt.Sprintf("at %.3fs %d active pods with parallelism %d: %v",
			now.Sub(ck.start).Seconds(), j.active, j.limit, names)
		j.note(ck.start, "VIOLATION %s", j.overFirst)
	}
}

func exitCodes(p *corev1.Pod) []int32 {
	var out []int32
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated != nil {
			out = append(out, cs.State.Terminated.ExitCode)
		}
	}
	return out
}

func finishing(c v1alpha1.JobConditionType) bool {
	switch c {
	case v1alpha1.JobComplete, v1alpha1.JobFailed, v1alpha1.JobFailureTarget, v1alpha1.JobSuccessCriteriaMet:
		return true
	}
	return false
}

func (ck *Checker) onJob(o client.Object, deleted, tomb bool) {
	bj, ok := o.(*v1alpha1.BatchJob)
	if !ok || bj.Namespace != ck.ns {
		return
	}
	now := time.Now()
	ck.mu.Lock()
	defer ck.mu.Unlock()
	ck.events++
	rv := parseRV(bj.ResourceVersion)
	j := ck.jobFor(bj.UID)
	j.name = bj.Name
	ck.byName[bj.Name] = j
	if deleted {
		j.deletedAt, j.goneUnknown = now, tomb
		j.note(ck.start, "job removed (tombstone %v)", tomb)
		if !tomb {
			j.last = bj.DeepCopy()
		}
	} else {
		if j.last != nil && j.last.Generation == bj.Generation && j.last.ResourceVersion != bj.ResourceVersion {
			ck.controllerWrite(rv, now)
		}
		if j.last == nil || !statusEqual(&j.last.Status, &bj.Status) {
			s := bj.Status
			j.note(ck.start, "job status active=%d succeeded=%d failed=%d completed=%q failedIdx=%v uncounted=%v conds=%s",
				s.Active, s.Succeeded, s.Failed, s.CompletedIndexes, deref(s.FailedIndexes), uncountedLen(s.UncountedTerminatedPods), condString(s.Conditions))
		}
		j.last = bj.DeepCopy()
	}
	for _, c := range bj.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		if finishing(c.Type) && j.finishAt.IsZero() {
			j.finishAt, j.finishRV = now, rv
			j.finishCompletions = ptr.To(ptr.Deref(bj.Spec.Completions, 1))
		}
		if (c.Type == v1alpha1.JobComplete || c.Type == v1alpha1.JobFailed) && j.terminalAt.IsZero() {
			j.terminalAt, j.terminalRV = now, rv
		}
	}
	// The spec's bound, for jobs not steered by the driver (the driver lowers bounds itself).
	if j.spec != nil && !j.spec.steered {
		j.limit = effectiveParallelism(bj)
	}
}

func effectiveParallelism(bj *v1alpha1.BatchJob) int32 {
	if bj.Spec.Suspend != nil && *bj.Spec.Suspend {
		return 0
	}
	if bj.Spec.Parallelism == nil {
		return 1
	}
	return *bj.Spec.Parallelism
}

func statusEqual(a, b *v1alpha1.BatchJobStatus) bool {
	return a.Active == b.Active && a.Succeeded == b.Succeeded && a.Failed == b.Failed &&
		a.CompletedIndexes == b.CompletedIndexes && deref(a.FailedIndexes) == deref(b.FailedIndexes) &&
		uncountedLen(a.UncountedTerminatedPods) == uncountedLen(b.UncountedTerminatedPods) &&
		condString(a.Conditions) == condString(b.Conditions)
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func uncountedLen(u *v1alpha1.UncountedTerminatedPods) [2]int {
	if u == nil {
		return [2]int{}
	}
	return [2]int{len(u.Succeeded), len(u.Failed)}
}

func condString(cs []v1alpha1.JobCondition) string {
	s := ""
	for _, c := range cs {
		if c.Status == corev1.ConditionTrue {
			s += string(c.Type) + "(" + c.Reason + ")"
		}
	}
	return s
}

func (ck *Checker) onLease(o client.Object) {
	l, ok := o.(*coordinationv1.Lease)
	if !ok || l.Name != leaseName {
		return
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	now := time.Now()
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if n := len(ck.leases); n > 0 && ck.leases[n-1].holder == holder {
		return
	}
	ck.leases = append(ck.leases, leaseRec{holder: holder, rv: parseRV(l.ResourceVersion), at: now})
	ck.timeline.add("lease held by %q", holder)
}

// controllerWrite records a write only the controller makes (a pod creation, a tracking
// finalizer removal, a BatchJob status write) and wakes the failover waiters.
func (ck *Checker) controllerWrite(rv uint64, now time.Time) {
	ck.writes++
	kept := ck.waiters[:0]
	for _, w := range ck.waiters {
		if rv > w.afterRV {
			w.ch <- now
			continue
		}
		kept = append(kept, w)
	}
	ck.waiters = kept
}

// leaseHolder returns the current holder of the Lease and the RV of its acquisition.
func (ck *Checker) leaseHolder() (string, uint64, time.Time) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if len(ck.leases) == 0 {
		return "", 0, time.Time{}
	}
	l := ck.leases[len(ck.leases)-1]
	return l.holder, l.rv, l.at
}

// waitWrite returns a channel that receives the time of the first controller write with a
// resourceVersion above afterRV.
func (ck *Checker) waitWrite(afterRV uint64) <-chan time.Time {
	w := &writeWaiter{afterRV: afterRV, ch: make(chan time.Time, 1)}
	ck.mu.Lock()
	ck.waiters = append(ck.waiters, w)
	ck.mu.Unlock()
	return w.ch
}

// register tells the checker what the workload asked of a job it just created.
func (ck *Checker) register(uid types.UID, name string, spec *jobSpec, limit int32) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	j := ck.jobFor(uid)
	j.name, j.spec = name, spec
	ck.byName[name] = j
	if j.limit < 0 {
		j.limit = limit
	}
	j.note(ck.start, "created by the driver (%s, bound %d)", spec.kind, limit)
	ck.checkLimit(j, time.Now())
}

// raise sets a job's bound before the driver lets it grow (scale-up, resume).
func (ck *Checker) raise(name string, limit int32) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if j := ck.byName[name]; j != nil {
		j.limit, j.lowerTo = max(j.limit, limit), -1
		j.note(ck.start, "driver raises the bound to %d", limit)
	}
}

// lower sets a job's bound after the driver shrank it (scale-down, suspend): the new bound
// applies once the controller has caught up (active ≤ limit seen once), because pods the
// old spec allowed are legitimately active until the controller deletes them.
func (ck *Checker) lower(name string, limit int32) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if j := ck.byName[name]; j != nil {
		j.lowerTo = limit
		j.note(ck.start, "driver lowers the bound to %d", limit)
		ck.checkLimit(j, time.Now())
	}
}

func (ck *Checker) markHandDeleted(uid types.UID) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if p := ck.pods[uid]; p != nil {
		p.handDeleted = true
		ck.jobs[p.jobUID].note(ck.start, "pod %s deleted by hand", p.name)
	}
}

// pickRunning returns a random running pod of a job whose kind allows hand deletions.
func (ck *Checker) pickRunning(rnd func(int) int) (types.UID, string, bool) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	var cands []*podRec
	for _, j := range ck.jobs {
		if j.spec == nil || !j.spec.deletable || !j.terminalAt.IsZero() {
			continue
		}
		for _, p := range j.pods {
			if p.active && p.phase == corev1.PodRunning && p.hasFinalizer {
				cands = append(cands, p)
			}
		}
	}
	if len(cands) == 0 {
		return "", "", false
	}
	p := cands[rnd(len(cands))]
	return p.uid, p.name, true
}

// counts returns the pods seen and the registered jobs not yet terminal.
func (ck *Checker) counts() (pods, unfinished int) {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	for _, j := range ck.jobs {
		if j.spec != nil && j.terminalAt.IsZero() && j.deletedAt.IsZero() {
			unfinished++
		}
	}
	return len(ck.pods), unfinished
}

// jobState returns a copy of the last seen BatchJob of that name (nil if none).
func (ck *Checker) jobState(name string) *v1alpha1.BatchJob {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	if j := ck.byName[name]; j != nil && j.last != nil {
		return j.last.DeepCopy()
	}
	return nil
}

// settled reports whether every registered job has finished (and, with a TTL, is gone),
// its status has no uncounted pods, and no pod keeps the tracking finalizer.
func (ck *Checker) settled() bool {
	ck.mu.Lock()
	defer ck.mu.Unlock()
	for _, j := range ck.jobs {
		if j.spec == nil || !j.deletedAt.IsZero() {
			continue
		}
		if j.terminalAt.IsZero() || j.spec.ttl || j.last == nil || uncountedLen(j.last.Status.UncountedTerminatedPods) != [2]int{} {
			return false
		}
	}
	for _, p := range ck.pods {
		if p.hasFinalizer && !p.gone {
			return false
		}
	}
	return true
}
