// Command kubectl-batchjob is a kubectl plugin for BatchJobs (`kubectl batchjob ...` once it
// is on PATH). It follows kubectl's conventions through k8s.io/cli-runtime: kubeconfig,
// --context and -n/--namespace from ConfigFlags, -o yaml|json|name printers, and
// --dry-run=client|server on the verbs that write.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// exitError carries an exit status other than 1, so that scripts can tell outcomes apart
// (wait: the job ended the other way, or the wait timed out).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := newRootCommand(streams)
	// Ctrl-C cancels the requests in flight (logs -f, wait) instead of killing mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// rootOptions is what every verb shares: where the cluster is and where to print.
type rootOptions struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
}

func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &rootOptions{flags: genericclioptions.NewConfigFlags(true), streams: streams}
	cmd := &cobra.Command{
		Use: "kubectl-batchjob",
		// kubectl runs the plugin as `kubectl batchjob`; help and usage say so.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl batchjob"},
		Short:       "Create, convert, rerun, inspect and control BatchJobs (batchjob.dev/v1alpha1)",
		Long: `kubectl batchjob works with BatchJobs, the batchjob.dev/v1alpha1 resource that behaves
like a batch/v1 Job. It reads the same kubeconfig, --context and -n/--namespace as kubectl.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	o.flags.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		newCreateCommand(o),
		newConvertCommand(o),
		newRerunCommand(o),
		newStatusCommand(o),
		newLogsCommand(o),
		newSuspendCommand(o, true),
		newSuspendCommand(o, false),
		newWaitCommand(o),
	)
	return cmd
}
