{{- define "bss-lib.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "bss-lib.fullname" . }}
  labels:
    {{- include "bss-lib.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "bss-lib.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: 8080
      targetPort: http
      protocol: TCP
{{- end -}}
