// Package helm tests the packaging: the Helm chart under config/helm (rendered with the
// pinned bin/helm), the kustomize tree under config/default (bin/kubectl kustomize) and
// hack/syncchart, which keeps the chart in step with what controller-gen generates.
package helm
