#!/usr/bin/env bash
# `make run`: the controller in the foreground against a cluster, with readable logs.
#
# If $KUBECONFIG points at a reachable cluster (kind, a real one...), that cluster is used
# and only the CRD and admission policies are installed into it. Otherwise the local
# kwokctl cluster of hack/cluster.sh is started (or reused). Ctrl-C stops the controller
# and leaves the cluster running; `make cluster-down` removes the local one.
#
# Settings: RUN_ARGS (extra controller flags), PROBE_PORT / METRICS_PORT (127.0.0.1 ports
# of /healthz and the HTTPS /metrics; defaults 18081 / 18443).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/bin"
PROBE_PORT="${PROBE_PORT:-18081}"
METRICS_PORT="${METRICS_PORT:-18443}"

if [[ ! -x "${BIN}/batchjob-controller" ]]; then
  echo "run: bin/batchjob-controller is missing: run 'make build' (or 'make run')" >&2
  exit 1
fi

if [[ -n "${KUBECONFIG:-}" ]] && "${BIN}/kubectl" get --raw /readyz --request-timeout=5s >/dev/null 2>&1; then
  echo "run: using the cluster of KUBECONFIG=${KUBECONFIG} ($("${BIN}/kubectl" config current-context 2>/dev/null || echo '?'))"
  "${ROOT}/hack/cluster.sh" install
  export_line="export KUBECONFIG=${KUBECONFIG}"
else
  unset KUBECONFIG
  "${ROOT}/hack/cluster.sh" up
  export_line="$("${ROOT}/hack/cluster.sh" env)"
  eval "${export_line}"
fi

cat <<EOF

──────────────────────────────────────────────────────────────────────────────
 The BatchJob controller runs below; Ctrl-C stops it and leaves the cluster.
 In another terminal:

   ${export_line}
   export PATH=${BIN}:\$PATH
   kubectl apply -f config/samples/parallel-fixed.yaml
   kubectl get batchjobs -w
   kubectl get pods -l job-name=parallel-fixed
   kubectl describe batchjob parallel-fixed
   kubectl wait --for=condition=Complete batchjob/parallel-fixed --timeout=60s

 Every example of the Kubernetes Jobs guide is in config/samples/ ('make demo' runs
 them all). Remove the local cluster with: make cluster-down
──────────────────────────────────────────────────────────────────────────────

EOF

# exec: Ctrl-C reaches the controller directly, which shuts down gracefully.
# shellcheck disable=SC2086 # RUN_ARGS is a list of flags
exec "${BIN}/batchjob-controller" \
  --zap-devel \
  --health-probe-bind-address="127.0.0.1:${PROBE_PORT}" \
  --metrics-bind-address="127.0.0.1:${METRICS_PORT}" \
  ${RUN_ARGS:-}
