{{/* ConfigMap with the non-secret environment of a service (README "Configuration"). */}}
{{- define "bss-lib.configmap" -}}
{{- $otel := include "bss-lib.setting" (list . "otel" "endpoint") -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "bss-lib.fullname" . }}
  labels:
    {{- include "bss-lib.labels" . | nindent 4 }}
data:
  PORT: "8080"
  RUST_LOG: {{ .Values.logLevel | default "info" | quote }}
  DATABASE_HOST: {{ include "bss-lib.databaseHost" . | quote }}
  DATABASE_PORT: {{ include "bss-lib.setting" (list . "database" "port") | default "5432" | quote }}
  DATABASE_NAME: {{ include "bss-lib.setting" (list . "database" "name") | default "bss" | quote }}
  DATABASE_USER: {{ include "bss-lib.setting" (list . "database" "user") | default "bss" | quote }}
  DATABASE_MAX_CONNECTIONS: {{ .Values.database.maxConnections | default 20 | toString | quote }}
  RUN_MIGRATIONS: {{ ternary "true" "false" (eq (include "bss-lib.migrationMode" .) "startup") | quote }}
  {{- if not (include "bss-lib.redisSecret" .) }}
  REDIS_URL: {{ include "bss-lib.redisUrl" . | quote }}
  {{- end }}
  REDIS_KEY_PREFIX: {{ include "bss-lib.setting" (list . "redis" "keyPrefix") | default "bss" | quote }}
  JWT_ISSUER: {{ include "bss-lib.setting" (list . "jwt" "issuer") | default "bss-oss" | quote }}
  JWT_AUDIENCE: {{ include "bss-lib.setting" (list . "jwt" "audience") | default "bss-oss" | quote }}
  {{- with include "bss-lib.setting" (list . "jwt" "jwksUrl") }}
  JWT_JWKS_URL: {{ . | quote }}
  {{- end }}
  {{- with include "bss-lib.setting" (list . "jwt" "publicKey") }}
  JWT_PUBLIC_KEY: {{ . | quote }}
  JWT_ALGORITHM: {{ include "bss-lib.setting" (list $ "jwt" "algorithm") | default "RS256" | quote }}
  {{- end }}
  {{- if $otel }}
  OTEL_EXPORTER_OTLP_ENDPOINT: {{ $otel | quote }}
  {{- end }}
  OTEL_SERVICE_NAME: {{ .Chart.Name | quote }}
  SHUTDOWN_DRAIN_SECS: {{ include "bss-lib.shutdownDrain" . | quote }}
  SHUTDOWN_TIMEOUT_SECS: {{ include "bss-lib.shutdownTimeout" . | quote }}
  HUB_ALLOW_PRIVATE_CALLBACKS: {{ .Values.hub.allowPrivateCallbacks | default false | toString | quote }}
  {{- range (.Values.topology.calls | default list) }}
  {{ upper . }}_URL: {{ include "bss-lib.peerUrl" (list $ .) | quote }}
  {{- end }}
  {{- range $k, $v := (.Values.serviceEnv | default dict) }}
  {{ $k }}: {{ $v | toString | quote }}
  {{- end }}
{{- end -}}
