{{- define "bss-oss-rust.labels" -}}
app.kubernetes.io/name: bss-oss-rust
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: bss-oss-rust
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "bss-oss-rust.secretName" -}}
{{- .Values.global.existingSecret | default (printf "%s-secrets" (.Release.Name | trunc 55 | trimSuffix "-")) -}}
{{- end -}}
