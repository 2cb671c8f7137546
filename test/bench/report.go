package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

type result struct {
	Kind                 string             `json:"kind"`
	Jobs                 int                `json:"jobs"`
	Completions          int                `json:"completions"`
	Parallelism          int                `json:"parallelism"`
	ThroughputSeconds    float64            `json:"throughputSeconds"`
	PodsPerSecond        float64            `json:"podsPerSecond"`
	LatencyP50Ms         float64            `json:"latencyP50Ms"`
	LatencyP95Ms         float64            `json:"latencyP95Ms"`
	WritesPerPod         map[string]float64 `json:"writesPerPod"`
	ControllerCPUSeconds float64            `json:"controllerCPUSeconds"`
	APIServerCPUSeconds  float64            `json:"apiserverCPUSeconds"`
	RSSMiB               float64            `json:"rssMiB"`
	PeakRSSMiB           float64            `json:"peakRSSMiB"`
}

// controllerWrites sums the writes a job controller itself makes per pod: pods (create,
// finalizer patches, deletes — KWOK only writes pods/status, the scheduler
// pods/binding) and the job objects with their status, but not the jobs' creation (the
// benchmark's own POSTs). Events are left out: the scheduler writes them too.
func (r *result) controllerWrites() float64 {
	sum := 0.0
	for k, v := range r.WritesPerPod {
		f := strings.Fields(k)
		res, verb := f[0], f[1]
		job := strings.HasPrefix(res, "jobs") || strings.HasPrefix(res, "batchjobs")
		if (job && !(verb == "POST" && !strings.Contains(res, "/"))) || res == "pods" {
			sum += v
		}
	}
	return sum
}

func (r *result) totalWrites() float64 {
	sum := 0.0
	for _, v := range r.WritesPerPod {
		sum += v
	}
	return sum
}

func load(path string) (*result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r result
	return &r, json.Unmarshal(data, &r)
}

// compare prints the two results side by side with BatchJob/upstream ratios.
func compare(w io.Writer, upstreamFile, batchjobFile string) error {
	up, err := load(upstreamFile)
	if err != nil {
		return err
	}
	bj, err := load(batchjobFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d jobs × %d completions, parallelism %d (%d pods); latency: one-pod jobs, sequential\n\n",
		up.Jobs, up.Completions, up.Parallelism, up.Jobs*up.Completions)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tbatch/v1 Job (kube-controller-manager)\tBatchJob\tratio BatchJob/Job\t")
	row := func(name, format string, a, b float64) {
		ratio := "-"
		if a != 0 {
			ratio = fmt.Sprintf("%.2f", b/a)
		}
		fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%s\t\n", name, a, b, ratio)
	}
	row("throughput (pods/s)", "%.1f", up.PodsPerSecond, bj.PodsPerSecond)
	row("throughput run (s)", "%.1f", up.ThroughputSeconds, bj.ThroughputSeconds)
	row("latency p50 (ms)", "%.0f", up.LatencyP50Ms, bj.LatencyP50Ms)
	row("latency p95 (ms)", "%.0f", up.LatencyP95Ms, bj.LatencyP95Ms)
	row("controller writes / pod", "%.2f", up.controllerWrites(), bj.controllerWrites())
	row("all API writes / pod", "%.2f", up.totalWrites(), bj.totalWrites())
	row("controller CPU (s, throughput run)", "%.1f", up.ControllerCPUSeconds, bj.ControllerCPUSeconds)
	row("kube-apiserver CPU (s, throughput run)", "%.1f", up.APIServerCPUSeconds, bj.APIServerCPUSeconds)
	row("controller RSS (MiB)", "%.0f", up.RSSMiB, bj.RSSMiB)
	row("controller peak RSS (MiB)", "%.0f", up.PeakRSSMiB, bj.PeakRSSMiB)
	fmt.Fprintln(tw, "\t\t\t\t")
	fmt.Fprintln(tw, "API writes / pod by resource\t\t\t\t")
	keys := map[string]bool{}
	for k := range up.WritesPerPod {
		keys[k] = true
	}
	for k := range bj.WritesPerPod {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		row("  "+k, "%.3f", up.WritesPerPod[k], bj.WritesPerPod[k])
	}
	return tw.Flush()
}
