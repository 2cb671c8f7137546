package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// TestCronJob: the sample BatchCronJob (`*/1 * * * *`) on the real clock creates a
// BatchJob at the next minute, named after it, annotated and owned as a CronJob's Job is,
// which completes through the KWOK stages; `kubectl get bcj` prints a CronJob's columns,
// `kubectl batchjob create --from=batchcronjob/hello` runs it by hand, and a merge patch
// suspends it. About 70 s, most of it waiting for the minute.
func TestCronJob(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t, "e2e-cronjob")
	applyYAML(t, ns, "@"+filepath.Join(root, "config", "samples", "recurring", "batchcronjob.yaml"))
	created := time.Now()

	var job v1alpha1.BatchJob
	eventually(t, 75*time.Second, "a BatchJob of the BatchCronJob", func() (bool, string) {
		var list v1alpha1.BatchJobList
		if err := json.Unmarshal([]byte(mustKubectl(t, "get", "batchjobs", "-n", ns, "-l", "app=hello", "-o", "json")), &list); err != nil {
			t.Fatalf("decoding BatchJobs: %v", err)
		}
		if len(list.Items) == 0 {
			return false, "none"
		}
		job = list.Items[0]
		return true, ""
	})
	t.Logf("%s created %v after the BatchCronJob", job.Name, time.Since(created).Round(time.Second))

	scheduled, err := time.Parse(time.RFC3339, job.Annotations[v1alpha1.CronJobScheduledTimestampAnnotation])
	if err != nil {
		t.Fatalf("scheduled-timestamp annotation %q: %v", job.Annotations[v1alpha1.CronJobScheduledTimestampAnnotation], err)
	}
	if want := fmt.Sprintf("hello-%d", scheduled.Unix()/60); job.Name != want || scheduled.Second() != 0 {
		t.Errorf("job %s scheduled at %v, want name %s and a whole minute", job.Name, scheduled, want)
	}
	if len(job.OwnerReferences) != 1 || job.OwnerReferences[0].Kind != "BatchCronJob" || job.OwnerReferences[0].Name != "hello" {
		t.Errorf("owner references %+v, want the BatchCronJob hello", job.OwnerReferences)
	}
	mustKubectl(t, "wait", "-n", ns, "--for=condition=Complete", "batchjob/"+job.Name, "--timeout=60s")
	eventually(t, 30*time.Second, "status.lastSuccessfulTime", func() (bool, string) {
		out := mustKubectl(t, "get", "bcj", "hello", "-n", ns, "-o", "jsonpath={.status.lastSuccessfulTime}")
		return out != "", "unset"
	})

	table := mustKubectl(t, "get", "bcj", "-n", ns)
	for _, want := range []string{"SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE", "*/1 * * * *", "false"} {
		if !strings.Contains(table, want) {
			t.Errorf("kubectl get bcj lacks %q:\n%s", want, table)
		}
	}
	if describe := mustKubectl(t, "describe", "bcj", "hello", "-n", ns); !strings.Contains(describe, "SuccessfulCreate") {
		t.Errorf("kubectl describe bcj shows no SuccessfulCreate event:\n%s", describe)
	}
	// A run by hand, through the plugin as kubectl runs it.
	mustPlugin(t, "create", "hello-manual", "--from=batchcronjob/hello", "-n", ns)
	mustKubectl(t, "wait", "-n", ns, "--for=condition=Complete", "batchjob/hello-manual", "--timeout=60s")

	mustKubectl(t, "patch", "bcj", "hello", "-n", ns, "--type=merge", "-p", `{"spec":{"suspend":true}}`)
	if out := mustKubectl(t, "get", "bcj", "hello", "-n", ns, "-o", "jsonpath={.spec.suspend}"); out != "true" {
		t.Errorf("spec.suspend = %q after the patch, want true", out)
	}
}
