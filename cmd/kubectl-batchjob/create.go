package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// createOptions are the flags of `create`, named as kubectl create job names them where
// it has them.
type createOptions struct {
	image         string
	from          string
	completions   int32
	parallelism   int32
	backoffLimit  int32
	deadline      int64
	ttl           int32
	indexed       bool
	suspend       bool
	restartPolicy string
}

func newCreateCommand(o *rootOptions) *cobra.Command {
	c := &createOptions{}
	w := addWriteFlags("created")
	cmd := &cobra.Command{
		Use:   "create NAME --image=IMAGE [flags] [-- COMMAND [ARGS...]] | create NAME --from=job/OTHER",
		Short: "Create a BatchJob from an image and command, or from an existing Job or CronJob",
		Long: `Create a BatchJob, as kubectl create job creates a Job: one container named after the
job, restartPolicy Never, the command after --. With --from=job/NAME or --from=cronjob/NAME
the new BatchJob takes its spec from that batch/v1 Job or CronJob's jobTemplate (without the
generated selector and labels).`,
		Example: `  # Print "Hello" once
  kubectl batchjob create hello --image=busybox:1.36 -- echo Hello

  # Five indexed pods, two at a time, each failure retried at most twice
  kubectl batchjob create work --image=busybox:1.36 --indexed --completions=5 --parallelism=2 \
    --backoff-limit=2 -- sh -c 'echo index $JOB_COMPLETION_INDEX'

  # Run a CronJob's job now, as a BatchJob
  kubectl batchjob create backup-manual --from=cronjob/backup

  # Show the manifest without creating it
  kubectl batchjob create hello --image=busybox:1.36 --dry-run=client -o yaml -- echo Hello`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.validate(); err != nil {
				return err
			}
			command := args[1:]
			if cmd.ArgsLenAtDash() != 1 && len(command) > 0 {
				return errors.New("put the command after --: create NAME --image=IMAGE -- COMMAND ARGS")
			}
			return runCreate(cmd.Context(), o, w, c, cmd, args[0], command)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.image, "image", "", "image of the job's container")
	f.StringVar(&c.from, "from", "", "take the spec from job/NAME or cronjob/NAME (batch/v1)")
	f.Int32Var(&c.completions, "completions", 0, "spec.completions: successful pods needed (unset: 1, or a work queue with --parallelism)")
	f.Int32Var(&c.parallelism, "parallelism", 0, "spec.parallelism: pods running at once")
	f.Int32Var(&c.backoffLimit, "backoff-limit", 0, "spec.backoffLimit: failed pods before the job fails (default 6)")
	f.Int64Var(&c.deadline, "active-deadline-seconds", 0, "spec.activeDeadlineSeconds")
	f.Int32Var(&c.ttl, "ttl-seconds-after-finished", 0, "spec.ttlSecondsAfterFinished")
	f.BoolVar(&c.indexed, "indexed", false, "completionMode Indexed (needs --completions): each pod gets JOB_COMPLETION_INDEX")
	f.BoolVar(&c.suspend, "suspend", false, "create it suspended (resume with `kubectl batchjob resume`)")
	f.StringVar(&c.restartPolicy, "restart", "Never", "the pods' restartPolicy: Never or OnFailure")
	w.addTo(cmd)
	return cmd
}

func runCreate(ctx context.Context, o *rootOptions, w *writeFlags, c *createOptions, cmd *cobra.Command, name string, command []string) error {
	cl, err := o.clients()
	if err != nil {
		return err
	}
	var obj *unstructured.Unstructured
	if c.from != "" {
		if c.image != "" || len(command) > 0 {
			return errors.New("--from takes the pod template from the source: --image and a command cannot be given with it")
		}
		obj, err = fromSource(ctx, o, cl, c.from, name)
	} else {
		obj, err = c.imageJob(name, command)
	}
	if err != nil {
		return err
	}
	c.applyFlags(obj, cmd)
	return createObject(ctx, o, w, cl, obj)
}

// imageJob is what `kubectl create job NAME --image=IMAGE -- COMMAND` builds, as a BatchJob.
func (c *createOptions) imageJob(name string, command []string) (*unstructured.Unstructured, error) {
	if c.image == "" {
		return nil, errors.New("--image is required (or --from=job/NAME|cronjob/NAME)")
	}
	job := &v1alpha1.BatchJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "BatchJob"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.BatchJobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers:    []corev1.Container{{Name: name, Image: c.image, Command: command}},
			RestartPolicy: corev1.RestartPolicy(c.restartPolicy),
		}}},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(job)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	u := &unstructured.Unstructured{Object: m}
	meta, _ := nestedMap(m, "metadata")
	delete(meta, "creationTimestamp")
	tmeta, _ := nestedMap(m, "spec", "template", "metadata")
	delete(tmeta, "creationTimestamp")
	return u, nil
}

// applyFlags sets the spec fields whose flags were given, over either source.
func (c *createOptions) applyFlags(obj *unstructured.Unstructured, cmd *cobra.Command) {
	set := func(flag string, v any, path ...string) {
		if cmd.Flags().Changed(flag) {
			_ = unstructured.SetNestedField(obj.Object, v, append([]string{"spec"}, path...)...)
		}
	}
	set("completions", int64(c.completions), "completions")
	set("parallelism", int64(c.parallelism), "parallelism")
	set("backoff-limit", int64(c.backoffLimit), "backoffLimit")
	set("active-deadline-seconds", c.deadline, "activeDeadlineSeconds")
	set("ttl-seconds-after-finished", int64(c.ttl), "ttlSecondsAfterFinished")
	set("suspend", c.suspend, "suspend")
	if c.indexed {
		_ = unstructured.SetNestedField(obj.Object, string(v1alpha1.IndexedCompletion), "spec", "completionMode")
	}
}

// fromSource reads job/NAME or cronjob/NAME and converts it.
func fromSource(ctx context.Context, o *rootOptions, cl *clients, from, name string) (*unstructured.Unstructured, error) {
	kind, src, ok := strings.Cut(from, "/")
	if !ok || src == "" {
		return nil, fmt.Errorf("--from=%q: want job/NAME or cronjob/NAME", from)
	}
	var obj *unstructured.Unstructured
	var warnings []string
	switch strings.ToLower(kind) {
	case "job", "jobs", "job.batch", "jobs.batch":
		job, err := cl.kube.BatchV1().Jobs(cl.ns).Get(ctx, src, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		m, err := toMap(job, "batch/v1", "Job")
		if err != nil {
			return nil, err
		}
		if obj, warnings, err = jobToBatchJob(m); err != nil {
			return nil, err
		}
		obj.SetName(name)
	case "cronjob", "cronjobs", "cj", "cronjob.batch", "cronjobs.batch":
		cj, err := cl.kube.BatchV1().CronJobs(cl.ns).Get(ctx, src, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		m, err := toMap(cj, "batch/v1", "CronJob")
		if err != nil {
			return nil, err
		}
		if obj, warnings, err = cronJobToBatchJob(m, name); err != nil {
			return nil, err
		}
		// As kubectl create job --from=cronjob marks a manual run.
		annotate(obj, "cronjob.kubernetes.io/instantiate", "manual")
	default:
		return fromBatchCronJob(ctx, o, cl, from, kind, src, name)
	}
	for _, w := range warnings {
		fmt.Fprintf(o.streams.ErrOut, "Warning: %s: %s\n", from, w)
	}
	return obj, nil
}

func toMap(obj runtime.Object, apiVersion, kind string) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	m["apiVersion"], m["kind"] = apiVersion, kind
	return m, nil
}

func annotate(obj *unstructured.Unstructured, key, value string) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	obj.SetAnnotations(a)
}

// createObject creates obj in the flags' namespace (or only prints it with
// --dry-run=client) and prints the result. Field validation is Strict so that a field
// the server's CRD lacks is an error rather than silently pruned.
func createObject(ctx context.Context, o *rootOptions, w *writeFlags, cl *clients, obj *unstructured.Unstructured) error {
	obj.SetNamespace(cl.ns)
	if w.dryRun == "client" {
		return w.printObject(o, obj)
	}
	created, err := cl.jobs.Create(ctx, obj, metav1.CreateOptions{
		DryRun: w.serverDryRun(), FieldValidation: metav1.FieldValidationStrict, FieldManager: "kubectl-batchjob",
	})
	if err != nil {
		return err
	}
	return w.printObject(o, created)
}
