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
  # job="bss-oss-rust" for every service, as the alert rules expect (BssTargetDown).
  jobLabel: app.kubernetes.io/part-of
  selector:
    matchLabels:
      {{- include "bss-lib.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      # Keep the metrics' own `service` label (catalog, order, …) instead of the Kubernetes Service name;
      # every dashboard and alert groups by it.
      honorLabels: true
      interval: {{ .Values.serviceMonitor.interval | default "30s" }}
      scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout | default "10s" }}
{{- end -}}
{{- end -}}
