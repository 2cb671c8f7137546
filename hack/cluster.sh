#!/usr/bin/env bash
# A local Kubernetes cluster for development, demos, e2e tests and benchmarks: kwokctl's
# binary runtime running etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
# the KWOK controller from bin/ (built from Go modules; no containers, no downloads), with
# fake nodes whose pods are driven by our own KWOK stages (config/kwok/stages/).
#
#   hack/cluster.sh up        start (or reuse) the cluster, install the CRD and admission
#   hack/cluster.sh down      stop it and delete its files
#   hack/cluster.sh env       print the `export KUBECONFIG=...` line
#   hack/cluster.sh install   install the CRD and admission policies into $KUBECONFIG
#
# Settings (environment):
#   CLUSTER_NAME     kwokctl cluster name (default batchjob)
#   CLUSTER_PORT     kube-apiserver port on 127.0.0.1 (default 16443); the other
#                    components use the five ports above it
#   CLUSTER_DIR      KWOK_WORKDIR and kubeconfig location (default tmp/clusters/NAME)
#   CLUSTER_NODES    number of fake nodes (default 3)
#   KCM_CONTROLLERS  kube-controller-manager --controllers (default: garbage collector,
#                    serviceaccount and namespace controllers; no job-controller)
#   DISABLE_QPS_LIMITS  true lifts apiserver/controller-manager rate limits (benchmarks)
#   KCM_API_QPS, KCM_API_BURST, KCM_CONCURRENT_JOB_SYNCS
#                    kube-controller-manager's client budget and job workers (default its
#                    own defaults 20, 30 and 5; 5000 and 10000 with DISABLE_QPS_LIMITS=true)
#   CLUSTER_AUDIT_POLICY  an audit policy file: kube-apiserver then writes its audit log to
#                    CLUSTER_DIR/clusters/CLUSTER_NAME/logs/audit.log (the benchmark's)
#   CLUSTER_INSTALL_CRD false makes `up` skip installing the CRD and admission policies
#                    (the Helm e2e test lets its chart own them)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/bin"
CLUSTER_NAME="${CLUSTER_NAME:-batchjob}"
CLUSTER_PORT="${CLUSTER_PORT:-16443}"
CLUSTER_DIR="${CLUSTER_DIR:-${ROOT}/tmp/clusters/${CLUSTER_NAME}}"
CLUSTER_NODES="${CLUSTER_NODES:-3}"
KCM_CONTROLLERS="${KCM_CONTROLLERS:-garbage-collector-controller,serviceaccount-controller,namespace-controller}"
DISABLE_QPS_LIMITS="${DISABLE_QPS_LIMITS:-false}"
if [[ "${DISABLE_QPS_LIMITS}" == true ]]; then
  KCM_API_QPS="${KCM_API_QPS:-5000}" KCM_API_BURST="${KCM_API_BURST:-10000}"
else
  KCM_API_QPS="${KCM_API_QPS:-20}" KCM_API_BURST="${KCM_API_BURST:-30}"
fi
KCM_CONCURRENT_JOB_SYNCS="${KCM_CONCURRENT_JOB_SYNCS:-5}"
CLUSTER_AUDIT_POLICY="${CLUSTER_AUDIT_POLICY:-}"
CLUSTER_INSTALL_CRD="${CLUSTER_INSTALL_CRD:-true}"
CLUSTER_KUBECONFIG="${CLUSTER_DIR}/kubeconfig"
TOOLS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwokctl)

log() { echo "cluster(${CLUSTER_NAME}): $*" >&2; }
kctl() { "${BIN}/kubectl" --kubeconfig "${CLUSTER_KUBECONFIG}" "$@"; }
# kwokctl takes kubectl from PATH before its own setting: put ours first.
kwokctl() { PATH="${BIN}:${PATH}" KWOK_WORKDIR="${CLUSTER_DIR}" timeout 240 "${BIN}/kwokctl" "$@"; }

# ensure_tools builds the pinned binaries if any is missing, printing a heartbeat during the
# minutes-long first build. A lock keeps two of our scripts from building at once.
ensure_tools() {
  local missing=0 b
  for b in "${TOOLS[@]}"; do [[ -x "${BIN}/${b}" ]] || missing=1; done
  [[ "${missing}" == 0 ]] && return
  log "building the Kubernetes binaries and kwok into bin/ (first time only; ~10 minutes on 2 cores)"
  mkdir -p "${BIN}"
  ( while sleep 30; do echo "cluster(${CLUSTER_NAME}): ... still building the tools" >&2; done ) &
  local ticker=$!
  local rc=0
  flock "${BIN}/.build.lock" "${ROOT}/hack/build-tools.sh" kube dev || rc=$?
  kill "${ticker}" 2>/dev/null || true
  wait "${ticker}" 2>/dev/null || true
  return "${rc}"
}

reachable() {
  [[ -f "${CLUSTER_KUBECONFIG}" ]] && kctl get --raw /readyz --request-timeout=5s >/dev/null 2>&1
}

render_config() {
  # The ports are read by name, through ${!v} below.
  # shellcheck disable=SC2034
  local ETCD_PORT=$((CLUSTER_PORT + 1)) ETCD_PEER_PORT=$((CLUSTER_PORT + 2)) \
    KCM_PORT=$((CLUSTER_PORT + 3)) SCHEDULER_PORT=$((CLUSTER_PORT + 4)) KWOK_PORT=$((CLUSTER_PORT + 5))
  # Plain bash substitution of the ${VAR} placeholders (no envsubst on a bare machine).
  local content v pat
  content="$(<"${ROOT}/config/kwok/kwokctl.yaml")"
  for v in ROOT BIN CLUSTER_PORT DISABLE_QPS_LIMITS KCM_CONTROLLERS KCM_API_QPS KCM_API_BURST KCM_CONCURRENT_JOB_SYNCS ETCD_PORT ETCD_PEER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT; do
    pat='${'"${v}"'}'
    content="${content//"${pat}"/${!v}}"
  done
  local placeholder='\$\{[A-Z_]+\}'
  if [[ "${content}" =~ ${placeholder} ]]; then log "unrendered ${BASH_REMATCH[0]} in config/kwok/kwokctl.yaml"; exit 1; fi
  printf '%s\n' "${content}" > "${CLUSTER_DIR}/kwokctl.yaml"
}

# nodes prints CLUSTER_NODES untainted fake nodes. kwokctl's own `scale node` template
# caps them at 110 pods; benchmarks run far more pods than that at once.
# Their kubelet port is the KWOK controller's, which serves their pods' logs.
nodes() {
  local i kubelet_port=$((CLUSTER_PORT + 5))
  for ((i = 0; i < CLUSTER_NODES; i++)); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-${i}
    kubernetes.io/os: linux
    type: kwok
status:
  addresses: [{type: InternalIP, address: 127.0.0.1}, {type: Hostname, address: kwok-node-${i}}]
  daemonEndpoints: {kubeletEndpoint: {Port: ${kubelet_port}}}
  allocatable: {cpu: "1k", memory: 1Ti, pods: "10k"}
  capacity: {cpu: "1k", memory: 1Ti, pods: "10k"}
EOF
  done
}

# wait_for runs "$@" every second until it succeeds or $1 seconds pass.
wait_for() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "timed out after ${timeout}s waiting for ${what}"; return 1; fi
    sleep 1
  done
}

cmd_install() {
  local k=("${BIN}/kubectl")
  [[ -n "${KUBECONFIG:-}" ]] && k+=(--kubeconfig "${KUBECONFIG}")
  log "installing the BatchJob CRD (server-side apply)"
  "${k[@]}" apply --server-side --force-conflicts -f "${ROOT}/config/crd/bases/" >/dev/null
  # Retried: right after the apply the CRD has no status yet and `kubectl wait` errors out.
  wait_for 60 "the CRD to be established" "${k[@]}" wait --for=condition=Established --timeout=5s crd/batchjobs.batchjob.dev
  # The first request to a new API group can take a few seconds (discovery refresh).
  wait_for 60 "the batchjobs API" "${k[@]}" get batchjobs.batchjob.dev -A
  # Server-side apply of a new kind fails with ServiceUnavailable until the apiserver has
  # built its schema; a server-side dry run of a sample is the real readiness check.
  wait_for 60 "server-side apply of BatchJobs" "${k[@]}" apply --server-side --dry-run=server \
    -n default -f "${ROOT}/config/samples/pi.yaml"
  local f
  for f in "${ROOT}"/config/admission/*.yaml; do
    [[ -f "${f}" && "$(basename "${f}")" != kustomization.yaml ]] || continue
    log "installing admission policies from config/admission/$(basename "${f}")"
    "${k[@]}" apply --server-side --force-conflicts -f "${f}" >/dev/null
  done
}

cmd_up() {
  ensure_tools
  mkdir -p "${CLUSTER_DIR}"
  if reachable; then
    log "already running at https://127.0.0.1:${CLUSTER_PORT}"
  else
    if [[ -d "${CLUSTER_DIR}/clusters/${CLUSTER_NAME}" ]]; then
      log "removing a stale cluster left in ${CLUSTER_DIR}"
      kwokctl delete cluster --name "${CLUSTER_NAME}" --kubeconfig "${CLUSTER_KUBECONFIG}" >/dev/null 2>&1 || true
    fi
    render_config
    log "starting kwokctl cluster on https://127.0.0.1:${CLUSTER_PORT} (workdir ${CLUSTER_DIR})"
    local start=${SECONDS} audit=()
    [[ -n "${CLUSTER_AUDIT_POLICY}" ]] && audit=(--kube-audit-policy "${CLUSTER_AUDIT_POLICY}")
    if ! kwokctl create cluster --name "${CLUSTER_NAME}" --config "${CLUSTER_DIR}/kwokctl.yaml" "${audit[@]}" \
        --kubeconfig "${CLUSTER_KUBECONFIG}" --wait 120s --timeout 180s >"${CLUSTER_DIR}/create.log" 2>&1; then
      log "kwokctl create cluster failed; its output (${CLUSTER_DIR}/create.log):"
      tail -n 30 "${CLUSTER_DIR}/create.log" >&2 || true
      exit 1
    fi
    log "control plane up in $((SECONDS - start))s"
  fi
  log "applying KWOK stages and ${CLUSTER_NODES} fake nodes"
  wait_for 60 "the Stage CRD" kctl get stages.kwok.x-k8s.io
  kctl apply -f "${ROOT}/config/kwok/stages/" >/dev/null
  nodes | kctl apply -f - >/dev/null
  wait_for 60 "nodes to become Ready" kctl wait --for=condition=Ready node --all --timeout=5s
  # The TaintNodesByCondition admission plugin taints every new node not-ready; with no
  # node-lifecycle controller running, nothing would ever lift it.
  kctl taint nodes --all node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  wait_for 60 "the default ServiceAccount" kctl get serviceaccount default -n default
  if [[ "${CLUSTER_INSTALL_CRD}" != false ]]; then KUBECONFIG="${CLUSTER_KUBECONFIG}" cmd_install; fi
  log "ready; use it with:  export KUBECONFIG=${CLUSTER_KUBECONFIG}"
}

cmd_down() {
  if [[ ! -d "${CLUSTER_DIR}/clusters/${CLUSTER_NAME}" ]]; then
    log "no cluster in ${CLUSTER_DIR}"
    return
  fi
  # kwokctl stops every component by the PID it recorded in clusters/NAME/pids/.
  log "deleting"
  if ! kwokctl delete cluster --name "${CLUSTER_NAME}" --kubeconfig "${CLUSTER_KUBECONFIG}" >"${CLUSTER_DIR}/delete.log" 2>&1; then
    tail -n 20 "${CLUSTER_DIR}/delete.log" >&2
    exit 1
  fi
  rm -f "${CLUSTER_KUBECONFIG}" "${CLUSTER_DIR}/kwokctl.yaml" "${CLUSTER_DIR}/create.log" "${CLUSTER_DIR}/delete.log"
  log "deleted"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) echo "export KUBECONFIG=${CLUSTER_KUBECONFIG}" ;;
  install) cmd_install ;;
  *) echo "usage: $0 up|down|env|install" >&2; exit 2 ;;
esac
