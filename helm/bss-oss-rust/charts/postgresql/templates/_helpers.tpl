{{- define "postgresql.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "postgresql.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "postgresql.labels" -}}
{{ include "postgresql.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: database
app.kubernetes.io/part-of: bss-oss-rust
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "postgresql.secretName" -}}
{{- $g := .Values.global | default dict -}}
{{- if .Values.auth.existingSecret -}}
{{- .Values.auth.existingSecret -}}
{{- else if $g.existingSecret -}}
{{- $g.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets" (.Release.Name | trunc 55 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{- define "postgresql.database" -}}
{{- dig "database" "name" "" (.Values.global | default dict) | default .Values.auth.database -}}
{{- end -}}

{{- define "postgresql.username" -}}
{{- dig "database" "user" "" (.Values.global | default dict) | default .Values.auth.username -}}
{{- end -}}
