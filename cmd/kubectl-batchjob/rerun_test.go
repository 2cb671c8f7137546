package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/batchjob-dev/batchjob/internal/indexset"
)

func TestRemainingIndexes(t *testing.T) {
	for _, tc := range []struct {
		completions         int
		selected, completed string
		want                string
	}{
		{completions: 5, want: "0-4"},
		{completions: 5, completed: "0-4", want: ""},
		{completions: 13, completed: "0-2,4-6,8,13", want: "3,7,9-12"},
		{completions: 13, selected: "3,7,9-12", completed: "7,10", want: "3,9,11,12"},
		{completions: 4, selected: "1-3", completed: "0", want: "1-3"},
		{completions: 0, want: ""},
		// Indexes beyond completions (scaled down) are not rerun.
		{completions: 3, selected: "1-9", want: "1,2"},
	} {
		if got := remainingIndexes(tc.completions, tc.selected, tc.completed); got != tc.want {
			t.Errorf("remainingIndexes(%d, %q, %q) = %q, want %q", tc.completions, tc.selected, tc.completed, got, tc.want)
		}
	}
}

func TestDifference(t *testing.T) {
	a := indexset.Set{{First: 0, Last: 9}, {First: 20, Last: 25}}
	b := indexset.Set{{First: 0, Last: 0}, {First: 3, Last: 4}, {First: 9, Last: 21}, {First: 25, Last: 30}}
	if got, want := difference(a, b).String(), "1,2,5-8,22-24"; got != want {
		t.Errorf("difference = %q, want %q", got, want)
	}
	if got := difference(nil, b); got != nil {
		t.Errorf("difference(nil, b) = %v", got)
	}
}

func TestNextRerunName(t *testing.T) {
	existing := []string{"work", "work-rerun-1", "work-rerun-7", "work-rerun-x", "other-rerun-9", "work-rerun-3-rerun-1"}
	if got := nextRerunName("work", existing); got != "work-rerun-8" {
		t.Errorf("got %s, want work-rerun-8", got)
	}
	if got := nextRerunName("fresh", existing); got != "fresh-rerun-1" {
		t.Errorf("got %s, want fresh-rerun-1", got)
	}
}

// storedJob is an Indexed BatchJob as the API server returns it after the controller ran it.
const storedJob = `apiVersion: batchjob.dev/v1alpha1
kind: BatchJob
metadata:
  name: render
  namespace: art
  uid: 11111111-2222-3333-4444-555555555555
  resourceVersion: "42"
  labels: {team: art, job-name: render}
  annotations: {note: keep}
spec:
  completionMode: Indexed
  completions: 6
  parallelism: 3
  backoffLimitPerIndex: 1
  manualSelector: false
  suspend: true
  selector:
    matchLabels: {batchjob.dev/controller-uid: 11111111-2222-3333-4444-555555555555}
  template:
    metadata:
      labels:
        app: render
        batchjob.dev/controller-uid: 11111111-2222-3333-4444-555555555555
        batchjob.dev/job-name: render
        controller-uid: 11111111-2222-3333-4444-555555555555
        job-name: render
    spec:
      restartPolicy: Never
      containers: [{name: r, image: busybox:1.36}]
status:
  completedIndexes: 0,2,5
  failedIndexes: "1"
  failed: 2
  succeeded: 3
`

func decode(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestBuildRerun(t *testing.T) {
	orig := decode(t, storedJob)
	got, err := buildRerun(orig, "render-rerun-1", true)
	if err != nil {
		t.Fatal(err)
	}
	want := decode(t, `apiVersion: batchjob.dev/v1alpha1
kind: BatchJob
metadata:
  name: render-rerun-1
  namespace: art
  labels: {team: art, batchjob.dev/rerun-of: render}
  annotations: {note: keep}
spec:
  completionMode: Indexed
  completions: 6
  parallelism: 3
  backoffLimitPerIndex: 1
  manualSelector: false
  completionIndexes: 1,3,4
  template:
    metadata:
      labels: {app: render}
    spec:
      restartPolicy: Never
      containers: [{name: r, image: busybox:1.36}]
`)
	if diff := cmp.Diff(want.Object, got.Object); diff != "" {
		t.Errorf("rerun (-want +got):\n%s", diff)
	}
	if orig.GetLabels()["job-name"] != "render" || orig.Object["status"] == nil {
		t.Error("buildRerun changed the original object")
	}

	all, err := buildRerun(orig, "render-rerun-2", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, found, _ := unstructured.NestedString(all.Object, "spec", "completionIndexes"); found {
		t.Error("a plain rerun has spec.completionIndexes")
	}
}

func TestBuildRerunFailedIndexesErrors(t *testing.T) {
	nonIndexed := decode(t, strings.Replace(storedJob, "completionMode: Indexed", "completionMode: NonIndexed", 1))
	if _, err := buildRerun(nonIndexed, "x", true); err == nil || !strings.Contains(err.Error(), "needs an Indexed BatchJob") {
		t.Errorf("NonIndexed: got %v", err)
	}
	done := decode(t, strings.Replace(storedJob, "completedIndexes: 0,2,5", "completedIndexes: 0-5", 1))
	if _, err := buildRerun(done, "x", true); err == nil || !strings.Contains(err.Error(), "nothing to rerun") {
		t.Errorf("all succeeded: got %v", err)
	}
}
