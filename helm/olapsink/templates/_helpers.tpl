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

{{/* The sink CRDs' plurals, used by every RBAC rule that names them. */}}
{{- define "olapsink.sinkPlurals" -}}
dorissinks starrockssinks
{{- end }}

{{/* The sink resources with a subresource suffix ("" or "/status"...), as a YAML flow list. */}}
{{- define "olapsink.sinkResources" -}}
{{- $suffix := . }}
{{- $out := list }}
{{- range splitList " " (include "olapsink.sinkPlurals" .) }}
{{- $out = append $out (printf "%s%s" . $suffix) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
The operator's RBAC rules on namespaced resources: the single list of what olapsink-operator may do,
used by the ClusterRole (cluster-wide mode) or by one Role per watched namespace. Only the verbs the
operator's API calls need (docs/operator.md lists them; tests/helm/test_rbac_calls.py checks them
against a running operator).
*/}}
{{- define "olapsink.operatorNamespacedRules" -}}
# The sinks: kopf lists and watches them and patches its progress annotations into them.
- apiGroups: [olapsink.io]
  resources: {{ include "olapsink.sinkResources" "" }}
  verbs: [get, list, watch, patch]
# Status is written with merge patches through the status subresource.
- apiGroups: [olapsink.io]
  resources: {{ include "olapsink.sinkResources" "/status" }}
  verbs: [patch]
# Children carry ownerReferences with blockOwnerDeletion, which needs update on the owner's
# finalizers where the OwnerReferencesPermissionEnforcement admission plugin runs (e.g. OpenShift).
- apiGroups: [olapsink.io]
  resources: {{ include "olapsink.sinkResources" "/finalizers" }}
  verbs: [update]
# Worker Deployments: created and patched, and watched so status follows rollouts. Deleting a sink
# deletes its children through the garbage collector, so no delete verb is needed.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [create, get, list, watch, patch]
# ConfigMaps: the sink's config (created and patched), and the Avro schema ConfigMaps sinks name
# (spec.converter.avroSchemaConfigMap), read and watched so a changed schema rolls the workers.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, get, list, watch, patch]
- apiGroups: [""]
  resources: [services]
  verbs: [create, get, patch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [create, get, patch]
# Read-only: the operator hashes the Secrets a sink references so a changed password rolls the workers.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
{{- if .Values.operator.readWorkerPods }}
# Read-only: a stopped worker's termination message names the fatal error in the sink's status.
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
{{- end }}
# Events on sinks, posted by the operator and by kopf (created, scaled, paused, errors).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
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

{{/*
Command-line arguments of olapsink-operator (see its --help): no --namespace means every namespace;
without --peering it runs standalone, which is right for the single Recreate replica.
*/}}
{{- define "olapsink.operatorArgs" -}}
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
- --liveness=http://0.0.0.0:{{ .Values.operator.healthPort }}/healthz
{{- if eq .Values.operator.logLevel "debug" }}
- --verbose
{{- end }}
{{- with .Values.operator.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}
