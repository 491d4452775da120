{{- define "bss-lib.serviceaccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "bss-lib.fullname" . }}
  labels:
    {{- include "bss-lib.labels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}
