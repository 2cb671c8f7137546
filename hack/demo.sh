#!/usr/bin/env bash
# `make demo`: cluster + controller, every sample of config/samples/ applied into a fresh
# namespace, progress shown until each BatchJob reaches its expected end (Complete, or
# Failed for retry-backoff), then `kubectl get batchjobs` and one `kubectl describe`.
# The controller runs in the background and is stopped by its PID at the end; the cluster
# stays (make cluster-down). Bounded by DEMO_TIMEOUT seconds (default 300).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/bin"
NS="${DEMO_NAMESPACE:-batchjob-demo}"
DEMO_TIMEOUT="${DEMO_TIMEOUT:-300}"
WORK="${ROOT}/tmp/demo"
# Every sample ends Complete except retry-backoff, whose pods always exit 1.
declare -A EXPECT=([retry-backoff]=Failed)

if [[ ! -x "${BIN}/batchjob-controller" ]]; then
  echo "demo: bin/batchjob-controller is missing: run 'make build' (or 'make demo')" >&2
  exit 1
fi
if [[ -n "${KUBECONFIG:-}" ]] && "${BIN}/kubectl" get --raw /readyz --request-timeout=5s >/dev/null 2>&1; then
  echo "demo: using the cluster of KUBECONFIG=${KUBECONFIG}"
  "${ROOT}/hack/cluster.sh" install
else
  unset KUBECONFIG
  "${ROOT}/hack/cluster.sh" up
  eval "$("${ROOT}/hack/cluster.sh" env)"
fi
k() { "${BIN}/kubectl" "$@"; }

mkdir -p "${WORK}"
"${BIN}/batchjob-controller" --zap-devel --metrics-bind-address=0 \
  --health-probe-bind-address=127.0.0.1:"${DEMO_PROBE_PORT:-18091}" >"${WORK}/controller.log" 2>&1 &
CONTROLLER_PID=$!
stop_controller() {
  kill "${CONTROLLER_PID}" 2>/dev/null || true
  wait "${CONTROLLER_PID}" 2>/dev/null || true
}
trap stop_controller EXIT
echo "demo: controller started (PID ${CONTROLLER_PID}, log ${WORK}/controller.log)"

echo "demo: fresh namespace ${NS}"
k delete namespace "${NS}" --ignore-not-found --timeout=120s >/dev/null
k create namespace "${NS}" >/dev/null
for _ in $(seq 60); do k get serviceaccount default -n "${NS}" >/dev/null 2>&1 && break; sleep 1; done

names=()
for f in "${ROOT}"/config/samples/*.yaml; do
  # A CRD's kind is refused (ServiceUnavailable) for a few seconds after it is installed.
  for try in $(seq 30); do
    k apply --server-side -n "${NS}" -f "${f}" >/dev/null 2>"${WORK}/apply.err" && break
    grep -q ServiceUnavailable "${WORK}/apply.err" && ((try < 30)) || { cat "${WORK}/apply.err" >&2; exit 1; }
    sleep 1
  done
  names+=("$(basename "${f}" .yaml)")
  echo "demo: applied config/samples/$(basename "${f}")"
done

# conditions prints "NAME TYPE..." for each BatchJob: the types of its True conditions.
conditions() {
  k get batchjobs -n "${NS}" -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.status=="True")].type}{"\n"}{end}'
}

declare -A seen=()
deadline=$((SECONDS + DEMO_TIMEOUT))
next_progress=0
while :; do
  while read -r name types; do
    [[ -n "${name}" ]] || continue
    for t in ${types}; do
      if [[ "${t}" == Complete || "${t}" == Failed ]] && [[ -z "${seen[${name}]:-}" ]]; then
        seen[${name}]="${t}"
        echo "demo: $(date +%T) ${name} → ${t}"
      fi
    done
  done < <(conditions)
  ((${#seen[@]} == ${#names[@]})) && break
  if ((SECONDS >= deadline)); then echo "demo: timed out after ${DEMO_TIMEOUT}s" >&2; break; fi
  # A progress line every 30 s; the transitions above are printed as they happen.
  if ((SECONDS >= next_progress)); then
    echo "demo: $(date +%T) ${#seen[@]}/${#names[@]} finished; waiting for:" \
      "$(for n in "${names[@]}"; do [[ -n "${seen[${n}]:-}" ]] || printf '%s ' "${n}"; done)"
    next_progress=$((SECONDS + 30))
  fi
  sleep 2
done

echo
echo "\$ kubectl get batchjobs -n ${NS}"
k get batchjobs -n "${NS}"
echo
echo "\$ kubectl get pods -n ${NS} -l job-name=indexed"
k get pods -n "${NS}" -l job-name=indexed
echo
echo "\$ kubectl describe batchjob -n ${NS} retry-backoff"
k describe batchjob -n "${NS}" retry-backoff
echo

rc=0
for n in "${names[@]}"; do
  want="${EXPECT[${n}]:-Complete}"
  if [[ "${seen[${n}]:-}" != "${want}" ]]; then
    echo "demo: ${n}: expected ${want}, got '${seen[${n}]:-nothing}'" >&2
    rc=1
  fi
done
((rc == 0)) && echo "demo: all ${#names[@]} samples ended as expected (cleanup was removed by its TTL 100 s after completing)"
echo "demo: the cluster keeps running ($("${ROOT}/hack/cluster.sh" env)); 'make cluster-down' removes it"
exit "${rc}"
