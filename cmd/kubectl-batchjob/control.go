package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// newSuspendCommand is `suspend` (suspend=true) or `resume` (false): a merge patch of
// spec.suspend, which is what the controller watches to delete or create pods.
func newSuspendCommand(o *rootOptions, suspend bool) *cobra.Command {
	verb, done, effect := "suspend", "suspended", "its active pods are deleted and no new ones are created until it is resumed"
	if !suspend {
		verb, done, effect = "resume", "resumed", "pods are created again and activeDeadlineSeconds counts from now"
	}
	w := addWriteFlags(done)
	cmd := &cobra.Command{
		Use:     verb + " NAME",
		Short:   fmt.Sprintf("Set spec.suspend=%t on a BatchJob", suspend),
		Long:    fmt.Sprintf("Set spec.suspend=%t on a BatchJob (a merge patch): %s.", suspend, effect),
		Example: fmt.Sprintf("  kubectl batchjob %s work\n  kubectl batchjob %s work -n team-a --dry-run=server -o yaml", verb, verb),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.validate(); err != nil {
				return err
			}
			return runSuspend(cmd.Context(), o, w, args[0], suspend)
		},
	}
	w.addTo(cmd)
	return cmd
}

func runSuspend(ctx context.Context, o *rootOptions, w *writeFlags, name string, suspend bool) error {
	cl, err := o.clients()
	if err != nil {
		return err
	}
	if w.dryRun == "client" {
		obj, err := cl.jobs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := unstructured.SetNestedField(obj.Object, suspend, "spec", "suspend"); err != nil {
			return err
		}
		return w.printObject(o, obj)
	}
	patch := fmt.Appendf(nil, `{"spec":{"suspend":%t}}`, suspend)
	obj, err := cl.jobs.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{
		DryRun: w.serverDryRun(), FieldManager: "kubectl-batchjob",
	})
	if err != nil {
		return err
	}
	return w.printObject(o, obj)
}

func newWaitCommand(o *rootOptions) *cobra.Command {
	var forCond string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait NAME [--for=complete|failed] [--timeout=DURATION]",
		Short: "Wait until a BatchJob is Complete or Failed; the exit status says which",
		Long: `Wait until the BatchJob has finished (condition Complete=True or Failed=True).

Exit status: 0 when it reached the condition asked for (--for, default complete); 1 when it
finished the other way (with --for=complete: it failed) or on any error; 2 when --timeout
passed first (0 waits forever).`,
		Example: `  # In a script: stop if the job failed
  kubectl batchjob wait migrate --timeout=10m || exit 1

  # Expect a failure
  kubectl batchjob wait crash --for=failed`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			want, ok := map[string]v1alpha1.JobConditionType{"complete": v1alpha1.JobComplete, "failed": v1alpha1.JobFailed}[forCond]
			if !ok {
				return fmt.Errorf("--for must be complete or failed, not %q", forCond)
			}
			return runWait(cmd.Context(), o, args[0], want, timeout)
		},
	}
	cmd.Flags().StringVar(&forCond, "for", "complete", "the condition to wait for: complete or failed")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long (0: wait forever)")
	return cmd
}

// runWait polls the job once a second: simpler than a watch and as fast as a person or a
// script needs, and it survives API server restarts without resync logic.
func runWait(ctx context.Context, o *rootOptions, name string, want v1alpha1.JobConditionType, timeout time.Duration) error {
	cl, err := o.clients()
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	for {
		_, job, err := cl.getBatchJob(ctx, name)
		switch {
		case err == nil:
			if done, err := waitOutcome(job, want, o); done {
				return err
			}
		case apierrors.IsNotFound(err) || ctx.Err() == nil && !isTransient(err):
			return err
		}
		select {
		case <-ctx.Done():
			return &exitError{code: 2, msg: fmt.Sprintf("timed out after %v waiting for batchjob/%s to be %s", timeout, name, want)}
		case <-time.After(time.Second):
		}
	}
}

// waitOutcome reports whether job has finished and, if so, the error (nil when it
// finished as wanted).
func waitOutcome(job *v1alpha1.BatchJob, want v1alpha1.JobConditionType, o *rootOptions) (bool, error) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue || (c.Type != v1alpha1.JobComplete && c.Type != v1alpha1.JobFailed) {
			continue
		}
		if c.Type == want {
			fmt.Fprintf(o.streams.Out, "batchjob.batchjob.dev/%s condition met: %s\n", job.Name, c.Type)
			return true, nil
		}
		msg := fmt.Sprintf("batchjob/%s is %s, not %s", job.Name, c.Type, want)
		if c.Reason != "" {
			msg += fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
		}
		return true, &exitError{code: 1, msg: msg}
	}
	return false, nil
}

// isTransient is true for errors worth retrying during a wait (the server was briefly
// unavailable, a request timed out).
func isTransient(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // connection errors
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err)
}
