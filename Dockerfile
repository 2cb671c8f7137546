# The batchjob controller image: a static Go binary on distroless, running as non-root.
#   make docker-build IMG=batchjob-controller:dev   (passes VERSION and COMMIT from git)

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
COPY --from=builder /out/batchjob-controller /batchjob-controller
# distroless' nonroot user; the chart and config/manager also set runAsNonRoot.
USER 65532:65532
ENTRYPOINT ["/batchjob-controller"]
