#!/usr/bin/env bash
# Runs every Go fuzz target of the module briefly (FUZZTIME each); go test -fuzz accepts
# one target per invocation, so they are listed and run one by one.
# The budget is an execution count (N x), never a duration: with a duration, Go 1.26's fuzz
# coordinator can report a spurious "context deadline exceeded" when the time is up
# (golang/go#75804, fixed in Go 1.27); a count has no deadline to race.
set -euo pipefail
fuzztime="${1:-20000x}"
if [[ ! "${fuzztime}" =~ ^[0-9]+x$ ]]; then
  echo "fuzz: budget must be an execution count like 20000x, got ${fuzztime} (see golang/go#75804)" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
for pkg in $(go list ./internal/...); do
  for target in $(go test -list '^Fuzz' "${pkg}" | grep '^Fuzz' || true); do
    echo "fuzz: ${pkg} ${target} for ${fuzztime}"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "${fuzztime}" "${pkg}"
  done
done
