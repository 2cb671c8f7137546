package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

type result struct {
	Workload      string  `json:"workload"`
	Kind          string  `json:"kind"`
	Shape         string  `json:"shape"`
	Jobs          int     `json:"jobs"`
	PodsSucceeded int64   `json:"podsSucceeded"`
	PodsFailed    int64   `json:"podsFailed"`
	Seconds       float64 `json:"seconds"` // first create → last Complete
	WindowSeconds float64 `json:"windowSeconds"`
	PodsPerSecond float64 `json:"podsPerSecond"`
	LatencyP50Ms  float64 `json:"latencyP50Ms"` // job create → Complete
	LatencyP99Ms  float64 `json:"latencyP99Ms"`
	// Requests counts the requests received in the window by client, then by "verb
	// resource" (audit log; see auditRequests).
	Requests map[string]map[string]float64 `json:"requests"`
	// AllClientsRequests is apiserver_request_total's growth, every client.
	AllClientsRequests   map[string]float64 `json:"allClientsRequests"`
	ControllerCPUSeconds float64            `json:"controllerCPUSeconds"`
	APIServerCPUSeconds  float64            `json:"apiserverCPUSeconds"`
	KCMCPUSeconds        float64            `json:"kcmCPUSeconds"`
	RSSMiB               float64            `json:"rssMiB"`
	PeakRSSMiB           float64            `json:"peakRSSMiB"`
	Scale                *scaleCheck        `json:"scale,omitempty"`
}

type scaleCheck struct {
	Exact            bool   `json:"exact"`
	Problem          string `json:"problem,omitempty"`
	Succeeded        int64  `json:"succeeded"`
	Failed           int64  `json:"failed"`
	CompletedIndexes string `json:"completedIndexes"`
	StatusBytes      int    `json:"statusBytes"`
	ObjectBytes      int    `json:"objectBytes"`
}

func (r *result) finishedPods() float64 { return float64(r.PodsSucceeded + r.PodsFailed) }

// controllerRequests sums the controller's requests that match.
func (r *result) controllerRequests(match func(verb, resource string) bool) float64 {
	sum := 0.0
	for k, v := range r.Requests[clientController] {
		verb, resource, _ := strings.Cut(k, " ")
		if match(verb, resource) {
			sum += v
		}
	}
	return sum
}

// commonName names the job resource of both kinds "jobs", and events of both API groups
// (core v1 and events.k8s.io) "events", so that the two sides line up row by row.
func commonName(key string) string {
	verb, resource, _ := strings.Cut(key, " ")
	base, sub, hasSub := strings.Cut(resource, "/")
	switch base {
	case "jobs.batch", "batchjobs.batchjob.dev":
		base = "jobs"
	case "events.events.k8s.io":
		base = "events"
	}
	if hasSub {
		base += "/" + sub
	}
	return verb + " " + base
}

// controllerByCommonName is the controller's requests keyed by commonName.
func (r *result) controllerByCommonName() map[string]float64 {
	out := map[string]float64{}
	for k, v := range r.Requests[clientController] {
		out[commonName(k)] += v
	}
	return out
}

func isEvent(resource string) bool { return strings.HasPrefix(resource, "events") }
func isRead(verb string) bool      { return verb == "get" || verb == "list" || verb == "watch" }

func load(path string) (*result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r result
	return &r, json.Unmarshal(data, &r)
}

// row is one line of a comparison: a value for each controller and their ratio.
type row struct {
	name   string
	format string
	up, bj float64
	text   [2]string // instead of the numbers, when set
}

func (r row) cells() (up, bj, ratio string) {
	if r.text[0] != "" || r.text[1] != "" {
		return r.text[0], r.text[1], ""
	}
	ratio = "-"
	if r.up != 0 {
		ratio = fmt.Sprintf("%.2f", r.bj/r.up)
	}
	return fmt.Sprintf(r.format, r.up), fmt.Sprintf(r.format, r.bj), ratio
}

// rows compares one workload's two results. Per pod means per finished pod (succeeded
// plus failed, from the jobs' final statuses), each side divided by its own count.
func rows(up, bj *result) (summary, detail []row) {
	per := func(r *result, v float64) float64 {
		if r.finishedPods() == 0 {
			return 0
		}
		return v / r.finishedPods()
	}
	all := func(string, string) bool { return true }
	writes := func(verb, res string) bool { return !isRead(verb) && !isEvent(res) }
	events := func(_, res string) bool { return isEvent(res) }
	reads := func(verb, res string) bool { return isRead(verb) && !isEvent(res) }
	pr := func(name string, f func(verb, resource string) bool) row {
		return row{name: name, format: "%.2f", up: per(up, up.controllerRequests(f)), bj: per(bj, bj.controllerRequests(f))}
	}
	summary = []row{
		{name: "pods finished (succeeded + failed)", format: "%.0f", up: up.finishedPods(), bj: bj.finishedPods()},
		{name: "throughput (pods/s)", format: "%.1f", up: up.PodsPerSecond, bj: bj.PodsPerSecond},
		{name: "first create → last Complete (s)", format: "%.1f", up: up.Seconds, bj: bj.Seconds},
		{name: "job create → Complete p50 (ms)", format: "%.0f", up: up.LatencyP50Ms, bj: bj.LatencyP50Ms},
		{name: "job create → Complete p99 (ms)", format: "%.0f", up: up.LatencyP99Ms, bj: bj.LatencyP99Ms},
		pr("controller requests / pod", all),
		pr("  writes / pod (no events)", writes),
		pr("  events / pod", events),
		pr("  reads / pod (get, list, watch)", reads),
		{name: "kube-apiserver CPU (s)", format: "%.1f", up: up.APIServerCPUSeconds, bj: bj.APIServerCPUSeconds},
		{name: "kube-apiserver CPU / pod (ms)", format: "%.1f", up: 1000 * per(up, up.APIServerCPUSeconds), bj: 1000 * per(bj, bj.APIServerCPUSeconds)},
		{name: "controller CPU (s)", format: "%.1f", up: up.ControllerCPUSeconds, bj: bj.ControllerCPUSeconds},
		{name: "kube-controller-manager CPU (s)", format: "%.1f", up: up.KCMCPUSeconds, bj: bj.KCMCPUSeconds},
		{name: "controller RSS at the end (MiB)", format: "%.0f", up: up.RSSMiB, bj: bj.RSSMiB},
		{name: "controller peak RSS (MiB)", format: "%.0f", up: up.PeakRSSMiB, bj: bj.PeakRSSMiB},
	}
	if up.Scale != nil || bj.Scale != nil {
		check := func(s *scaleCheck) string {
			switch {
			case s == nil:
				return "-"
			case s.Exact:
				return fmt.Sprintf("exact (succeeded %d, %q)", s.Succeeded, s.CompletedIndexes)
			}
			return "WRONG: " + s.Problem
		}
		size := func(s *scaleCheck) float64 {
			if s == nil {
				return 0
			}
			return float64(s.StatusBytes)
		}
		summary = append(summary,
			row{name: "final counts", text: [2]string{check(up.Scale), check(bj.Scale)}},
			row{name: "final status size (bytes, JSON)", format: "%.0f", up: size(up.Scale), bj: size(bj.Scale)})
	}

	// Every request by verb and resource: the controller's, then the other clients' totals
	// (the same work for both sides: they show the comparison is like for like).
	// Jobs are jobs.batch or batchjobs.batchjob.dev, events core or events.k8s.io.
	upBy, bjBy := up.controllerByCommonName(), bj.controllerByCommonName()
	keys := map[string]bool{}
	for _, m := range []map[string]float64{upBy, bjBy} {
		for k := range m {
			keys[k] = true
		}
	}
	for _, k := range sortedKeys(keys) {
		detail = append(detail, row{name: "controller: " + k, format: "%.3f", up: per(up, upBy[k]), bj: per(bj, bjBy[k])})
	}
	clients := map[string]bool{}
	for _, r := range []*result{up, bj} {
		for c := range r.Requests {
			if c != clientController {
				clients[c] = true
			}
		}
	}
	sum := func(m map[string]float64) float64 {
		s := 0.0
		for _, v := range m {
			s += v
		}
		return s
	}
	for _, c := range sortedKeys(clients) {
		detail = append(detail, row{name: c + ": all requests", format: "%.3f",
			up: per(up, sum(up.Requests[c])), bj: per(bj, sum(bj.Requests[c]))})
	}
	detail = append(detail, row{name: "every client (apiserver_request_total, leases too)", format: "%.3f",
		up: per(up, sum(up.AllClientsRequests)), bj: per(bj, sum(bj.AllClientsRequests))})
	return summary, detail
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// report prints every workload's comparison as a table, and writes them as Markdown.
func report(w io.Writer, o options) error {
	var md strings.Builder
	writeMachine(&md, o)
	found := 0
	for _, name := range strings.Split(o.workloads, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		up, err1 := load(filepath.Join(o.report, name+"-upstream.json"))
		bj, err2 := load(filepath.Join(o.report, name+"-batchjob.json"))
		if err := errors.Join(err1, err2); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(w, "%s: no result for both controllers (%v)\n\n", name, err)
				fmt.Fprintf(&md, "### %s\n\nNo result for both controllers.\n\n", name)
				continue
			}
			return err
		}
		found++
		summary, detail := rows(up, bj)
		fmt.Fprintf(w, "== %s: %s\n", name, up.Shape)
		if bj.Shape != up.Shape {
			fmt.Fprintf(w, "   (BatchJob run: %s)\n", bj.Shape)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "metric\tbatch/v1 Job\tBatchJob\tBatchJob/Job\t")
		for _, r := range append(append(summary, row{name: "per finished pod, by client", text: [2]string{" ", " "}}), detail...) {
			a, b, ratio := r.cells()
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.name, a, b, ratio)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)

		fmt.Fprintf(&md, "### %s\n\n%s.\n\n", name, up.Shape)
		markdownTable(&md, summary)
		fmt.Fprintf(&md, "<details><summary>Requests per finished pod, by client and by verb and resource</summary>\n\n")
		markdownTable(&md, detail)
		fmt.Fprintf(&md, "</details>\n\n")
	}
	if found == 0 {
		return fmt.Errorf("no workload with results for both controllers in %s", o.report)
	}
	if o.markdown != "" {
		if err := os.WriteFile(o.markdown, []byte(md.String()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "Markdown for test/bench/RESULTS.md: %s\n", o.markdown)
	}
	return nil
}

func markdownTable(md *strings.Builder, rs []row) {
	md.WriteString("| metric | batch/v1 Job (kube-controller-manager) | BatchJob | BatchJob/Job |\n|---|--:|--:|--:|\n")
	for _, r := range rs {
		a, b, ratio := r.cells()
		fmt.Fprintf(md, "| %s | %s | %s | %s |\n", strings.TrimSpace(r.name), a, b, ratio)
	}
	md.WriteString("\n")
}

// writeMachine writes what the results were measured on and with.
func writeMachine(md *strings.Builder, o options) {
	cpuModel, memTotal := "", ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				var kb float64
				if _, err := fmt.Sscan(f[1], &kb); err == nil {
					memTotal = fmt.Sprintf("%.1f GiB", kb/1024/1024)
				}
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Fprintf(md, "## Run of %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(md, "- Machine: %d CPUs (%s), %s memory, Linux %s\n", runtime.NumCPU(), cpuModel, memTotal, strings.TrimSpace(string(kernel)))
	fmt.Fprintf(md, "- Go: %s; commit: %s\n", runtime.Version(), o.commit)
	if o.qps != "" {
		fmt.Fprintf(md, "- Both controllers: --kube-api-qps=%s --kube-api-burst=%s, %s concurrent syncs (kube-controller-manager --concurrent-job-syncs, batchjob-controller --concurrent-syncs)\n",
			o.qps, o.burst, o.syncs)
	}
	if o.command != "" {
		fmt.Fprintf(md, "- Command: `%s`\n", o.command)
	}
	if o.notes != "" {
		fmt.Fprintf(md, "- %s\n", o.notes)
	}
	md.WriteString("- Ratios are BatchJob / batch/v1 Job; per pod = per finished pod (succeeded + failed). Requests are the controller's own, from the audit log (see test/bench/RESULTS.md, Method).\n\n")
}
