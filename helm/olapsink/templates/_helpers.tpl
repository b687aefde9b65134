{{/* Names and labels shared by every template of the chart. */}}

{{- define "olapsink.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name alone when it already contains the chart name. */}}
{{- define "olapsink.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "olapsink.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "olapsink.selectorLabels" -}}
app.kubernetes.io/name: {{ include "olapsink.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "olapsink.labels" -}}
helm.sh/chart: {{ include "olapsink.chart" . }}
{{ include "olapsink.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: olapsink
{{- end }}

{{- define "olapsink.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "olapsink.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "olapsink.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The operator's RBAC rules on namespaced resources: the single list of what olapsink-operator may do,
used by the ClusterRole (cluster-wide mode) or by one Role per watched namespace.
Keep it in step with the API calls listed in docs/operator.md.
*/}}
{{- define "olapsink.operatorNamespacedRules" -}}
# The sinks: kopf watches them and patches its progress annotations; the operator writes status
# and reads/writes replicas through the scale subresource.
- apiGroups: [olapsink.io]
  resources: [dorissinks, starrocksinks]
  verbs: [get, list, watch, patch]
- apiGroups: [olapsink.io]
  resources: [dorissinks/status, starrocksinks/status, dorissinks/scale, starrocksinks/scale]
  verbs: [get, patch]
# The children of each sink, all owned by it through ownerReferences (no finalizers needed).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [create, get, list, watch, patch, delete]
- apiGroups: [""]
  resources: [configmaps, services]
  verbs: [create, get, list, watch, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [create, get, list, watch, patch, delete]
# Read-only: the operator hashes the Secrets a sink references so a changed password rolls the workers.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
# Events on sinks, posted by kopf and by the operator (created, scaled, paused, errors).
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* Cluster-scoped reads kopf itself needs, whatever the watch mode. */}}
{{- define "olapsink.operatorClusterRules" -}}
# kopf discovers the sink CRDs and notices when they are installed or removed.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- if .Values.watchNamespaces }}
# With named namespaces kopf lists namespaces to learn which of them exist (cluster-wide mode does not).
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list, watch]
{{- end }}
{{- end }}

{{/* Command-line arguments of olapsink-operator (kopf run options). */}}
{{- define "olapsink.operatorArgs" -}}
{{- if .Values.watchNamespaces }}
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- else }}
- --all-namespaces
{{- end }}
- --standalone
- --liveness=http://0.0.0.0:{{ .Values.operator.healthPort }}/healthz
- --log-format={{ .Values.operator.logFormat }}
{{- if eq .Values.operator.logLevel "debug" }}
- --debug
{{- else if eq .Values.operator.logLevel "warning" }}
- --quiet
{{- end }}
{{- with .Values.operator.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}
