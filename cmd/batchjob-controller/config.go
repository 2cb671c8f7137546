package main

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// clientConfig returns a copy of base whose every client shares one token bucket of qps
// requests per second with the given burst.
//
// rest.Config.QPS and Burst alone are not one budget: every REST client built from the
// config (controller-runtime builds one per resource type: pods, BatchJobs; plus the events
// client, the leader-election clients and discovery) creates its own token bucket from them,
// so each would get the whole budget. A RateLimiter in the config is used by every client
// instead of a bucket of its own, so the process as a whole stays within qps and burst, as
// kube-controller-manager's shared limiter per client does.
func clientConfig(base *rest.Config, qps float64, burst int) (*rest.Config, error) {
	if qps <= 0 || burst < 1 {
		return nil, fmt.Errorf("--kube-api-qps (%v) must be > 0 and --kube-api-burst (%d) >= 1", qps, burst)
	}
	cfg := rest.CopyConfig(base)
	cfg.QPS, cfg.Burst = float32(qps), burst
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(float32(qps), burst)
	return cfg, nil
}
