package framework

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/batchjob-dev/batchjob/internal/metrics"
)

// CounterValue reads one series of a counter vector; a series never touched reads 0.
func CounterValue(vec *prometheus.CounterVec, labels ...string) (float64, error) {
	c, err := vec.GetMetricWithLabelValues(labels...)
	if err != nil {
		return 0, err
	}
	return counterOf(c)
}

// Counter reads a counter without labels.
func Counter(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	v, err := counterOf(c)
	if err != nil {
		t.Fatalf("Reading metric: %v", err)
	}
	return v
}

func counterOf(c prometheus.Counter) (float64, error) {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0, err
	}
	return m.GetCounter().GetValue(), nil
}

func mustCounterValue(t testing.TB, vec *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	v, err := CounterValue(vec, labels...)
	if err != nil {
		t.Fatalf("Reading metric %v: %v", labels, err)
	}
	return v
}

// ValidateCounterMetric waits until the counter series has the value want.
func ValidateCounterMetric(t testing.TB, vec *prometheus.CounterVec, want float64, labels ...string) {
	t.Helper()
	Eventually(t, fmt.Sprintf("metric %v == %v", labels, want), func() (bool, string) {
		got := mustCounterValue(t, vec, labels...)
		return got == want, fmt.Sprint(got)
	})
}

// ResetMetrics mirrors upstream's resetMetrics for the collectors we have. Metrics are
// process-wide: only tests that run the only controller may reset them; tests sharing a
// controller compare deltas (CounterDelta).
func ResetMetrics() {
	metrics.TerminatedPodsTrackingFinalizerTotal.Reset()
	metrics.JobsFinishedTotal.Reset()
	metrics.PodsFinishedTotal.Reset()
	metrics.PodFailuresHandledByFailurePolicy.Reset()
	metrics.PodsCreationTotal.Reset()
	metrics.FinishedIndexesTotal.Reset()
}

// CounterDelta remembers the values of some series of a counter vector, to check later
// how much they moved.
type CounterDelta struct {
	vec    *prometheus.CounterVec
	before map[string]float64
}

// NewCounterDelta reads the given series (each a list of label values) now.
func NewCounterDelta(t testing.TB, vec *prometheus.CounterVec, series ...[]string) *CounterDelta {
	t.Helper()
	d := &CounterDelta{vec: vec, before: map[string]float64{}}
	for _, s := range series {
		d.before[strings.Join(s, "/")] = mustCounterValue(t, vec, s...)
	}
	return d
}

// Validate waits until the series moved by want since NewCounterDelta.
func (d *CounterDelta) Validate(t testing.TB, want int, labels ...string) {
	t.Helper()
	key := strings.Join(labels, "/")
	Eventually(t, "metric "+key, func() (bool, string) {
		got := mustCounterValue(t, d.vec, labels...) - d.before[key]
		return got == float64(want), fmt.Sprintf("moved by %v, want %v", got, want)
	})
}
