#!/usr/bin/env bash
# `make bench`: the upstream batch/v1 Job controller and the BatchJob controller, one after
# the other, on the same fresh local cluster (its own name and port; QPS limits off for
# the apiserver, kube-controller-manager and our controller), with the same workload and
# the same simulated kubelet. Prints throughput, latency, API writes per pod and memory
# side by side with ratios (test/bench does the measuring). Nothing here asserts timings.
#
# Settings: BENCH_ARGS (flags for test/bench, e.g. "-jobs 10 -completions 20"),
# CONTROLLER_ARGS (extra flags for batchjob-controller, e.g. "--sync-batch-period=1s"),
# BENCH_PROFILE=1 to save a 20 s CPU profile of our controller taken during its throughput
# run (tmp/bench/cpu.pprof; read it with `go tool pprof -top bin/batchjob-controller
# tmp/bench/cpu.pprof`), BENCH_KEEP_CLUSTER=1 to leave the cluster running.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/bin"
WORK="${ROOT}/tmp/bench"
export CLUSTER_NAME=batchjob-bench CLUSTER_PORT=16643
export CLUSTER_DIR="${ROOT}/tmp/clusters/${CLUSTER_NAME}"
export DISABLE_QPS_LIMITS=true
# The upstream Job controller runs here (and idles while ours is measured).
export KCM_CONTROLLERS=job-controller,garbage-collector-controller,serviceaccount-controller,namespace-controller
unset KUBECONFIG

[[ -x "${BIN}/batchjob-controller" ]] || { echo "bench: run 'make build' first" >&2; exit 1; }
mkdir -p "${WORK}"
"${ROOT}/hack/cluster.sh" down >/dev/null 2>&1 || true
"${ROOT}/hack/cluster.sh" up
eval "$("${ROOT}/hack/cluster.sh" env)"
CONTROLLER_PID=""
cleanup() {
  if [[ -n "${CONTROLLER_PID}" ]]; then
    kill "${CONTROLLER_PID}" 2>/dev/null || true
    wait "${CONTROLLER_PID}" 2>/dev/null || true
  fi
  [[ -n "${BENCH_KEEP_CLUSTER:-}" ]] || "${ROOT}/hack/cluster.sh" down || true
}
trap cleanup EXIT

echo "bench: building test/bench"
go build -o "${WORK}/bench" "${ROOT}/test/bench"
KCM_PID="$(cat "${CLUSTER_DIR}/clusters/${CLUSTER_NAME}/pids/kube-controller-manager.pid")"
APISERVER_PID="$(cat "${CLUSTER_DIR}/clusters/${CLUSTER_NAME}/pids/kube-apiserver.pid")"

echo "bench: upstream batch/v1 Job controller (kube-controller-manager PID ${KCM_PID})"
# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
"${WORK}/bench" -kind Job -pid "${KCM_PID}" -apiserver-pid "${APISERVER_PID}" -out "${WORK}/upstream.json" ${BENCH_ARGS:-} >/dev/null
# Remove the 1,000 finished pods so they do not sit in the next controller's caches.
"${BIN}/kubectl" delete namespace bench-job --timeout=300s >/dev/null

echo "bench: BatchJob controller"
# shellcheck disable=SC2086 # CONTROLLER_ARGS is a list of flags
"${BIN}/batchjob-controller" --metrics-bind-address=0 --health-probe-bind-address=127.0.0.1:16691 \
  --pprof-bind-address=127.0.0.1:16692 --kube-api-qps=5000 --kube-api-burst=10000 ${CONTROLLER_ARGS:-} \
  >"${WORK}/controller.log" 2>&1 &
CONTROLLER_PID=$!
for _ in $(seq 60); do curl -fsS http://127.0.0.1:16691/readyz >/dev/null 2>&1 && break; sleep 1; done
if [[ -n "${BENCH_PROFILE:-}" ]]; then
  # Bounded by its own duration; starts with the throughput run, which comes first.
  curl -fsS --max-time 40 -o "${WORK}/cpu.pprof" "http://127.0.0.1:16692/debug/pprof/profile?seconds=20" &
fi
# shellcheck disable=SC2086
"${WORK}/bench" -kind BatchJob -pid "${CONTROLLER_PID}" -apiserver-pid "${APISERVER_PID}" -out "${WORK}/batchjob.json" ${BENCH_ARGS:-} >/dev/null

echo
"${WORK}/bench" -compare "${WORK}/upstream.json,${WORK}/batchjob.json"
echo
echo "bench: upstream RSS and CPU are the whole kube-controller-manager (job, garbage-collector,"
echo "       serviceaccount and namespace controllers); results in ${WORK}/*.json"
