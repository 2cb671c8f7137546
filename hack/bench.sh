#!/usr/bin/env bash
# `make bench`: the upstream batch/v1 Job controller (kube-controller-manager) and the
# BatchJob controller, each on its own fresh local cluster for every workload, with the
# same client budget, the same workload and the same simulated kubelet. test/bench does
# the measuring; the last step prints every workload side by side with ratios and writes
# tmp/bench/results.md, a fragment for test/bench/RESULTS.md (machine, commit, command).
# Nothing here asserts timings.
#
# Equal budget: kube-controller-manager runs with --kube-api-qps=BENCH_QPS
# --kube-api-burst=BENCH_BURST --concurrent-job-syncs=BENCH_SYNCS, batchjob-controller with
# --kube-api-qps, --kube-api-burst and --concurrent-syncs at the same values; both share one
# token bucket among all their clients. The rest of the cluster is not what is measured and
# must not be the bottleneck: kube-scheduler and KWOK have their limits lifted
# (DISABLE_QPS_LIMITS=true), and so has kube-apiserver (no max-inflight limits, no priority
# and fairness), the same for both. (With its default limits, priority and fairness would
# not treat them alike: our controller authenticates as the cluster admin, whose requests
# are exempt; kube-controller-manager's are not.)
#
# Fresh cluster: every (workload, controller) pair starts a new cluster and tears it down
# by PID (hack/cluster.sh down), so neither side inherits the other's objects, caches,
# etcd history or watch caches. The clusters differ in one thing: kube-controller-manager
# runs job-controller and serviceaccount-controller for the upstream side, and only
# serviceaccount-controller (pod admission needs each namespace's default ServiceAccount)
# for ours, so it neither competes nor watches pods there.
#
# Requests are counted from kube-apiserver's audit log (test/bench/audit-policy.yaml) and
# attributed by user agent: see test/bench/metrics.go and test/bench/RESULTS.md.
#
# Settings (environment):
#   BENCH_WORKLOADS   comma-separated, from small, indexed, failures, onepod, scale, memory
#                     (default small,indexed,failures,onepod; "all" is all six)
#   BENCH_QPS, BENCH_BURST, BENCH_SYNCS  the budget of both controllers (50, 100, 5)
#   BENCH_ARGS        flags for test/bench, for every workload (sizes: e.g. "-jobs 4
#                     -completions 3 -onepod-jobs 20"; see `go run ./test/bench -h`)
#   CONTROLLER_ARGS   extra flags for batchjob-controller
#   CLUSTER_NODES     fake nodes (default 10)
#   BENCH_INFRA_UNLIMITED=false  kube-apiserver with its default max-inflight limits and
#                     priority and fairness, kube-scheduler with its default client budget
#                     (50/100, which then bounds pod binding), for both sides alike
#   BENCH_KEEP_AUDIT=1  keep each run's kube-apiserver audit log in
#                     tmp/bench/WORKLOAD-SIDE-audit/ (large: about 1 KB per request)
#   BENCH_PROFILE=1   20 s CPU profiles, 5 s into each run, of kube-apiserver (both sides)
#                     and of our controller: tmp/bench/WORKLOAD-SIDE-apiserver.pprof,
#                     WORKLOAD-batchjob-controller.pprof
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/bin"
WORK="${ROOT}/tmp/bench"
export CLUSTER_NAME=batchjob-bench CLUSTER_PORT=16643
export CLUSTER_DIR="${ROOT}/tmp/clusters/${CLUSTER_NAME}"
export CLUSTER_NODES="${CLUSTER_NODES:-10}"
export DISABLE_QPS_LIMITS="${BENCH_INFRA_UNLIMITED:-true}"
BENCH_QPS="${BENCH_QPS:-50}" BENCH_BURST="${BENCH_BURST:-100}" BENCH_SYNCS="${BENCH_SYNCS:-5}"
export KCM_API_QPS="${BENCH_QPS}" KCM_API_BURST="${BENCH_BURST}" KCM_CONCURRENT_JOB_SYNCS="${BENCH_SYNCS}"
export CLUSTER_AUDIT_POLICY="${ROOT}/test/bench/audit-policy.yaml"
BENCH_WORKLOADS="${BENCH_WORKLOADS:-small,indexed,failures,onepod}"
[[ "${BENCH_WORKLOADS}" == all ]] && BENCH_WORKLOADS=small,indexed,failures,onepod,scale,memory
unset KUBECONFIG
PIDS_DIR="${CLUSTER_DIR}/clusters/${CLUSTER_NAME}/pids"
AUDIT_LOG="${CLUSTER_DIR}/clusters/${CLUSTER_NAME}/logs/audit.log"

log() { echo "bench: $*" >&2; }
[[ -x "${BIN}/batchjob-controller" ]] || { log "run 'make build' first"; exit 1; }
head_commit="$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || true)"
if [[ -n "${head_commit}" && "$("${BIN}/batchjob-controller" --version 2>&1)" != *"${head_commit}"* ]]; then
  log "warning: bin/batchjob-controller ($("${BIN}/batchjob-controller" --version 2>&1 | head -n 1)) is not built from HEAD ${head_commit}; 'make bench' builds it first"
fi
mkdir -p "${WORK}"

CONTROLLER_PID=""
PROFILE_PIDS=()
stop_controller() {
  if [[ -n "${CONTROLLER_PID}" ]]; then
    kill "${CONTROLLER_PID}" 2>/dev/null || true
    wait "${CONTROLLER_PID}" 2>/dev/null || true
    CONTROLLER_PID=""
  fi
}
stop_profiles() {
  local p
  for p in "${PROFILE_PIDS[@]}"; do kill "${p}" 2>/dev/null || true; wait "${p}" 2>/dev/null || true; done
  PROFILE_PIDS=()
}
cleanup() {
  stop_profiles
  stop_controller
  "${ROOT}/hack/cluster.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

# run_one WORKLOAD SIDE measures one controller (SIDE upstream or batchjob) on one workload
# on a fresh cluster, which it tears down again.
run_one() {
  local workload="$1" side="$2" kind pid
  if [[ "${side}" == upstream ]]; then
    kind=Job
    export KCM_CONTROLLERS=job-controller,serviceaccount-controller
  else
    kind=BatchJob
    export KCM_CONTROLLERS=serviceaccount-controller
  fi
  "${ROOT}/hack/cluster.sh" down >/dev/null 2>&1 || true
  local start=${SECONDS}
  "${ROOT}/hack/cluster.sh" up >>"${WORK}/cluster.log" 2>&1 || { log "cluster up failed; see ${WORK}/cluster.log"; return 1; }
  eval "$("${ROOT}/hack/cluster.sh" env)"
  local kcm_pid apiserver_pid
  kcm_pid="$(cat "${PIDS_DIR}/kube-controller-manager.pid")"
  apiserver_pid="$(cat "${PIDS_DIR}/kube-apiserver.pid")"
  pid="${kcm_pid}"
  if [[ "${side}" == batchjob ]]; then
    # shellcheck disable=SC2086 # CONTROLLER_ARGS is a list of flags
    "${BIN}/batchjob-controller" --metrics-bind-address=0 --health-probe-bind-address=127.0.0.1:16691 \
      --pprof-bind-address=127.0.0.1:16692 --kube-api-qps="${BENCH_QPS}" --kube-api-burst="${BENCH_BURST}" \
      --concurrent-syncs="${BENCH_SYNCS}" ${CONTROLLER_ARGS:-} >"${WORK}/${workload}-controller.log" 2>&1 &
    CONTROLLER_PID=$!
    pid="${CONTROLLER_PID}"
    local ready=""
    for _ in $(seq 60); do
      curl -fsS http://127.0.0.1:16691/readyz >/dev/null 2>&1 && { ready=1; break; }
      sleep 1
    done
    [[ -n "${ready}" ]] || { log "batchjob-controller not ready after 60s; see ${WORK}/${workload}-controller.log"; return 1; }
    # Ready does not wait for the informers' first list; kube-controller-manager's have
    # long synced by now. Neither side's cache fill is in the measured window.
    sleep 5
  fi
  log "${workload}, ${side} (cluster up in $((SECONDS - start))s; controller PID ${pid})"
  if [[ -n "${BENCH_PROFILE:-}" ]]; then
    (sleep 5; timeout 60 "${BIN}/kubectl" get --raw '/debug/pprof/profile?seconds=20' \
      >"${WORK}/${workload}-${side}-apiserver.pprof" 2>/dev/null || true) &
    PROFILE_PIDS+=($!)
    if [[ "${side}" == batchjob ]]; then
      (sleep 5; curl -fsS --max-time 40 -o "${WORK}/${workload}-batchjob-controller.pprof" \
        "http://127.0.0.1:16692/debug/pprof/profile?seconds=20" || true) &
      PROFILE_PIDS+=($!)
    fi
  fi
  local rc=0 run_start=${SECONDS}
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
  timeout 100m "${WORK}/bench" -workload "${workload}" -kind "${kind}" -pid "${pid}" -kcm-pid "${kcm_pid}" \
    -apiserver-pid "${apiserver_pid}" -audit-log "${AUDIT_LOG}" -out "${WORK}/${workload}-${side}.json" \
    ${BENCH_ARGS:-} >/dev/null 2>"${WORK}/${workload}-${side}.log" || rc=$?
  local outcome="finished"
  [[ "${rc}" == 0 ]] || outcome="FAILED (exit ${rc}; see ${WORK}/${workload}-${side}.log)"
  log "${workload}, ${side}: ${outcome} in $((SECONDS - run_start))s"
  stop_profiles
  stop_controller
  if [[ -n "${BENCH_KEEP_AUDIT:-}" ]]; then
    mkdir -p "${WORK}/${workload}-${side}-audit"
    cp "$(dirname "${AUDIT_LOG}")"/audit*.log "${WORK}/${workload}-${side}-audit/" || true
  fi
  "${ROOT}/hack/cluster.sh" down >>"${WORK}/cluster.log" 2>&1
  return "${rc}"
}

IFS=, read -ra workloads <<<"${BENCH_WORKLOADS}"
for w in "${workloads[@]}"; do
  case "${w}" in
    small | indexed | failures | onepod | scale | memory) ;;
    *) log "unknown workload '${w}' in BENCH_WORKLOADS (small, indexed, failures, onepod, scale, memory, or all)"; exit 2 ;;
  esac
done
failed=()
log "building test/bench"
go build -o "${WORK}/bench" "${ROOT}/test/bench"
: >"${WORK}/cluster.log"
for w in "${workloads[@]}"; do
  rm -f "${WORK}/${w}-upstream.json" "${WORK}/${w}-batchjob.json"
  for side in upstream batchjob; do
    run_one "${w}" "${side}" || failed+=("${w}/${side}")
  done
done

commit="$(git -C "${ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "${ROOT}" status --porcelain -- cmd internal config go.mod 2>/dev/null)" ]]; then
  commit+=" (with uncommitted changes in cmd/, internal/, config/ or go.mod)"
fi
command="BENCH_WORKLOADS=${BENCH_WORKLOADS} BENCH_QPS=${BENCH_QPS} BENCH_BURST=${BENCH_BURST} BENCH_SYNCS=${BENCH_SYNCS}"
[[ -n "${BENCH_ARGS:-}" ]] && command+=" BENCH_ARGS='${BENCH_ARGS}'"
[[ -n "${CONTROLLER_ARGS:-}" ]] && command+=" CONTROLLER_ARGS='${CONTROLLER_ARGS}'"
if [[ -n "${MAKELEVEL:-}" ]]; then command+=" make bench"; else command+=" hack/bench.sh"; fi
version="$("${BIN}/batchjob-controller" --version 2>&1 | head -n 1 || true)"
infra="kube-apiserver, kube-scheduler and KWOK without client or inflight limits"
if [[ "${DISABLE_QPS_LIMITS}" != true ]]; then
  command="BENCH_INFRA_UNLIMITED=${DISABLE_QPS_LIMITS} ${command}"
  infra="kube-apiserver and kube-scheduler with their default limits"
fi
echo
"${WORK}/bench" -report "${WORK}" -workloads "${BENCH_WORKLOADS}" -markdown "${WORK}/results.md" \
  -command "${command}" -commit "${commit}" -qps "${BENCH_QPS}" -burst "${BENCH_BURST}" -syncs "${BENCH_SYNCS}" \
  -notes "${version}; ${CLUSTER_NODES} KWOK nodes; a fresh kwokctl cluster per workload and controller; ${infra}" ||
  failed+=("report")
if ((${#failed[@]})); then
  log "failed runs: ${failed[*]}"
  exit 1
fi
