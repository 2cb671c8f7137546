{{/*
Chart name, for the app.kubernetes.io/name label.
*/}}
{{- define "batchjob.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of every object: "<release>-controller", or the release name when it already ends in
"-controller", so that release "batchjob" in namespace batchjob-system creates exactly the
objects `kubectl apply -k config/default` creates.
*/}}
{{- define "batchjob.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if hasSuffix "-controller" .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-controller" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Name of the leader-election Lease (--leader-election-id): one per release, so two releases
in one namespace elect a leader each. Release "batchjob" gives the controller's default,
"batchjob-controller.batchjob.dev".
*/}}
{{- define "batchjob.leaderElectionID" -}}
{{- printf "%s.batchjob.dev" (include "batchjob.fullname" .) }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "batchjob.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "batchjob.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: batchjob
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the controller pods; immutable once a Deployment exists.
*/}}
{{- define "batchjob.selectorLabels" -}}
app.kubernetes.io/name: {{ include "batchjob.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The controller image reference.
*/}}
{{- define "batchjob.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The namespaces the controller watches, validated: a namespace name per entry, no duplicates.
*/}}
{{- define "batchjob.watchNamespaces" -}}
{{- $seen := dict }}
{{- range .Values.watchNamespaces }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" .) }}
{{- fail (printf "watchNamespaces: %q is not a namespace name" .) }}
{{- end }}
{{- if hasKey $seen . }}
{{- fail (printf "watchNamespaces: %q is listed twice" .) }}
{{- end }}
{{- $_ := set $seen . true }}
{{- end }}
{{- join "," .Values.watchNamespaces }}
{{- end }}
