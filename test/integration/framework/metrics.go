package framework

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// CounterValue reads one series of a counter vector; a series never touched reads 0.
func CounterValue(vec *prometheus.CounterVec, labels ...string) (float64, error) {
	c, err := vec.GetMetricWithLabelValues(labels...)
	if err != nil {
		return 0, err
	}
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0, err
	}
	return m.GetCounter().GetValue(), nil
}
