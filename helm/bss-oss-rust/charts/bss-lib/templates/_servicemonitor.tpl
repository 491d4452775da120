{{- define "bss-lib.servicemonitor" -}}
{{- if include "bss-lib.enabled" (list . "serviceMonitor") -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "bss-lib.fullname" . }}
  labels:
    {{- include "bss-lib.labels" . | nindent 4 }}
    {{- with (merge (dict) (.Values.serviceMonitor.labels | default dict) (dig "serviceMonitor" "labels" dict (.Values.global | default dict))) }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "bss-lib.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval | default "30s" }}
      scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout | default "10s" }}
{{- end -}}
{{- end -}}
