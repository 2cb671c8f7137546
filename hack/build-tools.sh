#!/usr/bin/env bash
# Builds the pinned tools into bin/ from Go modules only (no download sites).
#
#   hack/build-tools.sh kube   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#   hack/build-tools.sh dev    controller-gen, kwok, kwokctl, helm
#   hack/build-tools.sh lint   golangci-lint (its own module: its dependencies are not ours)
#   hack/build-tools.sh kueue  kueue, Kueue's manager (its own module, k8s.io v0.35), for the
#                              Kueue integration tests
#
# A build is skipped when bin/.stamp-<set> matches the hash of the set's go.mod, go.sum
# and this script, so a warm checkout costs nothing. A cold build compiles a large part
# of Kubernetes: measured on 2 cores, kube 23 min, dev 4 min, lint 7.5 min, kueue 7 min
# (24 min while other builds shared the cores).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/bin"
KUBE_VERSION="v1.37.2"
mkdir -p "${BIN}"

stamp_of() {
  cat "${ROOT}/hack/tools/$1/go.mod" "${ROOT}/hack/tools/$1/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1
}

up_to_date() {
  local set="$1"; shift
  [[ -f "${BIN}/.stamp-${set}" && "$(cat "${BIN}/.stamp-${set}")" == "$(stamp_of "${set}")" ]] || return 1
  local b
  for b in "$@"; do [[ -x "${BIN}/${b}" ]] || return 1; done
}

# The version stamp kwokctl, discovery and kubectl's skew check read; a plain go build
# would report v0.0.0-master.
kube_ldflags() {
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local date; date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local f="-s -w" pkg
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    f+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    f+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${date}"
  done
  echo "${f}"
}

build_kube() {
  local bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
  if up_to_date kube "${bins[@]}"; then echo "tools(kube): up to date in bin/"; return; fi
  echo "tools(kube): building ${bins[*]} ${KUBE_VERSION} from Go modules into bin/"
  echo "tools(kube): a cold build compiles most of Kubernetes and takes 20-25 minutes on 2 cores (measured: 23 min)"
  local start=$SECONDS
  (cd "${ROOT}/hack/tools/kube" && go build -trimpath -ldflags "$(kube_ldflags)" -o "${BIN}/" tool)
  mv -f "${BIN}/server" "${BIN}/etcd"   # etcd's main package is named server
  stamp_of kube > "${BIN}/.stamp-kube"
  echo "tools(kube): done in $((SECONDS - start))s"
}

build_dev() {
  local bins=(controller-gen kwok kwokctl helm)
  if up_to_date dev "${bins[@]}"; then echo "tools(dev): up to date in bin/"; return; fi
  echo "tools(dev): building ${bins[*]} from Go modules into bin/ (3-4 minutes cold)"
  local start=$SECONDS
  (cd "${ROOT}/hack/tools/dev" && go build -trimpath -ldflags "-s -w" -o "${BIN}/" tool)
  stamp_of dev > "${BIN}/.stamp-dev"
  echo "tools(dev): done in $((SECONDS - start))s"
}

build_lint() {
  if up_to_date lint golangci-lint; then echo "tools(lint): up to date in bin/"; return; fi
  echo "tools(lint): building golangci-lint from Go modules into bin/ (5-8 minutes cold)"
  local start=$SECONDS
  (cd "${ROOT}/hack/tools/lint" && go build -trimpath -ldflags "-s -w" -o "${BIN}/" tool)
  stamp_of lint > "${BIN}/.stamp-lint"
  echo "tools(lint): done in $((SECONDS - start))s"
}

build_kueue() {
  if up_to_date kueue kueue; then echo "tools(kueue): up to date in bin/"; return; fi
  echo "tools(kueue): building Kueue's manager from Go modules into bin/ (about 7 minutes cold)"
  local start=$SECONDS
  (cd "${ROOT}/hack/tools/kueue" &&
    go build -trimpath -o "${BIN}/" \
      -ldflags "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=$(go list -m -f '{{.Version}}' sigs.k8s.io/kueue)" tool)
  stamp_of kueue > "${BIN}/.stamp-kueue"
  echo "tools(kueue): done in $((SECONDS - start))s"
}

for set in "${@:-kube dev lint kueue}"; do
  for s in ${set}; do
    case "${s}" in
      kube) build_kube ;;
      dev) build_dev ;;
      lint) build_lint ;;
      kueue) build_kueue ;;
      *) echo "unknown tool set: ${s} (want kube, dev, lint or kueue)" >&2; exit 2 ;;
    esac
  done
done
