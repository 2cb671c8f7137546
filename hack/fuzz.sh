#!/usr/bin/env bash
# Runs every Go fuzz target of the module briefly (FUZZTIME each); go test -fuzz accepts
# one target per invocation, so they are listed and run one by one.
set -euo pipefail
fuzztime="${1:-10s}"
cd "$(dirname "$0")/.."
for pkg in $(go list ./internal/...); do
  for target in $(go test -list '^Fuzz' "${pkg}" | grep '^Fuzz' || true); do
    echo "fuzz: ${pkg} ${target} for ${fuzztime}"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "${fuzztime}" "${pkg}"
  done
done
