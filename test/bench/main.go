// Command bench measures one Job controller running one workload on a fresh cluster
// (hack/bench.sh starts a new cluster for every workload and every controller, runs this
// once per pair, and then runs it with -report to print the comparison):
//
//	go run ./test/bench -workload small -kind Job -pid KCM_PID -apiserver-pid PID \
//	    -audit-log .../logs/audit.log -out small-upstream.json
//	go run ./test/bench -workload small -kind BatchJob -pid OUR_PID ... -out small-batchjob.json
//	go run ./test/bench -report tmp/bench -workloads small -markdown tmp/bench/results.md
//
// Workloads (sizes settable by flags, e.g. -jobs 4 -completions 3 for a smoke run):
//
//   - small: -jobs × -completions at -parallelism (100 × 20 at 5), all created at once;
//   - indexed: one Indexed job of -indexed-completions at -indexed-parallelism (2,000 at 100);
//   - failures: like small, but Indexed with backoffLimitPerIndex 1, and every other job's
//     pods fail their first attempt (the KWOK stage pod-fail-attempts.yaml fails a pod
//     while batchjob.dev/simulate-fail-attempts exceeds its index's failure count), so
//     exactly half the indexes fail once, the same ones for both controllers;
//   - onepod: -onepod-jobs one-pod jobs created at -onepod-rate per second;
//   - scale: one Indexed job of -scale-completions at -scale-parallelism (20,000 at 1,000),
//     checked for exact final counts, with the size of its final status;
//   - memory: -memory-jobs jobs of -memory-pods-per-job pods each (5,000 × 2), left
//     finished with their pods, then the controller's RSS after -settle.
//
// The window ends once no event has been written for a few seconds after -settle (at most
// -drain-max later): a controller that queues its events pays for them in the window.
//
// Measured for each: the requests every client sent, by verb and resource, from the
// kube-apiserver audit log (-audit-log; one RequestReceived event per request, attributed
// by user agent, see metrics.go), apiserver_request_total as a cross-check, the CPU time
// of kube-apiserver, of the controller and of kube-controller-manager (/proc), the
// controller's RSS and peak RSS, pods per second and each job's create → Complete latency.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// userAgentName is the bench's own, so that its requests are told apart from the
// controller's.
const userAgentName = "batchjob-bench"

var workloadNames = []string{"small", "indexed", "failures", "onepod", "scale", "memory"}

type options struct {
	kind      string
	workload  string
	namespace string

	jobs, completions, parallelism         int
	indexedCompletions, indexedParallelism int
	onepodJobs                             int
	onepodRate                             float64
	scaleCompletions, scaleParallelism     int
	memoryJobs, memoryPodsPerJob           int
	podDuration                            string
	settle, drainMax                       time.Duration
	pid, apiserverPID, kcmPID              int
	auditLog                               string
	out                                    string
	timeout                                time.Duration
	report, workloads, markdown, command   string
	qps, burst, syncs                      string
	commit                                 string
	notes                                  string
}

func main() {
	var o options
	flag.StringVar(&o.kind, "kind", "BatchJob", "Job (upstream batch/v1) or BatchJob")
	flag.StringVar(&o.workload, "workload", "small", "one of "+strings.Join(workloadNames, ", "))
	flag.StringVar(&o.namespace, "namespace", "bench", "namespace to create")
	flag.IntVar(&o.jobs, "jobs", 100, "small, failures: number of jobs")
	flag.IntVar(&o.completions, "completions", 20, "small, failures: completions of each job")
	flag.IntVar(&o.parallelism, "parallelism", 5, "small, failures: parallelism of each job")
	flag.IntVar(&o.indexedCompletions, "indexed-completions", 2000, "indexed: completions of the one job")
	flag.IntVar(&o.indexedParallelism, "indexed-parallelism", 100, "indexed: its parallelism")
	flag.IntVar(&o.onepodJobs, "onepod-jobs", 300, "onepod: number of one-pod jobs")
	flag.Float64Var(&o.onepodRate, "onepod-rate", 10, "onepod: jobs created per second")
	flag.IntVar(&o.scaleCompletions, "scale-completions", 20000, "scale: completions of the one Indexed job")
	flag.IntVar(&o.scaleParallelism, "scale-parallelism", 1000, "scale: its parallelism")
	flag.IntVar(&o.memoryJobs, "memory-jobs", 5000, "memory: number of jobs left finished")
	flag.IntVar(&o.memoryPodsPerJob, "memory-pods-per-job", 2, "memory: completions (= parallelism) of each")
	flag.StringVar(&o.podDuration, "pod-duration", "1s", "simulated run time of every pod")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "wait after the last job finished before the counters are read (memory: 30s at least)")
	flag.DurationVar(&o.drainMax, "drain-max", 3*time.Minute, "after -settle, wait until no event is written for "+eventsQuiet.String()+", at most this long, so that events a controller queued are counted")
	flag.IntVar(&o.pid, "pid", 0, "PID of the controller process (kube-controller-manager for -kind Job)")
	flag.IntVar(&o.apiserverPID, "apiserver-pid", 0, "PID of kube-apiserver")
	flag.IntVar(&o.kcmPID, "kcm-pid", 0, "PID of kube-controller-manager (its CPU is reported for both kinds)")
	flag.StringVar(&o.auditLog, "audit-log", "", "kube-apiserver's audit log (rotated files beside it are read too)")
	flag.StringVar(&o.out, "out", "", "write the result as JSON to this file")
	flag.DurationVar(&o.timeout, "timeout", 0, "bound of the run (default 30m; scale and memory 90m)")
	flag.StringVar(&o.report, "report", "", "print the comparison of the results in this directory (WORKLOAD-upstream.json, WORKLOAD-batchjob.json) and exit")
	flag.StringVar(&o.workloads, "workloads", strings.Join(workloadNames, ","), "-report: the workloads to compare")
	flag.StringVar(&o.markdown, "markdown", "", "-report: also write the comparison as Markdown to this file")
	flag.StringVar(&o.command, "command", "", "-report: the command that produced the results, for the Markdown")
	flag.StringVar(&o.commit, "commit", "", "-report: the commit measured, for the Markdown")
	flag.StringVar(&o.qps, "qps", "", "-report: the client budget both controllers had (for the Markdown)")
	flag.StringVar(&o.burst, "burst", "", "-report: the burst both controllers had")
	flag.StringVar(&o.syncs, "syncs", "", "-report: the concurrent syncs both controllers had")
	flag.StringVar(&o.notes, "notes", "", "-report: one more line for the Markdown")
	flag.Parse()

	if o.report != "" {
		fatal(report(os.Stdout, o))
		return
	}
	if o.timeout == 0 {
		o.timeout = 30 * time.Minute
		if o.workload == "scale" || o.workload == "memory" {
			o.timeout = 90 * time.Minute
		}
	}
	res, err := run(o)
	fatal(err)
	data, _ := json.MarshalIndent(res, "", "  ")
	if o.out != "" {
		fatal(os.WriteFile(o.out, data, 0o644))
	}
	fmt.Println(string(data))
}

func fatal(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 1000, 2000 // the load generator must not be the bottleneck
	cfg.UserAgent = userAgentName
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	w := &workload{o: o, cs: cs, dyn: dyn, gvr: gvrOf(o.kind)}
	specs, rate, err := w.specs()
	if err != nil {
		return nil, err
	}
	if err := w.createNamespace(ctx); err != nil {
		return nil, err
	}
	if err := w.ready(ctx, &specs[0]); err != nil {
		return nil, err
	}
	res := &result{Workload: o.workload, Kind: o.kind, Shape: w.shape(), Jobs: len(specs)}

	start := time.Now()
	totalsBefore, err := scrapeRequests(ctx, cs)
	if err != nil {
		return nil, err
	}
	cpu0, api0, kcm0 := cpuSeconds(o.pid), cpuSeconds(o.apiserverPID), cpuSeconds(o.kcmPID)
	fmt.Fprintf(os.Stderr, "bench: %s, %s: %s\n", o.workload, o.kind, res.Shape)
	out, err := w.runJobs(ctx, specs, rate)
	if err != nil {
		return nil, err
	}
	settle := o.settle
	if o.workload == "memory" && settle < 30*time.Second {
		settle = 30 * time.Second
	}
	time.Sleep(settle)
	if err := drainEvents(ctx, cs, o.drainMax); err != nil {
		return nil, err
	}
	end := time.Now()
	res.ControllerCPUSeconds = cpuSeconds(o.pid) - cpu0
	res.APIServerCPUSeconds = cpuSeconds(o.apiserverPID) - api0
	res.KCMCPUSeconds = cpuSeconds(o.kcmPID) - kcm0
	res.RSSMiB, res.PeakRSSMiB = memory(o.pid)
	totalsAfter, err := scrapeRequests(ctx, cs)
	if err != nil {
		return nil, err
	}
	res.AllClientsRequests = delta(totalsBefore, totalsAfter)

	res.PodsSucceeded, res.PodsFailed = out.succeeded, out.failed
	res.Seconds = out.elapsed.Seconds()
	if res.Seconds > 0 {
		res.PodsPerSecond = float64(out.succeeded) / res.Seconds
	}
	res.LatencyP50Ms, res.LatencyP99Ms = percentile(out.latencies, 50), percentile(out.latencies, 99)
	res.WindowSeconds = end.Sub(start).Seconds()
	if o.workload == "scale" {
		res.Scale = checkScale(out.last, int64(o.scaleCompletions))
	}
	if o.auditLog != "" {
		// The audit backend writes before the response (blocking mode); a moment for the
		// file system, then every request received in the window.
		time.Sleep(time.Second)
		res.Requests, err = auditRequests(o.auditLog, start, end)
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}
