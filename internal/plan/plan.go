package plan

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/backoff"
	"github.com/batchjob-dev/batchjob/internal/indexset"
)

const (
	// maxUncountedPods caps the pods added to the uncounted lists (plus new completed
	// indexes) in one pass, keeping status small and finalizer removals bounded.
	maxUncountedPods = 500
	// maxPodCreateDeletePerPass caps pod creations and scale-down deletions per pass.
	maxPodCreateDeletePerPass = 500
	// minRequeue is the shortest timer for a backoff that is about to expire.
	minRequeue = time.Second
)

// pass is the working state of one Plan call.
type pass struct {
	in  Input
	job *v1alpha1.BatchJob       // defaulted deep copy
	st  *v1alpha1.BatchJobStatus // the new status being built (inside job)
	now metav1.Time
	res Result

	indexed           bool
	completions       int // Indexed only
	onlyReplaceFailed bool
	pending           sets.Set[types.UID]
	uncSucc, uncFail  sets.Set[types.UID] // uncounted lists as read

	obs observation // what the pods show (observePods), read-only after it
	// active, activeCount, ready and terminating start as what obs shows and follow
	// the pass: spec.podStartupPolicy takes the pods it fails out of active, deletions
	// move pods from active (and ready) to terminating, creations add to activeCount.
	active             []*corev1.Pod
	activeCount        int32
	ready, terminating int32

	ix indexState // Indexed only: what the indexes show (indexStateOf); track adds the new successes

	decision *v1alpha1.JobCondition // interim condition deciding the finish, nil if none
	carried  bool                   // decision is already in status
	backoff  backoff.Record
	requeue  time.Duration
	// backoffWait is how long pod creation still waits for the re-creation backoff (the
	// shortest wait over the indexes with backoffLimitPerIndex); zero when it does not.
	backoffWait time.Duration
	managed     bool                  // manageJob ran: pods were created or deleted as needed
	newFailures []v1alpha1.PodFailure // failures counted in this pass, for recentFailures
	// unselected are the indexes spec.completionIndexes leaves out; nil when it is unset.
	unselected indexset.Set
}

// Plan decides everything one reconcile pass does for in.Job. It is pure: no client,
// no clock, no logging, and it mutates neither the job nor the pods.
func Plan(in Input) Result {
	job := in.Job.DeepCopy()
	v1alpha1.SetDefaults(job)
	if !job.IsManagedByThisController() {
		return Result{Status: *job.Status.DeepCopy()}
	}
	if job.Status.IsFinished() {
		return planFinished(job, in)
	}
	if mode := *job.Spec.CompletionMode; mode != v1alpha1.NonIndexedCompletion && mode != v1alpha1.IndexedCompletion {
		return Result{Status: *job.Status.DeepCopy(), Events: []Event{{
			Type: corev1.EventTypeWarning, Reason: "UnknownCompletionMode",
			Message: "Skipped Job sync because completion mode is unknown",
		}}}
	}
	p := newPass(job, in)
	p.obs = p.observePods()
	p.active, p.activeCount = p.obs.active, int32(len(p.obs.active))
	p.ready, p.terminating = p.obs.ready, p.obs.terminating
	p.setStartTime()
	p.backoff = p.backoffRecord()
	p.res.Backoff = keptBackoff(p.backoff)
	p.decide()
	if p.decision != nil {
		p.terminateActive()
	} else {
		p.manage()
	}
	p.track()
	p.finishStatus()
	p.res.AfterRelease = p.afterRelease()
	return p.res
}

func newPass(job *v1alpha1.BatchJob, in Input) *pass {
	p := &pass{in: in, job: job, st: &job.Status, now: metav1.NewTime(in.Now), pending: in.FinalizerRemovalPending}
	if p.st.UncountedTerminatedPods == nil {
		p.st.UncountedTerminatedPods = &v1alpha1.UncountedTerminatedPods{}
	}
	p.uncSucc = sets.New(p.st.UncountedTerminatedPods.Succeeded...)
	p.uncFail = sets.New(p.st.UncountedTerminatedPods.Failed...)
	p.indexed = *job.Spec.CompletionMode == v1alpha1.IndexedCompletion
	if p.indexed && job.Spec.Completions != nil {
		p.completions = int(*job.Spec.Completions)
		if ci := job.Spec.CompletionIndexes; ci != nil {
			p.unselected = indexset.Parse(*ci, p.completions).Complement(p.completions)
		}
	}
	p.onlyReplaceFailed = *job.Spec.PodReplacementPolicy == v1alpha1.Failed
	return p
}

func (p *pass) suspended() bool { return *p.job.Spec.Suspend }

// target is the number of succeeded pods (Indexed: indexes) the job needs: completions,
// or the indexes spec.completionIndexes selects.
func (p *pass) target() int32 {
	if p.unselected != nil {
		return int32(p.completions - p.unselected.Total())
	}
	return *p.job.Spec.Completions
}

func (p *pass) hasBackoffLimitPerIndex() bool {
	return p.indexed && p.job.Spec.BackoffLimitPerIndex != nil
}

func (p *pass) setStartTime() {
	if p.st.StartTime == nil && !p.suspended() {
		t := p.now
		p.st.StartTime = &t
	}
}

// requeueAfter keeps the earliest positive timer.
func (p *pass) requeueAfter(d time.Duration) {
	if d > 0 && (p.requeue == 0 || d < p.requeue) {
		p.requeue = d
	}
}

func (p *pass) event(typ, reason, msg string) { p.res.addEvent(typ, reason, msg) }

func (r *Result) addEvent(typ, reason, msg string) {
	r.Events = append(r.Events, Event{Type: typ, Reason: reason, Message: msg})
}

// finishStatus fills the printing fields and decides whether a write is needed.
func (p *pass) finishStatus() {
	p.st.Active = p.activeCount
	p.setNextPodCreationTime()
	p.setPrintFields(p.st)
	p.res.Status = *p.st
	p.res.StatusChanged = !statusEqual(&p.in.Job.Status, p.st)
	p.res.RequeueAfter = p.requeue
	if len(p.res.Create) > 0 {
		p.res.CreateReason = p.createReason()
	}
}

// setPrintFields fills the printing fields of st, refining Running by what the pods show
// and counting only the selected indexes when spec.completionIndexes is set.
func (p *pass) setPrintFields(st *v1alpha1.BatchJobStatus) {
	v1alpha1.SetPrintFields(p.job, st, p.in.Now)
	if st.State == v1alpha1.StateRunning {
		st.State = p.runState()
	}
	if p.unselected != nil {
		st.CompletionsText = fmt.Sprintf("%d/%d", st.Succeeded, p.target())
	}
}

// statusEqual compares two statuses ignoring duration, which moves with the clock.
func statusEqual(a, b *v1alpha1.BatchJobStatus) bool {
	ac, bc := a.DeepCopy(), b.DeepCopy()
	ac.Duration, bc.Duration = "", ""
	return equality.Semantic.DeepEqual(ac, bc)
}

func (p *pass) createReason() string {
	switch {
	case p.onlyReplaceFailed && p.obs.failed > 0:
		return "recreate_failed"
	case p.obs.failed > 0 || p.terminating > 0:
		return "recreate_terminating_or_failed"
	default:
		return "new"
	}
}
