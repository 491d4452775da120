{{/* Standalone install only: a Secret from secrets.* when no existingSecret is named (the umbrella makes its own). */}}
{{- define "bss-lib.secret" -}}
{{- $g := .Values.global | default dict -}}
{{- if and (not (include "bss-lib.umbrella" .)) (not $g.existingSecret) (not .Values.existingSecret) -}}
{{- if not (and .Values.secrets .Values.secrets.DATABASE_PASSWORD) -}}
{{- fail (printf "%s: no secret. Set existingSecret=<Secret with DATABASE_PASSWORD and JWT_SECRET> or secrets.DATABASE_PASSWORD (and secrets.JWT_SECRET). There is no default secret." .Chart.Name) -}}
{{- end -}}
{{- if and (not (include "bss-lib.externalJwt" .)) (not .Values.secrets.JWT_SECRET) -}}
{{- fail (printf "%s: set secrets.JWT_SECRET (at least 32 characters), or jwt.jwksUrl / jwt.publicKey for an identity provider" .Chart.Name) -}}
{{- end -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "bss-lib.fullname" . }}
  labels:
    {{- include "bss-lib.labels" . | nindent 4 }}
type: Opaque
stringData:
  DATABASE_PASSWORD: {{ .Values.secrets.DATABASE_PASSWORD | quote }}
  {{- with .Values.secrets.JWT_SECRET }}
  JWT_SECRET: {{ . | quote }}
  {{- end }}
{{- end -}}
{{- end -}}
