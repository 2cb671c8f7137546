package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	apiversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/batchjob-dev/batchjob/internal/api/v1alpha1"
)

// Every request the process sends, whatever its resource type or client, draws on one
// token bucket: under --kube-api-qps=2 --kube-api-burst=2 a server sees at most
// burst + qps*elapsed requests (+1 for rounding at the edges), however many goroutines of
// however many clients try. The clients are built as ctrl.NewManager builds them: one
// http.Client, controller-runtime's dynamic RESTMapper (discovery) and client.New (a REST
// client per resource type: pods, BatchJobs), the events.k8s.io client of its event
// recorder, and the coordination client of its leader election (from a copy of the
// config). With a token bucket per client, as rest.Config.QPS/Burst alone give, the same
// load gets about five times the budget and this test fails.
//
// This bounds a count of requests; it asserts nothing about how fast anything is.
func TestOneClientBudget(t *testing.T) {
	const (
		qps     = 2
		burst   = 2
		window  = 1500 * time.Millisecond
		workers = 8 // per request type
		ns      = "default"
	)
	var total atomic.Int64
	var mu sync.Mutex
	byPath := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total.Add(1)
		mu.Lock()
		byPath[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		fakeAPIServer(t, w, r)
	}))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("the test server listens on %s, want 127.0.0.1", srv.URL)
	}

	cfg, err := clientConfig(&rest.Config{Host: srv.URL}, qps, burst)
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{HTTPClient: httpClient, Scheme: scheme, Mapper: mapper})
	if err != nil {
		t.Fatal(err)
	}
	events, err := eventsv1client.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	// controller-runtime's leader election: rest.AddUserAgent copies the config.
	leases, err := coordinationv1client.NewForConfig(rest.AddUserAgent(cfg, "leader-election"))
	if err != nil {
		t.Fatal(err)
	}
	disco, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}

	key := types.NamespacedName{Namespace: ns, Name: "x"}
	requests := map[string]func(context.Context) error{
		"pods":      func(ctx context.Context) error { return c.Get(ctx, key, &corev1.Pod{}) },
		"batchjobs": func(ctx context.Context) error { return c.Get(ctx, key, &v1alpha1.BatchJob{}) },
		"events": func(ctx context.Context) error {
			ev := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: ns}, EventTime: metav1.NowMicro(),
				Reason: "Test", Action: "Test", ReportingController: "test", ReportingInstance: "test", Type: corev1.EventTypeNormal}
			_, err := events.Events(ns).Create(ctx, ev, metav1.CreateOptions{})
			return err
		},
		"leases": func(ctx context.Context) error {
			_, err := leases.Leases(ns).Get(ctx, "x", metav1.GetOptions{})
			return err
		},
		"discovery": func(ctx context.Context) error {
			return disco.RESTClient().Get().AbsPath("/version").Do(ctx).Error()
		},
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var wg sync.WaitGroup
	var served atomic.Int64
	for name, do := range requests {
		for range workers {
			wg.Go(func() {
				// A request the bucket cannot serve before the deadline fails at once
				// without being sent; that ends this worker.
				for {
					if err := do(ctx); err != nil {
						if ctx.Err() == nil && !strings.Contains(err.Error(), "rate") {
							t.Errorf("%s: %v", name, err)
						}
						return
					}
					served.Add(1)
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)

	got := total.Load()
	limit := burst + qps*elapsed.Seconds() + 1
	mu.Lock()
	t.Logf("%d requests in %v (%d answered to the workers), limit %.1f: %v", got, elapsed.Round(time.Millisecond), served.Load(), limit, byPath)
	mu.Unlock()
	if float64(got) > limit {
		t.Errorf("the server saw %d requests in %v under qps %d, burst %d: more than burst + qps*elapsed + 1 = %.1f, "+
			"so the clients do not share one token bucket", got, elapsed.Round(time.Millisecond), qps, burst, limit)
	}
	if served.Load() == 0 {
		t.Error("no request succeeded: the fake API server does not answer what the clients send")
	}
}

// fakeAPIServer answers discovery for the groups the clients use, and any other request
// with an object of the resource named in its path.
func fakeAPIServer(t *testing.T, w http.ResponseWriter, r *http.Request) {
	resources := func(gv string, rs ...metav1.APIResource) *metav1.APIResourceList {
		for i := range rs {
			rs[i].Namespaced = true
			rs[i].Verbs = metav1.Verbs{"get", "list", "watch", "create", "update", "patch", "delete"}
		}
		return &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv, APIResources: rs}
	}
	group := func(name, version string) metav1.APIGroup {
		gv := metav1.GroupVersionForDiscovery{GroupVersion: name + "/" + version, Version: version}
		return metav1.APIGroup{Name: name, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv}
	}
	path := r.URL.Path
	var body any
	switch {
	case path == "/version":
		body = &apiversion.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2"}
	case path == "/api":
		body = &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}}
	case path == "/apis":
		body = &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{
			group(v1alpha1.GroupVersion.Group, v1alpha1.GroupVersion.Version),
			group(eventsv1.GroupName, "v1"),
			group(coordinationv1.GroupName, "v1"),
		}}
	case path == "/api/v1":
		body = resources("v1", metav1.APIResource{Name: "pods", SingularName: "pod", Kind: "Pod"})
	case path == "/apis/"+v1alpha1.GroupVersion.String():
		body = resources(v1alpha1.GroupVersion.String(), metav1.APIResource{Name: "batchjobs", SingularName: "batchjob", Kind: "BatchJob"})
	case path == "/apis/events.k8s.io/v1":
		body = resources("events.k8s.io/v1", metav1.APIResource{Name: "events", SingularName: "event", Kind: "Event"})
	case path == "/apis/coordination.k8s.io/v1":
		body = resources("coordination.k8s.io/v1", metav1.APIResource{Name: "leases", SingularName: "lease", Kind: "Lease"})
	default:
		meta := metav1.ObjectMeta{Name: "x", Namespace: "default"}
		switch {
		case strings.Contains(path, "/pods"):
			body = &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}, ObjectMeta: meta}
		case strings.Contains(path, "/batchjobs"):
			body = &v1alpha1.BatchJob{TypeMeta: metav1.TypeMeta{Kind: "BatchJob", APIVersion: v1alpha1.GroupVersion.String()}, ObjectMeta: meta}
		case strings.Contains(path, "/events"):
			body = &eventsv1.Event{TypeMeta: metav1.TypeMeta{Kind: "Event", APIVersion: "events.k8s.io/v1"}, ObjectMeta: meta}
		case strings.Contains(path, "/leases"):
			body = &coordinationv1.Lease{TypeMeta: metav1.TypeMeta{Kind: "Lease", APIVersion: "coordination.k8s.io/v1"}, ObjectMeta: meta}
		default:
			t.Errorf("unexpected request %s %s", r.Method, path)
			http.NotFound(w, r)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusCreated)
	}
	if err := json.NewEncoder(w).Encode(body); err != nil {
		t.Errorf("encoding the answer to %s: %v", path, err)
	}
}
