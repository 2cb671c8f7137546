package api

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	bj "github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
)

// TestKubectlTable reads the list as `kubectl get batchjobs` does (server-side printing).
func TestKubectlTable(t *testing.T) {
	job := create(t, testutil.MakeBareBatchJob(uniqueName("table"), ns).Completions(5).Obj())
	start := metav1.NewTime(time.Now().Add(-90 * time.Second).Truncate(time.Second))
	if err := updateStatus(t, job, func(s *bj.BatchJobStatus) {
		s.StartTime, s.Active, s.Succeeded = &start, 2, 3
		bj.SetPrintFields(job, s, start.Add(90*time.Second))
	}); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	table := &metav1.Table{}
	err = cs.RESTClient().Get().AbsPath("/apis/batchjob.dev/v1alpha1/namespaces", ns, "batchjobs").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(ctxT(t)).Into(table)
	if err != nil {
		t.Fatal(err)
	}
	var columns []string
	for _, c := range table.ColumnDefinitions {
		columns = append(columns, c.Name)
	}
	if diff := cmp.Diff([]string{"Name", "Status", "Completions", "Duration", "Age"}, columns); diff != "" {
		t.Errorf("columns (-want,+got):\n%s", diff)
	}
	for _, row := range table.Rows {
		if row.Cells[0] != job.Name {
			continue
		}
		if diff := cmp.Diff([]any{job.Name, "Running", "3/5", "90s"}, row.Cells[:4]); diff != "" {
			t.Errorf("cells (-want,+got):\n%s", diff)
		}
		return
	}
	t.Fatalf("no row for %s in %d rows", job.Name, len(table.Rows))
}
