// Command bench measures one Job controller on a running cluster (hack/bench.sh runs it
// twice, for the upstream batch/v1 Job controller and for the BatchJob controller, on
// the same kwokctl cluster, and then prints the comparison):
//
//   - throughput: N jobs × C completions at parallelism P, created at once; finished pods
//     per second from the first create to the last Complete condition;
//
//   - latency: L one-pod jobs, one after another, create → Complete condition seen by a
//     watch (p50, p95);
//
//   - API writes per finished pod, from the kube-apiserver's apiserver_request_total
//     counters before and after the throughput run;
//
//   - the controller process's resident memory and CPU time (from /proc/PID).
//
//     go run ./test/bench -kind Job -pid PID -out upstream.json
//     go run ./test/bench -kind BatchJob -pid PID -out batchjob.json
//     go run ./test/bench -compare upstream.json,batchjob.json
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

type options struct {
	kind         string
	namespace    string
	jobs         int
	completions  int
	parallelism  int
	latencyJobs  int
	podDuration  string
	pid          int
	apiserverPID int
	out          string
	compare      string
	timeout      time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.kind, "kind", "BatchJob", "Job (upstream batch/v1) or BatchJob")
	flag.StringVar(&o.namespace, "namespace", "", "namespace to create (default bench-<kind>)")
	flag.IntVar(&o.jobs, "jobs", 20, "jobs in the throughput run")
	flag.IntVar(&o.completions, "completions", 50, "completions of each throughput job")
	flag.IntVar(&o.parallelism, "parallelism", 10, "parallelism of each throughput job")
	flag.IntVar(&o.latencyJobs, "latency-jobs", 20, "one-pod jobs in the latency run")
	flag.StringVar(&o.podDuration, "pod-duration", "1s", "simulated run time of each pod (throughput run)")
	flag.IntVar(&o.pid, "pid", 0, "PID of the controller process, for memory and CPU")
	flag.IntVar(&o.apiserverPID, "apiserver-pid", 0, "PID of kube-apiserver, for the CPU the run costs it")
	flag.StringVar(&o.out, "out", "", "write the result as JSON to this file")
	flag.StringVar(&o.compare, "compare", "", "print the comparison of two result files UPSTREAM,BATCHJOB and exit")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound of the whole run")
	flag.Parse()

	if o.compare != "" {
		files := strings.Split(o.compare, ",")
		if len(files) != 2 {
			fatal(fmt.Errorf("-compare wants two files separated by a comma"))
		}
		fatal(compare(os.Stdout, files[0], files[1]))
		return
	}
	if o.namespace == "" {
		o.namespace = "bench-" + strings.ToLower(o.kind)
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
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	w := &workload{o: o, cs: cs, dyn: dyn, gvr: gvrOf(o.kind)}
	if err := w.createNamespace(ctx); err != nil {
		return nil, err
	}
	res := &result{Kind: o.kind, Jobs: o.jobs, Completions: o.completions, Parallelism: o.parallelism}

	before, err := scrapeWrites(ctx, cs)
	if err != nil {
		return nil, err
	}
	cpuBefore, apiCPUBefore := cpuSeconds(o.pid), cpuSeconds(o.apiserverPID)
	elapsed, err := w.throughput(ctx)
	if err != nil {
		return nil, err
	}
	after, err := scrapeWrites(ctx, cs)
	if err != nil {
		return nil, err
	}
	pods := float64(o.jobs * o.completions)
	res.ThroughputSeconds = elapsed.Seconds()
	res.PodsPerSecond = pods / elapsed.Seconds()
	res.WritesPerPod = perPod(before, after, pods)
	res.ControllerCPUSeconds = cpuSeconds(o.pid) - cpuBefore
	res.APIServerCPUSeconds = cpuSeconds(o.apiserverPID) - apiCPUBefore
	res.RSSMiB, res.PeakRSSMiB = memory(o.pid)

	lat, err := w.latency(ctx)
	if err != nil {
		return nil, err
	}
	res.LatencyP50Ms, res.LatencyP95Ms = percentile(lat, 50), percentile(lat, 95)
	return res, nil
}
