{{/*
migrations.mode=job: a pre-install/pre-upgrade hook Job running `<service> migrate`, which applies the embedded
migrations and exits 0; the Deployment then gets RUN_MIGRATIONS=false. The hook runs before the release's own
resources, so it needs an external database and an existing Secret. mode=startup (default): every replica
migrates at start under sqlx's PostgreSQL advisory lock, and this renders nothing.
*/}}
{{- define "bss-lib.migrationJob" -}}
{{- if eq (include "bss-lib.migrationMode" .) "job" -}}
{{- $g := .Values.global | default dict -}}
{{- if not (or $g.existingSecret .Values.existingSecret) -}}
{{- fail (printf "%s: migrations.mode=job needs existingSecret (global.existingSecret in the umbrella): the pre-install hook Job runs before a Secret made from secrets.* exists" .Chart.Name) -}}
{{- end -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "bss-lib.fullname" . }}-migrate
  labels:
    {{- include "bss-lib.labels" . | nindent 4 }}
    app.kubernetes.io/component: migration
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: 3
  activeDeadlineSeconds: {{ add (.Values.migrations.timeoutSecs | default 300) 60 }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Chart.Name }}-migrate
        app.kubernetes.io/instance: {{ .Release.Name }}
        app.kubernetes.io/part-of: bss-oss-rust
        app.kubernetes.io/component: migration
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      {{- with include "bss-lib.imagePullSecrets" . }}
      {{- . | nindent 6 }}
      {{- end }}
      securityContext:
        {{- include "bss-lib.podSecurityContext" . | nindent 8 }}
      containers:
        - name: migrate
          image: {{ include "bss-lib.image" . | quote }}
          imagePullPolicy: {{ include "bss-lib.pullPolicy" . }}
          args: ["migrate"]
          env:
            - name: RUST_LOG
              value: {{ .Values.logLevel | default "info" | quote }}
            - name: DATABASE_HOST
              value: {{ include "bss-lib.databaseHost" . | quote }}
            - name: DATABASE_PORT
              value: {{ include "bss-lib.setting" (list . "database" "port") | default "5432" | quote }}
            - name: DATABASE_NAME
              value: {{ include "bss-lib.setting" (list . "database" "name") | default "bss" | quote }}
            - name: DATABASE_USER
              value: {{ include "bss-lib.setting" (list . "database" "user") | default "bss" | quote }}
            - name: DATABASE_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: {{ include "bss-lib.secretName" . }}
                  key: DATABASE_PASSWORD
            - name: MIGRATE_TIMEOUT_SECS
              value: {{ .Values.migrations.timeoutSecs | default 300 | toString | quote }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- include "bss-lib.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
{{- end -}}
{{- end -}}
