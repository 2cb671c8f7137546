package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

type logsOptions struct {
	follow    bool
	failed    bool
	index     int
	container string
	tail      int64
}

func newLogsCommand(o *rootOptions) *cobra.Command {
	l := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs NAME [-f] [--index=N] [--failed]",
		Short: "Print the logs of a BatchJob's pods, each line prefixed with its pod (and index)",
		Long: `Print the logs of every pod of the BatchJob (the pods labelled
batchjob.dev/controller-uid=<the job's uid>, oldest first), each line prefixed with
"POD[INDEX]/CONTAINER:" (the container only when the pod has several). Pods that have not
started have no logs and are skipped. With -f the logs of all selected pods are followed
at once, their lines interleaved as they come.`,
		Example: `  kubectl batchjob logs work
  kubectl batchjob logs work --index=3 -f
  kubectl batchjob logs work --failed --tail=20`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("index") {
				l.index = -1
			}
			return runLogs(cmd.Context(), o, l, args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&l.follow, "follow", "f", false, "stream the logs")
	f.BoolVar(&l.failed, "failed", false, "only pods that failed")
	f.IntVar(&l.index, "index", 0, "only the pods of this completion index (Indexed jobs)")
	f.StringVarP(&l.container, "container", "c", "", "only this container")
	f.Int64Var(&l.tail, "tail", -1, "lines of the end of each log to show (-1: all)")
	return cmd
}

func runLogs(ctx context.Context, o *rootOptions, l *logsOptions, name string) error {
	cl, err := o.clients()
	if err != nil {
		return err
	}
	_, job, err := cl.getBatchJob(ctx, name)
	if err != nil {
		return err
	}
	list, err := cl.kube.CoreV1().Pods(cl.ns).List(ctx, metav1.ListOptions{
		LabelSelector: v1alpha1.ControllerUIDLabel + "=" + string(job.UID),
	})
	if err != nil {
		return err
	}
	pods := selectLogPods(list.Items, l.index, l.failed)
	if len(pods) == 0 {
		fmt.Fprintf(o.streams.ErrOut, "batchjob/%s has no pods with logs that match\n", name)
		return nil
	}
	var sources []logSource
	for i := range pods {
		sources = append(sources, logSources(&pods[i], l.container)...)
	}
	return streamLogs(ctx, o, cl, sources, l)
}

// selectLogPods are the pods that may have logs (a container started), filtered by index
// and --failed, oldest first (by index first for Indexed jobs).
func selectLogPods(pods []corev1.Pod, index int, failedOnly bool) []corev1.Pod {
	var out []corev1.Pod
	for i := range pods {
		p := &pods[i]
		if failedOnly && p.Status.Phase != corev1.PodFailed {
			continue
		}
		if index >= 0 && p.Labels[v1alpha1.JobCompletionIndexAnnotation] != strconv.Itoa(index) {
			continue
		}
		if p.Status.Phase == corev1.PodPending && !anyStarted(p.Status.InitContainerStatuses) {
			continue
		}
		out = append(out, *p)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := podIndex(&out[i]), podIndex(&out[j])
		if a != b {
			return a < b
		}
		return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp)
	})
	return out
}

func anyStarted(statuses []corev1.ContainerStatus) bool {
	for _, cs := range statuses {
		if cs.State.Running != nil || cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

func podIndex(p *corev1.Pod) int {
	if n, err := strconv.Atoi(p.Labels[v1alpha1.JobCompletionIndexAnnotation]); err == nil {
		return n
	}
	return -1
}

// logSource is one container's log and the prefix of its lines.
type logSource struct {
	pod, container, prefix string
}

func logSources(p *corev1.Pod, only string) []logSource {
	prefix := p.Name
	if ix := podIndex(p); ix >= 0 {
		prefix += fmt.Sprintf("[%d]", ix)
	}
	var out []logSource
	for _, c := range p.Spec.Containers {
		if only != "" && c.Name != only {
			continue
		}
		pre := prefix
		if len(p.Spec.Containers) > 1 {
			pre += "/" + c.Name
		}
		out = append(out, logSource{pod: p.Name, container: c.Name, prefix: pre + ": "})
	}
	return out
}

// streamLogs copies each source's log to stdout, line by line with its prefix: one after
// the other, or all at once when following. A source that fails is reported on stderr and
// the others go on; the command fails if any did.
func streamLogs(ctx context.Context, o *rootOptions, cl *clients, sources []logSource, l *logsOptions) error {
	var mu sync.Mutex
	var failed int
	one := func(s logSource) {
		opts := &corev1.PodLogOptions{Container: s.container, Follow: l.follow}
		if l.tail >= 0 {
			opts.TailLines = &l.tail
		}
		err := copyLog(ctx, cl, s, opts, o.streams.Out, &mu)
		if err != nil && !errors.Is(err, context.Canceled) {
			mu.Lock()
			failed++
			fmt.Fprintf(o.streams.ErrOut, "%s: cannot read the log of %s/%s: %v\n", s.prefix[:len(s.prefix)-2], s.pod, s.container, err)
			mu.Unlock()
		}
	}
	if !l.follow {
		for _, s := range sources {
			one(s)
		}
	} else {
		var wg sync.WaitGroup
		for _, s := range sources {
			wg.Go(func() { one(s) })
		}
		wg.Wait()
	}
	if failed > 0 {
		return fmt.Errorf("could not read %d of %d logs", failed, len(sources))
	}
	return nil
}

func copyLog(ctx context.Context, cl *clients, s logSource, opts *corev1.PodLogOptions, out io.Writer, mu *sync.Mutex) error {
	rc, err := cl.kube.CoreV1().Pods(cl.ns).GetLogs(s.pod, opts).Stream(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		mu.Lock()
		_, err := fmt.Fprintf(out, "%s%s\n", s.prefix, sc.Text())
		mu.Unlock()
		if err != nil {
			return err
		}
	}
	return sc.Err()
}
