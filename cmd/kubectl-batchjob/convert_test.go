package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

func TestConvertGolden(t *testing.T) {
	for _, tc := range []struct {
		file, output, golden string
		warnings             []string
	}{
		{file: "testdata/job.yaml", output: "yaml", golden: "convert-job.golden"},
		{file: "testdata/cronjob.yaml", output: "yaml", golden: "convert-cronjob.golden",
			warnings: []string{"Warning: testdata/cronjob.yaml: spec.scheduling: BatchJob has no such field; dropped"}},
		{file: "testdata/cronjob.yaml", output: "name", golden: "convert-cronjob-name.golden",
			warnings: []string{"Warning: testdata/cronjob.yaml: spec.scheduling: BatchJob has no such field; dropped"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			o, out, errOut := testOptions("")
			pf := genericclioptions.NewPrintFlags("converted").WithDefaultOutput(tc.output)
			if err := runConvert(o, pf, []string{tc.file}); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, out.Bytes())
			var warnings []string
			if s := strings.TrimSpace(errOut.String()); s != "" {
				warnings = strings.Split(s, "\n")
			}
			if diff := cmp.Diff(tc.warnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConvertStdinJSONList(t *testing.T) {
	in := `{"apiVersion":"batch/v1","kind":"JobList","items":[{"metadata":{"name":"a","uid":"u1"},
	  "spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}},
	  "status":{"succeeded":1}}]}`
	o, out, _ := testOptions(in)
	pf := genericclioptions.NewPrintFlags("converted").WithDefaultOutput("json")
	if err := runConvert(o, pf, []string{"-"}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{`"kind": "BatchJob"`, `"name": "a"`, `"image": "i"`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"uid", "status", "succeeded"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("output has %s:\n%s", unwanted, got)
		}
	}
}

func TestConvertRejectsOtherKinds(t *testing.T) {
	o, _, _ := testOptions("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n")
	pf := genericclioptions.NewPrintFlags("converted").WithDefaultOutput("yaml")
	err := runConvert(o, pf, []string{"-"})
	if err == nil || !strings.Contains(err.Error(), `v1 Pod "p" is not a batch Job`) {
		t.Fatalf("got %v, want an error naming the Pod", err)
	}
}

func TestCronJobToBatchJobName(t *testing.T) {
	cj := map[string]any{"apiVersion": "batch/v1", "kind": "CronJob",
		"metadata": map[string]any{"name": "nightly", "namespace": "ops"},
		"spec":     map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"completions": int64(2)}}}}
	obj, _, err := cronJobToBatchJob(cj, "nightly-manual")
	if err != nil {
		t.Fatal(err)
	}
	if obj.GetName() != "nightly-manual" || obj.GetNamespace() != "ops" || obj.GetKind() != "BatchJob" {
		t.Errorf("got %s/%s kind %s", obj.GetNamespace(), obj.GetName(), obj.GetKind())
	}
	// The input is not changed: conversion copies.
	if _, ok := cj["spec"].(map[string]any)["jobTemplate"].(map[string]any)["metadata"]; ok {
		t.Error("cronJobToBatchJob changed its input's jobTemplate")
	}
}
