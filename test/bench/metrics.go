package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Clients the requests are attributed to (auditRequests).
const (
	clientController = "controller"
	clientKCMOther   = "kube-controller-manager, other controllers"
	clientBench      = "bench (creates and watches the jobs)"
)

var labelRE = regexp.MustCompile(`(\w+)="([^"]*)"`)

// auditEvent is what the bench reads of a kube-apiserver audit event (level Metadata).
type auditEvent struct {
	Stage     string `json:"stage"`
	Verb      string `json:"verb"`
	UserAgent string `json:"userAgent"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
}

// auditRequests counts the requests kube-apiserver received between start and end, by
// client and then by "verb resource[.group][/subresource]", from its audit log: the
// policy (test/bench/audit-policy.yaml) logs every request but leases once, at
// RequestReceived, so watches still open at the end are counted too. Rotated files
// (audit-TIME.log beside the log) are read as well.
//
// The client is told by the user agent. Our controller's is batchjob-controller/...
// (everything it sends: pods, BatchJobs, events, discovery). kube-controller-manager's
// controllers each append their name to its user agent; its job controller's own client
// is .../job-controller, and the shared informers it reads pods and jobs through are
// .../shared-informers, counted for the job controller when they are on pods or jobs
// (it is the only controller running there that watches them). Everything else
// (kube-scheduler, KWOK, the bench, kube-controller-manager's serviceaccount-controller
// and leader election) is counted under its own name and not charged to either.
func auditRequests(path string, start, end time.Time) (map[string]map[string]float64, error) {
	files, err := filepath.Glob(filepath.Join(filepath.Dir(path), "audit*.log"))
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]float64{}
	for _, f := range files {
		if err := readAudit(f, start, end, out); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no requests between %s and %s in %s", start.Format(time.RFC3339), end.Format(time.RFC3339), path)
	}
	return out, nil
}

func readAudit(path string, start, end time.Time, out map[string]map[string]float64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			// kube-apiserver is still writing: the last line can be cut short (and is
			// after the window). Any other broken line is an error.
			if !sc.Scan() {
				break
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		if ev.Stage != "RequestReceived" || ev.RequestReceivedTimestamp.Before(start) || ev.RequestReceivedTimestamp.After(end) {
			continue
		}
		key := ev.Verb + " nonresource"
		resource := ""
		if r := ev.ObjectRef; r != nil && r.Resource != "" {
			resource = r.Resource
			if r.APIGroup != "" {
				resource += "." + r.APIGroup
			}
			if r.Subresource != "" {
				resource += "/" + r.Subresource
			}
			key = ev.Verb + " " + resource
		}
		c := clientOf(ev.UserAgent, resource)
		if out[c] == nil {
			out[c] = map[string]float64{}
		}
		out[c][key]++
	}
	return sc.Err()
}

// clientOf attributes a request by its user agent (see auditRequests).
func clientOf(userAgent, resource string) string {
	program, _, _ := strings.Cut(userAgent, "/")
	suffix := userAgent[strings.LastIndexByte(userAgent, '/')+1:]
	switch program {
	case "batchjob-controller":
		return clientController
	case "kube-controller-manager":
		base, _, _ := strings.Cut(resource, "/")
		if suffix == "job-controller" || (suffix == "shared-informers" && (base == "pods" || base == "jobs.batch")) {
			return clientController
		}
		return clientKCMOther
	case userAgentName:
		return clientBench
	case "":
		return "unknown"
	}
	return program
}

// scrapeRequests reads kube-apiserver's apiserver_request_total and sums it by
// "VERB resource[/subresource]", for every client (a cross-check of the audit counts).
func scrapeRequests(ctx context.Context, cs kubernetes.Interface) (map[string]float64, error) {
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the apiserver metrics: %w", err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		labels := map[string]string{}
		for _, m := range labelRE.FindAllStringSubmatch(line[:end], -1) {
			labels[m[1]] = m[2]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", line, err)
		}
		key := labels["resource"]
		if key == "" {
			key = "nonresource"
		}
		if labels["subresource"] != "" {
			key += "/" + labels["subresource"]
		}
		out[labels["verb"]+" "+key] += v
	}
	return out, sc.Err()
}

// eventsQuiet is how long no event may be written before the window closes.
const eventsQuiet = 5 * time.Second

// drainEvents waits, at most max, until kube-apiserver has received no event write
// (any client, apiserver_request_total) for eventsQuiet.
func drainEvents(ctx context.Context, cs kubernetes.Interface, max time.Duration) error {
	deadline := time.Now().Add(max)
	last, quietSince := -1.0, time.Now()
	for {
		totals, err := scrapeRequests(ctx, cs)
		if err != nil {
			return err
		}
		n := totals["POST events"] + totals["PATCH events"]
		now := time.Now()
		if n != last {
			last, quietSince = n, now
		}
		if now.Sub(quietSince) >= eventsQuiet || now.After(deadline) {
			return nil
		}
		time.Sleep(time.Second)
	}
}

// delta is the growth of each counter.
func delta(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// cpuSeconds is the user+system CPU time of a process (0 without a PID).
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may contain spaces.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// memory returns the current and peak resident set size of a process, in MiB.
func memory(pid int) (rss, peak float64) {
	if pid == 0 {
		return 0, 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// jsonSize is the length of v marshalled as JSON.
func jsonSize(v any) (int, error) {
	data, err := json.Marshal(v)
	return len(data), err
}
