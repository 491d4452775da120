{{/* Deployment of a service. terminationGracePeriodSeconds = drain + timeout + 10. */}}
{{- define "bss-lib.deployment" -}}
{{- $drain := int (include "bss-lib.shutdownDrain" .) -}}
{{- $timeout := int (include "bss-lib.shutdownTimeout" .) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "bss-lib.fullname" . }}
  labels:
    {{- include "bss-lib.labels" . | nindent 4 }}
spec:
  {{- if not (include "bss-lib.enabled" (list . "autoscaling")) }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "bss-lib.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "bss-lib.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include "bss-lib.configmap" . | sha256sum }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "bss-lib.fullname" . }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ add $drain $timeout 10 }}
      {{- with include "bss-lib.imagePullSecrets" . }}
      {{- . | nindent 6 }}
      {{- end }}
      securityContext:
        {{- include "bss-lib.podSecurityContext" . | nindent 8 }}
      containers:
        - name: {{ .Chart.Name }}
          image: {{ include "bss-lib.image" . | quote }}
          imagePullPolicy: {{ include "bss-lib.pullPolicy" . }}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "bss-lib.fullname" . }}
          env:
            {{- include "bss-lib.secretEnv" . | nindent 12 }}
            {{- range .Values.fieldEnv | default list }}
            - name: {{ . }}
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet:
              path: /live
              port: http
            periodSeconds: 5
            failureThreshold: 60
            timeoutSeconds: 2
          livenessProbe:
            httpGet:
              path: /live
              port: http
            periodSeconds: 10
            timeoutSeconds: 2
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
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
      affinity:
        {{- if .Values.affinity }}
        {{- toYaml .Values.affinity | nindent 8 }}
        {{- else }}
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: topology.kubernetes.io/zone
                labelSelector:
                  matchLabels:
                    {{- include "bss-lib.selectorLabels" . | nindent 20 }}
            - weight: 50
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "bss-lib.selectorLabels" . | nindent 20 }}
        {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
