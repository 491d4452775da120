{{/*
bss-lib helpers. Every service chart calls these with its root context (.).
Settings come from the chart's own values, overridden by `global.*` when the
chart runs inside the bss-oss-rust umbrella (global.umbrella: true).
*/}}

{{/* Full name of a chart in this release: the release name when it is the chart name (a standalone "helm install order"), else <release>-<chart> (a release named catalog-customer must not give two charts one name). Args: (list $root $chartName). */}}
{{- define "bss-lib.fullnameOf" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- if eq $name $root.Release.Name -}}
{{- $root.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" $root.Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "bss-lib.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "bss-lib.fullnameOf" (list . .Chart.Name) -}}
{{- end -}}
{{- end -}}

{{- define "bss-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bss-lib.labels" -}}
{{ include "bss-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: api
app.kubernetes.io/part-of: bss-oss-rust
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* A setting: global.<a>.<b> when the umbrella sets it (non-empty), else .Values.<a>.<b>. Args: (list $root "a" "b"). */}}
{{- define "bss-lib.setting" -}}
{{- $root := index . 0 -}}
{{- $a := index . 1 -}}
{{- $b := index . 2 -}}
{{- $g := dig $a $b "" ($root.Values.global | default dict) -}}
{{- if or (kindIs "bool" $g) (not (empty $g)) -}}
{{- $g -}}
{{- else -}}
{{- $local := index $root.Values $a | default dict -}}
{{- $l := get $local $b -}}
{{- if kindIs "invalid" $l }}{{ else }}{{ $l }}{{ end -}}
{{- end -}}
{{- end -}}

{{- define "bss-lib.umbrella" -}}
{{- if dig "umbrella" false (.Values.global | default dict) -}}true{{- end -}}
{{- end -}}

{{- define "bss-lib.image" -}}
{{- $registry := include "bss-lib.setting" (list . "image" "registry") -}}
{{- $tag := include "bss-lib.setting" (list . "image" "tag") | default .Chart.AppVersion -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .Values.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "bss-lib.pullPolicy" -}}
{{- include "bss-lib.setting" (list . "image" "pullPolicy") | default "IfNotPresent" -}}
{{- end -}}

{{- define "bss-lib.imagePullSecrets" -}}
{{- $s := concat (dig "imagePullSecrets" list (.Values.global | default dict)) (.Values.imagePullSecrets | default list) | uniq -}}
{{- if $s -}}
imagePullSecrets:
{{- range $s }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* The Secret with JWT_SECRET and DATABASE_PASSWORD. */}}
{{- define "bss-lib.secretName" -}}
{{- $g := .Values.global | default dict -}}
{{- if $g.existingSecret -}}
{{- $g.existingSecret -}}
{{- else if .Values.existingSecret -}}
{{- .Values.existingSecret -}}
{{- else if include "bss-lib.umbrella" . -}}
{{- printf "%s-secrets" (.Release.Name | trunc 55 | trimSuffix "-") -}}
{{- else if and .Values.secrets .Values.secrets.DATABASE_PASSWORD -}}
{{- include "bss-lib.fullname" . -}}
{{- else -}}
{{- fail (printf "%s: no secret. Set existingSecret=<name of a Secret with the keys DATABASE_PASSWORD and JWT_SECRET>, or secrets.DATABASE_PASSWORD and secrets.JWT_SECRET. There is no default secret." .Chart.Name) -}}
{{- end -}}
{{- end -}}

{{/* JWT keys come from an identity provider (JWKS URL or public key): JWT_SECRET is then not required. */}}
{{- define "bss-lib.externalJwt" -}}
{{- if or (include "bss-lib.setting" (list . "jwt" "jwksUrl")) (include "bss-lib.setting" (list . "jwt" "publicKey")) -}}true{{- end -}}
{{- end -}}

{{- define "bss-lib.databaseHost" -}}
{{- $h := include "bss-lib.setting" (list . "database" "host") -}}
{{- if $h -}}
{{- $h -}}
{{- else if include "bss-lib.umbrella" . -}}
{{- include "bss-lib.fullnameOf" (list . "postgresql") -}}
{{- else -}}
{{- fail (printf "%s: set database.host (the PostgreSQL server this service uses)" .Chart.Name) -}}
{{- end -}}
{{- end -}}

{{/* True when the database is the umbrella's bundled PostgreSQL StatefulSet. */}}
{{- define "bss-lib.bundledDatabase" -}}
{{- if and (include "bss-lib.umbrella" .) (not (include "bss-lib.setting" (list . "database" "host"))) -}}true{{- end -}}
{{- end -}}

{{- define "bss-lib.redisSecret" -}}
{{- include "bss-lib.setting" (list . "redis" "existingSecret") -}}
{{- end -}}

{{- define "bss-lib.redisUrl" -}}
{{- $u := include "bss-lib.setting" (list . "redis" "url") -}}
{{- $h := include "bss-lib.setting" (list . "redis" "host") -}}
{{- if $u -}}
{{- $u -}}
{{- else if $h -}}
{{- printf "redis://%s:%s" $h (include "bss-lib.setting" (list . "redis" "port") | default "6379") -}}
{{- else if include "bss-lib.umbrella" . -}}
{{- printf "redis://%s:6379" (include "bss-lib.fullnameOf" (list . "redis")) -}}
{{- else if not (include "bss-lib.redisSecret" .) -}}
{{- fail (printf "%s: set redis.url (redis://host:6379), redis.host or redis.existingSecret (a Secret with the key REDIS_URL)" .Chart.Name) -}}
{{- end -}}
{{- end -}}

{{/* URL of a peer service. Args: (list $root "catalog"). */}}
{{- define "bss-lib.peerUrl" -}}
{{- $root := index . 0 -}}
{{- $peer := index . 1 -}}
{{- $set := get ($root.Values.peers | default dict) (printf "%sUrl" $peer) -}}
{{- if $set -}}
{{- $set -}}
{{- else if include "bss-lib.umbrella" $root -}}
{{- printf "http://%s:8080" (include "bss-lib.fullnameOf" (list $root $peer)) -}}
{{- else -}}
{{- fail (printf "%s calls %s: set peers.%sUrl (e.g. http://%s:8080)" $root.Chart.Name $peer $peer $peer) -}}
{{- end -}}
{{- end -}}

{{- define "bss-lib.migrationMode" -}}
{{- $m := include "bss-lib.setting" (list . "migrations" "mode") | default "startup" -}}
{{- if not (has $m (list "startup" "job")) -}}
{{- fail (printf "%s: migrations.mode must be startup or job, not %q" .Chart.Name $m) -}}
{{- end -}}
{{- if and (eq $m "job") (include "bss-lib.bundledDatabase" .) -}}
{{- fail (printf "%s: migrations.mode=job needs an external database (postgresql.enabled=false and global.database.host): the pre-install hook Job runs before the bundled PostgreSQL StatefulSet exists. Use migrations.mode=startup with the bundled PostgreSQL." .Chart.Name) -}}
{{- end -}}
{{- $m -}}
{{- end -}}

{{/* Boolean feature switch with a global override: "true" or "". Args: (list $root "networkPolicy"). */}}
{{- define "bss-lib.enabled" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- $g := $root.Values.global | default dict -}}
{{- $local := index $root.Values $key | default dict -}}
{{- if and (hasKey $g $key) (hasKey (get $g $key | default dict) "enabled") (ne (toString (get (get $g $key) "enabled")) "<nil>") -}}
{{- if (get (get $g $key) "enabled") }}true{{ end -}}
{{- else if $local.enabled -}}true{{- end -}}
{{- end -}}

{{- define "bss-lib.shutdownDrain" -}}{{ int (.Values.shutdown.drainSecs | default 5) }}{{- end -}}
{{- define "bss-lib.shutdownTimeout" -}}{{ int (.Values.shutdown.timeoutSecs | default 30) }}{{- end -}}

{{- define "bss-lib.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "bss-lib.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment from the Secret (and the Redis secret when one is set). */}}
{{- define "bss-lib.secretEnv" -}}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "bss-lib.secretName" . }}
      key: DATABASE_PASSWORD
{{- if not (include "bss-lib.externalJwt" .) }}
- name: JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "bss-lib.secretName" . }}
      key: JWT_SECRET
{{- end }}
{{- if include "bss-lib.redisSecret" . }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "bss-lib.redisSecret" . }}
      key: REDIS_URL
{{- end }}
{{- end -}}
