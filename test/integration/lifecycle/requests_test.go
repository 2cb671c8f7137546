package lifecycle

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
	"github.com/batchjob-dev/batchjob/internal/testutil"
	"github.com/batchjob-dev/batchjob/test/integration/framework"
)

// requestCounter counts the requests a controller sends, as "VERB resource[/subresource]".
type requestCounter struct {
	mu  sync.Mutex
	got map[string]int
}

func (c *requestCounter) wrap(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			key := req.Method + " " + resourceOf(req.URL.Path)
			if req.URL.Query().Get("watch") == "true" {
				key = "WATCH " + resourceOf(req.URL.Path)
			}
			c.mu.Lock()
			c.got[key]++
			c.mu.Unlock()
			return rt.RoundTrip(req)
		})
	})
}

func (c *requestCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.got)
}

// resourceOf reduces a request path to its resource and subresource:
// /apis/g/v/namespaces/ns/batchjobs/name/status -> batchjobs/status.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) > 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) > 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return path // discovery
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	switch len(parts) {
	case 0:
		return path
	case 3:
		return parts[0] + "/" + parts[2]
	}
	return parts[0]
}

// TestRequestsPerOnePodJob counts every request the controller sends for one-pod jobs run
// one after another (writes, reads and events), per job, and holds it to what the job's
// states need: the selector patch, one pod create, a status write per state (start, ready,
// success recorded, Complete), one finalizer patch, and two events (SuccessfulCreate,
// Completed); no GET (the cache serves every read). make bench compares the same counts
// with upstream's.
func TestRequestsPerOnePodJob(t *testing.T) {
	ns := env.NewNamespace(t, "rq")
	counter := &requestCounter{got: map[string]int{}}
	env.StartTestController(t, framework.ControllerOptions{Namespaces: []string{ns}, WrapConfig: counter.wrap})
	time.Sleep(time.Second) // let the caches' LIST and WATCH settle before counting
	before := counter.snapshot()
	const jobs = 5
	for i := range jobs {
		job := env.CreateJob(t, testutil.MakeBatchJob(fmt.Sprintf("one-%d", i), ns).Obj())
		env.WaitForActivePods(t, job, 1)
		if _, err := env.SetJobPodsReady(job, 1); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, "ready 1", func() (bool, string) {
			r := ptr.Deref(env.GetJob(t, job).Status.Ready, 0)
			return r == 1, fmt.Sprintf("ready %d", r)
		})
		if _, err := env.SetJobPodsPhase(job, corev1.PodSucceeded, 1); err != nil {
			t.Fatal(err)
		}
		env.WaitForCondition(t, job, v1alpha1.JobComplete, "")
	}
	time.Sleep(2 * time.Second) // events are sent asynchronously
	after := counter.snapshot()
	per := map[string]float64{}
	total := 0.0
	for k, v := range after {
		if d := v - before[k]; d > 0 && !strings.HasPrefix(k, "WATCH ") {
			per[k] = float64(d) / jobs
			total += per[k]
		}
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(per)) {
		lines = append(lines, fmt.Sprintf("%s %.1f", k, per[k]))
	}
	t.Logf("requests per one-pod job: %.1f: %s", total, strings.Join(lines, ", "))
	want := map[string]float64{
		"PATCH batchjobs": 1, "PUT batchjobs/status": 4, "POST pods": 1, "PATCH pods": 1, "POST events": 2,
	}
	for k, n := range per {
		if n > want[k] {
			t.Errorf("%s: %.1f per job, want at most %.0f", k, n, want[k])
		}
	}
}
