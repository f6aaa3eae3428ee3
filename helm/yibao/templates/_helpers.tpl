{{/* Labels on every object; `name` is the workload (enrollment, gateway, redis…). */}}
{{- define "yibao.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: yibao
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "yibao.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{/* Pod-level hardening; `uid` is the user to run as. */}}
{{- define "yibao.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "yibao.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod template metadata that puts a long-running pod into the chosen mesh. */}}
{{- define "yibao.meshAnnotations" -}}
{{- if eq .Values.mesh "linkerd" -}}
annotations:
  linkerd.io/inject: enabled
{{- end }}
{{- end -}}
{{/* Pod template annotations of the gateway and the services: the mesh's, and Prometheus'
pod discovery of the metrics port (`port`) when monitoring.scrapeAnnotations. */}}
{{- define "yibao.podAnnotations" -}}
{{- $mesh := eq .root.Values.mesh "linkerd" -}}
{{- $scrape := .root.Values.monitoring.scrapeAnnotations -}}
{{- if or $mesh $scrape -}}
annotations:
  {{- if $mesh }}
  linkerd.io/inject: enabled
  {{- end }}
  {{- if $scrape }}
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ .port | quote }}
  prometheus.io/path: /metrics
  {{- end }}
{{- end }}
{{- end -}}
{{- define "yibao.meshLabels" -}}
{{- if eq .Values.mesh "istio" -}}
sidecar.istio.io/inject: "true"
{{- end }}
{{- end -}}

{{- define "yibao.topologySpread" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: {{ .zoneSpread }}
  labelSelector:
    matchLabels:
      app.kubernetes.io/name: {{ .name }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      app.kubernetes.io/name: {{ .name }}
{{- end -}}

{{- define "yibao.otlpEndpoint" -}}
{{- if .Values.config.otlpEndpoint -}}
{{ .Values.config.otlpEndpoint }}
{{- else if .Values.otelCollector.enabled -}}
http://otel-collector:4317
{{- end -}}
{{- end -}}

{{/* The gateway's and a service's Redis environment: the password from its Secret, and the URL
with $(REDIS_PASSWORD) in it, which Kubernetes expands (only in `env`, never in envFrom). */}}
{{- define "yibao.redisEnv" -}}
{{- $auth := .Values.redis.auth -}}
{{- if $auth.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $auth.secret.name }}
      key: {{ $auth.secret.key }}
{{- end }}
- name: YIBAO__REDIS__URL
{{- if eq .Values.redis.mode "external" }}
  value: {{ required "redis.url is required when redis.mode is external" .Values.redis.url | quote }}
{{- else if $auth.enabled }}
  value: "redis://:$(REDIS_PASSWORD)@redis:6379/0"
{{- else }}
  value: "redis://redis:6379/0"
{{- end }}
{{- end -}}

{{/* The Secret holding a service's database URL (key in yibao.dbSecretKey). */}}
{{- define "yibao.dbSecretName" -}}
{{- if eq .root.Values.postgresql.mode "cnpg" -}}
yibao-{{ .name }}-db-app
{{- else -}}
{{ (index .root.Values.postgresql.external.secrets .name).name }}
{{- end -}}
{{- end -}}
{{- define "yibao.dbSecretKey" -}}
{{- if eq .root.Values.postgresql.mode "cnpg" -}}
uri
{{- else -}}
{{ (index .root.Values.postgresql.external.secrets .name).key }}
{{- end -}}
{{- end -}}

{{/* The settings of a workload: defaults overridden by its own entry. */}}
{{- define "yibao.settings" -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.defaults) (omit .own "enabled" "voucherSecret" "idempotencySecret" "ingress" "rateLimitPerMinute" "maxBodyBytes" "requestTimeoutMs")) -}}
{{- end -}}

{{/* Environment a service or its migration Job reads from Secrets. */}}
{{- define "yibao.secretEnv" -}}
- name: YIBAO__DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ include "yibao.dbSecretName" . }}
      key: {{ include "yibao.dbSecretKey" . }}
{{- if eq .name "enrollment" }}
- name: YIBAO__ENROLLMENT__VOUCHER_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .own.voucherSecret.name }}
      key: {{ .own.voucherSecret.key }}
{{- end }}
{{- end -}}

{{/* Egress rule from a service (or its migration Job) to its own PostgreSQL. */}}
{{- define "yibao.dbEgress" -}}
{{- if .cnpg -}}
- to:
    - podSelector:
        matchLabels:
          cnpg.io/cluster: yibao-{{ .name }}-db
  ports:
    - {protocol: TCP, port: 5432}
{{- else -}}
# External PostgreSQL: address unknown to the chart, port only.
- ports:
    - {protocol: TCP, port: 5432}
{{- end }}
{{- end -}}

{{- define "yibao.redisEgress" -}}
{{- if eq .Values.redis.mode "inCluster" -}}
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: redis
  ports:
    - {protocol: TCP, port: 6379}
{{- else -}}
# External Redis: address unknown to the chart, port only.
- ports:
    - {protocol: TCP, port: 6379}
{{- end }}
{{- end -}}
