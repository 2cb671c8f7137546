package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// maxFailures is how many recent failures `status` lists, as many as status.recentFailures
// keeps.
const maxFailures = 5

// failure is one failed container of a pod, from status.recentFailures or from a pod's
// terminated container state.
type failure struct {
	Pod       string      `json:"pod"`
	Index     *int        `json:"index,omitempty"`
	Node      string      `json:"node,omitempty"`
	Container string      `json:"container,omitempty"`
	ExitCode  int32       `json:"exitCode"`
	Reason    string      `json:"reason,omitempty"`
	Message   string      `json:"message,omitempty"`
	Time      metav1.Time `json:"time"`
}

// statusInput is everything `status` looks at; describeStatus is a pure function of it.
type statusInput struct {
	Job *v1alpha1.BatchJob
	// RecentFailures and NextPodCreation come from status.recentFailures and
	// status.nextPodCreationTime, read from the unstructured object so that the plugin
	// shows them whether or not its own copy of the types has the fields yet.
	RecentFailures  []failure
	NextPodCreation *time.Time
	Pods            []corev1.Pod
	Now             time.Time
}

func newStatusCommand(o *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "status NAME",
		Aliases: []string{"why"},
		Short:   "Say in a few lines what a BatchJob is doing and what it waits for",
		Long: `Print a BatchJob's state and counts and what it is waiting for: pods pending and why
(their containers' waiting reasons, scheduling), backoff before the next pod, the
activeDeadlineSeconds left, whether it is suspended and by whom, failed indexes, and the
recent failures with their exit codes.`,
		Example: `  kubectl batchjob status work
  kubectl batchjob why work -n team-a`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), o, args[0])
		},
	}
}

func runStatus(ctx context.Context, o *rootOptions, name string) error {
	cl, err := o.clients()
	if err != nil {
		return err
	}
	u, job, err := cl.getBatchJob(ctx, name)
	if err != nil {
		return err
	}
	pods, err := cl.kube.CoreV1().Pods(cl.ns).List(ctx, metav1.ListOptions{
		LabelSelector: v1alpha1.ControllerUIDLabel + "=" + string(job.UID),
	})
	if err != nil {
		return err
	}
	in := statusInput{Job: job, Pods: pods.Items, Now: time.Now()}
	in.RecentFailures, in.NextPodCreation = extraStatus(u)
	return describeStatus(o.streams.Out, in)
}

// extraStatus reads the status fields beyond batch/v1 that `status` uses.
func extraStatus(u *unstructured.Unstructured) ([]failure, *time.Time) {
	var failures []failure
	if raw, found, _ := unstructured.NestedSlice(u.Object, "status", "recentFailures"); found {
		if b, err := json.Marshal(raw); err == nil {
			_ = json.Unmarshal(b, &failures)
		}
	}
	var next *time.Time
	if s, found, _ := unstructured.NestedString(u.Object, "status", "nextPodCreationTime"); found {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			next = &t
		}
	}
	return failures, next
}

// describeStatus writes the few lines of `status`.
func describeStatus(w io.Writer, in statusInput) error {
	job := in.Job
	var b strings.Builder
	fmt.Fprintf(&b, "BatchJob %s/%s: %s\n", job.Namespace, job.Name, headline(in))
	fmt.Fprintf(&b, "Waiting for: %s\n", waitingFor(in))
	if line := deadlineLine(in); line != "" {
		fmt.Fprintf(&b, "Deadline: %s\n", line)
	}
	if job.Spec.Suspend != nil && *job.Spec.Suspend {
		fmt.Fprintf(&b, "Suspended: spec.suspend set by %s\n", orDefault(suspendedBy(job), "an unknown field manager"))
	}
	if !job.IsManagedByThisController() {
		fmt.Fprintf(&b, "Managed by: %s (spec.managedBy): batchjob-controller leaves this job to it\n", *job.Spec.ManagedBy)
	}
	if fi := job.Status.FailedIndexes; fi != nil && *fi != "" {
		fmt.Fprintf(&b, "Failed indexes: %s%s\n", *fi, failedIndexLimits(job))
	}
	writePendingPods(&b, in.Pods)
	writeFailures(&b, recentFailures(in), in.Now)
	_, err := io.WriteString(w, b.String())
	return err
}

// headline is the state, mode and counts, e.g. "Running, Indexed, 2/5 succeeded, 2 active
// (1 ready), 1 failed (backoffLimit 6)".
func headline(in statusInput) string {
	job, st := in.Job, &in.Job.Status
	state := st.State
	if state == "" {
		probe, s := job.DeepCopy(), v1alpha1.BatchJobStatus{}
		s.Conditions = st.Conditions
		v1alpha1.SetPrintFields(probe, &s, in.Now)
		state = s.State
	}
	mode := string(v1alpha1.NonIndexedCompletion)
	if job.Spec.CompletionMode != nil {
		mode = string(*job.Spec.CompletionMode)
	}
	parts := []string{state, mode}
	if job.Spec.Completions != nil {
		parts = append(parts, fmt.Sprintf("%d/%d succeeded", st.Succeeded, *job.Spec.Completions))
	} else {
		parts = append(parts, fmt.Sprintf("%d succeeded (work queue)", st.Succeeded))
	}
	active := fmt.Sprintf("%d active", st.Active)
	if st.Ready != nil {
		active += fmt.Sprintf(" (%d ready)", *st.Ready)
	}
	parts = append(parts, active)
	failed := fmt.Sprintf("%d failed", st.Failed)
	if job.Spec.BackoffLimit != nil && job.Spec.BackoffLimitPerIndex == nil {
		failed += fmt.Sprintf(" (backoffLimit %d)", *job.Spec.BackoffLimit)
	}
	return strings.Join(append(parts, failed), ", ")
}

// waitingFor is the one thing the job waits for now, checked in the order that decides
// it: finished, someone else's, suspended, finishing, not started, pods not running,
// backoff, running pods.
func waitingFor(in statusInput) string {
	job, st := in.Job, &in.Job.Status
	if c := trueCondition(job, v1alpha1.JobComplete, v1alpha1.JobFailed); c != nil {
		return finishedText(c, in.Now)
	}
	if !job.IsManagedByThisController() {
		return "the controller named in spec.managedBy (" + *job.Spec.ManagedBy + ")"
	}
	if job.Spec.Suspend != nil && *job.Spec.Suspend {
		return "resume (kubectl batchjob resume " + job.Name + ")"
	}
	if c := trueCondition(job, v1alpha1.JobFailureTarget, v1alpha1.JobSuccessCriteriaMet); c != nil {
		return fmt.Sprintf("its pods to terminate before it is marked finished (%s: %s)", c.Type, c.Reason)
	}
	if st.StartTime == nil {
		return "the controller to start it (no status yet: is batchjob-controller running?)"
	}
	if n := len(pendingPods(in.Pods)); n > 0 {
		return fmt.Sprintf("%s to start (see Pending pods)", plural(n, "pod"))
	}
	if in.NextPodCreation != nil && in.NextPodCreation.After(in.Now) {
		return fmt.Sprintf("backoff after failures: next pod in %s", in.NextPodCreation.Sub(in.Now).Round(time.Second))
	}
	if st.Active > 0 {
		return fmt.Sprintf("%s running; %s", plural(int(st.Active), "pod"), remaining(job))
	}
	return "the controller to create pods; " + remaining(job)
}

func finishedText(c *v1alpha1.JobCondition, now time.Time) string {
	text := fmt.Sprintf("nothing, it is %s (%s", c.Type, c.Reason)
	if !c.LastTransitionTime.IsZero() {
		text += ", " + duration.HumanDuration(now.Sub(c.LastTransitionTime.Time)) + " ago"
	}
	text += ")"
	if c.Message != "" {
		text += ": " + c.Message
	}
	return text
}

// remaining is what is still needed for success.
func remaining(job *v1alpha1.BatchJob) string {
	st := &job.Status
	switch {
	case job.Spec.Completions == nil:
		return "any pod to succeed (work queue)"
	case job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == v1alpha1.IndexedCompletion:
		rest := remainingIndexes(int(*job.Spec.Completions), "", st.CompletedIndexes)
		if rest == "" {
			return "no index left"
		}
		return "indexes " + rest + " to succeed"
	default:
		return fmt.Sprintf("%d more to succeed", max(0, *job.Spec.Completions-st.Succeeded))
	}
}

func deadlineLine(in statusInput) string {
	job := in.Job
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.IsFinished() {
		return ""
	}
	limit := time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second
	if job.Status.StartTime == nil {
		return fmt.Sprintf("%s from start (activeDeadlineSeconds)", limit)
	}
	left := job.Status.StartTime.Add(limit).Sub(in.Now).Round(time.Second)
	if left < 0 {
		return fmt.Sprintf("passed %s ago (activeDeadlineSeconds %d)", -left, *job.Spec.ActiveDeadlineSeconds)
	}
	return fmt.Sprintf("%s left of %s (activeDeadlineSeconds)", left, limit)
}

func failedIndexLimits(job *v1alpha1.BatchJob) string {
	var parts []string
	if n := job.Spec.BackoffLimitPerIndex; n != nil {
		parts = append(parts, fmt.Sprintf("backoffLimitPerIndex %d", *n))
	}
	if n := job.Spec.MaxFailedIndexes; n != nil {
		parts = append(parts, fmt.Sprintf("maxFailedIndexes %d", *n))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// suspendedBy is the field manager that last wrote spec.suspend, from managedFields.
func suspendedBy(job *v1alpha1.BatchJob) string {
	var who string
	var when time.Time
	for _, mf := range job.ManagedFields {
		if mf.FieldsV1 == nil || mf.Subresource != "" {
			continue
		}
		var fields map[string]map[string]any
		if json.Unmarshal(mf.FieldsV1.Raw, &fields) != nil {
			continue
		}
		if _, ok := fields["f:spec"]["f:suspend"]; !ok {
			continue
		}
		if t := mf.Time; who == "" || (t != nil && !t.Time.Before(when)) {
			who = mf.Manager
			if t != nil {
				when = t.Time
			}
		}
	}
	return who
}

func trueCondition(job *v1alpha1.BatchJob, types ...v1alpha1.JobConditionType) *v1alpha1.JobCondition {
	for i, c := range job.Status.Conditions {
		for _, t := range types {
			if c.Type == t && c.Status == corev1.ConditionTrue {
				return &job.Status.Conditions[i]
			}
		}
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func pendingPods(pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for i := range pods {
		if p := &pods[i]; p.Status.Phase == corev1.PodPending && p.DeletionTimestamp == nil {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// writePendingPods lists pending pods with why each is not running: a container's
// waiting reason, or the scheduler's.
func writePendingPods(b *strings.Builder, pods []corev1.Pod) {
	pending := pendingPods(pods)
	if len(pending) == 0 {
		return
	}
	b.WriteString("Pending pods:\n")
	for i := range pending {
		p := &pending[i]
		fmt.Fprintf(b, "  %s%s: %s\n", p.Name, indexSuffix(p), pendingReason(p))
	}
}

func pendingReason(p *corev1.Pod) string {
	var reasons []string
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			r := cs.Name + " " + w.Reason
			if w.Message != "" {
				r += ": " + w.Message
			}
			reasons = append(reasons, r)
		}
	}
	if len(reasons) > 0 {
		return strings.Join(reasons, "; ")
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return strings.TrimSuffix("not scheduled: "+c.Reason+": "+c.Message, ": ")
		}
	}
	if p.Spec.NodeName == "" {
		return "not scheduled yet"
	}
	return "starting on " + p.Spec.NodeName
}

func indexSuffix(p *corev1.Pod) string {
	if ix, ok := p.Labels[v1alpha1.JobCompletionIndexAnnotation]; ok {
		return " [index " + ix + "]"
	}
	return ""
}

// recentFailures merges status.recentFailures with what failed pods still show, newest
// first, one entry per pod and container.
func recentFailures(in statusInput) []failure {
	seen := map[string]bool{}
	var all []failure
	add := func(f failure) {
		if key := f.Pod + "/" + f.Container; !seen[key] {
			seen[key] = true
			all = append(all, f)
		}
	}
	for _, f := range in.RecentFailures {
		add(f)
	}
	for i := range in.Pods {
		for _, f := range podFailures(&in.Pods[i]) {
			add(f)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].Time.Equal(&all[j].Time) {
			return all[j].Time.Before(&all[i].Time)
		}
		return all[i].Pod < all[j].Pod
	})
	return all[:min(len(all), maxFailures)]
}

// podFailures are the non-zero exits in a failed pod's containers' terminated states.
func podFailures(p *corev1.Pod) []failure {
	if p.Status.Phase != corev1.PodFailed {
		return nil
	}
	var index *int
	if s, ok := p.Labels[v1alpha1.JobCompletionIndexAnnotation]; ok {
		if n, err := strconv.Atoi(s); err == nil {
			index = &n
		}
	}
	var out []failure
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		t := cs.State.Terminated
		if t == nil || t.ExitCode == 0 {
			continue
		}
		out = append(out, failure{Pod: p.Name, Index: index, Node: p.Spec.NodeName, Container: cs.Name,
			ExitCode: t.ExitCode, Reason: t.Reason, Message: t.Message, Time: t.FinishedAt})
	}
	if len(out) == 0 && p.Status.Reason != "" {
		// Evicted, DeadlineExceeded, ...: the pod failed without a container exit code.
		out = append(out, failure{Pod: p.Name, Index: index, Node: p.Spec.NodeName, Reason: p.Status.Reason, Message: p.Status.Message})
	}
	return out
}

func writeFailures(b *strings.Builder, failures []failure, now time.Time) {
	if len(failures) == 0 {
		return
	}
	b.WriteString("Recent failures (newest first):\n")
	for _, f := range failures {
		when := "earlier"
		if !f.Time.IsZero() {
			when = duration.HumanDuration(now.Sub(f.Time.Time)) + " ago"
		}
		where := f.Pod
		if f.Index != nil {
			where += fmt.Sprintf(" [index %d]", *f.Index)
		}
		if f.Node != "" {
			where += " on " + f.Node
		}
		what := f.Reason
		if f.Container != "" {
			what = fmt.Sprintf("container %s exit code %d", f.Container, f.ExitCode)
			if f.Reason != "" {
				what += " (" + f.Reason + ")"
			}
		}
		if f.Message != "" {
			what += ": " + strings.TrimSpace(f.Message)
		}
		fmt.Fprintf(b, "  %s  %s: %s\n", when, where, what)
	}
}
