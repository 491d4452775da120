{{/*
NetworkPolicies of a service (networkPolicy.enabled): a default-deny of ingress and egress for its pods, and
one policy with what it needs: DNS to kube-system, ingress on 8080 from the ingress controller's namespace,
from Prometheus' namespace and from the peer services that call it (topology.calledBy); egress to PostgreSQL
5432, Redis 6379, the OTel collector 4318, the peers it calls (topology.calls) and networkPolicy.extraEgress.
*/}}
{{- define "bss-lib.networkpolicy" -}}
{{- if include "bss-lib.enabled" (list . "networkPolicy") -}}
{{- $g := .Values.global | default dict -}}
{{- $np := .Values.networkPolicy -}}
{{- $ingressNs := dig "networkPolicy" "ingressNamespace" "" $g | default $np.ingressNamespace -}}
{{- $promSel := dig "networkPolicy" "prometheusNamespaceSelector" dict $g | default $np.prometheusNamespaceSelector -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "bss-lib.fullname" . }}-default-deny
  labels:
    {{- include "bss-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "bss-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "bss-lib.fullname" . }}
  labels:
    {{- include "bss-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "bss-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    {{- if $ingressNs }}
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ $ingressNs }}
      ports:
        - port: 8080
          protocol: TCP
    {{- end }}
    - from:
        - namespaceSelector:
            matchLabels:
              {{- toYaml $promSel | nindent 14 }}
      ports:
        - port: 8080
          protocol: TCP
    {{- range .Values.topology.calledBy | default list }}
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ . }}
              app.kubernetes.io/part-of: bss-oss-rust
      ports:
        - port: 8080
          protocol: TCP
    {{- end }}
    {{- with $np.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
      ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    - ports:
        - port: {{ include "bss-lib.setting" (list . "database" "port") | default "5432" | int }}
          protocol: TCP
      {{- with $np.databaseTo }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    - ports:
        - port: 6379
          protocol: TCP
      {{- with $np.redisTo }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    - ports:
        - port: 4318
          protocol: TCP
      {{- with $np.otelTo }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- range .Values.topology.calls | default list }}
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ . }}
              app.kubernetes.io/part-of: bss-oss-rust
      ports:
        - port: 8080
          protocol: TCP
    {{- end }}
    {{- with (concat (dig "networkPolicy" "extraEgress" list $g) ($np.extraEgress | default list)) }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
{{- end -}}
