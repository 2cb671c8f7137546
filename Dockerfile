# The batchjob controller image: a static Go binary on distroless, running as non-root.
#   make docker-build IMG=batchjob-controller:dev   (passes VERSION and COMMIT from git)
# `make image` builds the same layout without Docker (hack/image: the binary at
# /batchjob-controller as the entrypoint, user 65532:65532 with its /etc/passwd entry, the same
# OCI labels) on an empty base, leaving out distroless' CA bundle and time zones, which the
# controller does not read; test/image checks that this file keeps the user and paths.

FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /workspace

# Modules first, so the download layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY cmd/ cmd/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/batchjob-controller ./cmd/batchjob-controller

FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="batchjob-controller" \
      org.opencontainers.image.source="https://github.com/batchjob-dev/batchjob" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/batchjob-controller /batchjob-controller
# distroless' nonroot user; the chart and config/manager also set runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/batchjob-controller"]
