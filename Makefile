# batchjob — a BatchJob custom resource that behaves exactly like batch/v1 Job.
#
# Every tool comes from Go modules pinned under hack/tools and is built into bin/ once
# (hack/build-tools.sh); nothing is downloaded from anywhere but the Go module proxy.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

BIN := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen
HELM := $(BIN)/helm
IMG ?= batchjob-controller:dev
KIND_CLUSTER ?= kind
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
GO_TEST_FLAGS ?=
# make image: the image's CPU architecture (make image GOARCH=arm64); the OS is linux. The
# image's files and creation time carry SOURCE_DATE_EPOCH, by default the commit's time.
IMAGE_ARCH := $(or $(GOARCH),amd64)
IMAGE_TAR ?= $(BIN)/batchjob-controller-image.tar
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# Fuzz budget per target as an execution count: a duration (-fuzztime 10s) trips Go 1.26's
# coordinator race golang/go#75804 (a spurious "context deadline exceeded" at the deadline).
FUZZTIME ?= 20000x

export KUBEBUILDER_ASSETS := $(BIN)

.PHONY: all
all: build

##@ Tools

.PHONY: tools tools-kube tools-dev tools-lint tools-kueue
tools: tools-kube tools-dev tools-lint tools-kueue ## Build every pinned tool into bin/ (skipped when up to date).
tools-kube: ## etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl.
	@hack/build-tools.sh kube
tools-dev: ## controller-gen, kwok, kwokctl, helm.
	@hack/build-tools.sh dev
tools-lint: ## golangci-lint (its own pinned module, hack/tools/lint).
	@hack/build-tools.sh lint
tools-kueue: ## Kueue's manager for the Kueue integration tests (its own pinned module, hack/tools/kueue).
	@hack/build-tools.sh kueue

##@ Development

.PHONY: manifests
manifests: tools-dev ## Generate the CRD and RBAC from kubebuilder markers, and sync the Helm chart.
	$(CONTROLLER_GEN) crd:generateEmbeddedObjectMeta=true rbac:roleName=batchjob-controller paths=./internal/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	go run ./hack/crdpatch config/crd/bases/*.yaml
	go run ./hack/syncchart

.PHONY: generate
generate: tools-dev ## Generate deepcopy code.
	$(CONTROLLER_GEN) object paths=./internal/api/...

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: build
build: ## Build the controller and the kubectl plugin (kubectl-batchjob) into bin/.
	@echo "build: bin/batchjob-controller and bin/kubectl-batchjob (a minute or two on a cold build cache)"
	go build -trimpath -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" \
		-o $(BIN)/batchjob-controller ./cmd/batchjob-controller
	go build -trimpath -o $(BIN)/kubectl-batchjob ./cmd/kubectl-batchjob

##@ Test

.PHONY: test
test: test-unit test-integration test-helm test-image ## Unit tests, a short fuzz run, envtest integration tests, chart and image tests.

.PHONY: test-unit
test-unit: ## Unit tests of the pure decision logic (no API server).
	go test $(GO_TEST_FLAGS) ./internal/... ./cmd/...
	@hack/fuzz.sh $(FUZZTIME)

.PHONY: test-integration
test-integration: tools-kube tools-kueue manifests ## envtest: a real etcd and kube-apiserver from bin/ (and Kueue's manager for test/integration/kueue).
	go test -count=1 $(GO_TEST_FLAGS) -p 1 -timeout 30m ./test/integration/...

.PHONY: test-helm
test-helm: tools-kube manifests ## The Helm chart and config/default: helm lint, rendered objects, RBAC, hack/syncchart.
	go test -count=1 $(GO_TEST_FLAGS) ./test/helm/...

.PHONY: test-image
test-image: ## make image's archive: built twice into a temp dir (same digest), then its config, files and binary.
	go test -count=1 $(GO_TEST_FLAGS) -timeout 30m ./test/image/...

.PHONY: test-e2e
test-e2e: tools build ## End to end against local kwokctl clusters started by the tests (test/e2e/kueue: two, with Kueue).
	go test -count=1 $(GO_TEST_FLAGS) -p 1 -timeout 40m ./test/e2e/...

.PHONY: chaos
chaos: tools build ## Chaos run (not in CI, ~15 min): >=5,000 pods while the controller is SIGKILLed 50 times, the leader 5 times, kube-apiserver restarted twice (CHAOS_ARGS; test/chaos/RESULTS.md).
	go run ./test/chaos/cmd/chaos $(CHAOS_ARGS)

.PHONY: lint
lint: tools-lint ## golangci-lint (.golangci.yml) over the module, shellcheck over hack/ (skipped with a notice without it).
	$(BIN)/golangci-lint run ./...
	@if command -v shellcheck >/dev/null; then shellcheck -S warning hack/*.sh .ci/run; \
	else echo "lint: shellcheck not installed (apt-get install shellcheck): shell scripts not checked"; fi

.PHONY: verify
verify: ## Regenerate everything, lint, and fail if the tree changed.
	$(MAKE) generate manifests fmt lint
	@go mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit"; exit 1; }
	@git diff --exit-code -- . ':(exclude)go.sum' || { echo "generated files are stale: run 'make generate manifests fmt' and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- config internal cmd)" || { git status --porcelain -- config internal cmd; echo "untracked generated files"; exit 1; }

##@ Run

.PHONY: run
run: tools build ## Start a local cluster (or use $$KUBECONFIG) and run the controller in the foreground.
	hack/run.sh

.PHONY: demo
demo: tools build ## Start the cluster and controller, apply every sample, show them finish.
	hack/demo.sh

.PHONY: cluster-up cluster-down
cluster-up: tools ## Start the local kwokctl cluster only.
	hack/cluster.sh up
cluster-down: ## Stop and remove the local cluster.
	hack/cluster.sh down

.PHONY: bench
bench: tools build ## The upstream Job controller and ours at one client budget, a fresh cluster per workload: requests per pod, CPU, RSS, throughput, latency (BENCH_WORKLOADS etc.: hack/bench.sh).
	hack/bench.sh

##@ Packaging

.PHONY: helm-lint
helm-lint: tools-dev ## helm lint the chart.
	$(HELM) lint config/helm/batchjob-controller

.PHONY: image
image: ## Controller image from Go alone, no Docker: bin/batchjob-controller-image.tar (docker-save format), tagged $(IMG), linux/amd64 (GOARCH=...).
	@# GOOS/GOARCH are cleared for the tool itself, which runs here; it builds the static binary
	@# (CGO_ENABLED=0 -trimpath) for linux/$(IMAGE_ARCH) into bin/linux_$(IMAGE_ARCH)/.
	GOOS= GOARCH= go run ./hack/image -tag $(IMG) -version $(VERSION) -revision $(COMMIT) \
		-platform linux/$(IMAGE_ARCH) -epoch $(SOURCE_DATE_EPOCH) \
		-binary $(BIN)/linux_$(IMAGE_ARCH)/batchjob-controller -out $(IMAGE_TAR)

.PHONY: docker-build
docker-build: ## Build the image from the Dockerfile (needs a Docker engine; make image does not).
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMG) .

.PHONY: kind-load
kind-load: ## Load the image built by docker-build into the kind cluster $(KIND_CLUSTER).
	kind load docker-image $(IMG) --name $(KIND_CLUSTER)

.PHONY: kind-load-archive
kind-load-archive: image ## make image, then kind load image-archive into the kind cluster $(KIND_CLUSTER) (no Docker engine needed).
	kind load image-archive $(IMAGE_TAR) --name $(KIND_CLUSTER)

.PHONY: help
# Target names may contain digits (test-e2e); a description's "$$" (make's escaped dollar) is
# printed as one "$".
help: ## This help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_.-]+:.*?##/ { gsub(/\$$\$$/, "$$", $$2); printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
