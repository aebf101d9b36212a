{{- /*
Alert rule groups (Prometheus rule file format) built from `alerting` and the sibling charts'
values. One `define` per group renders the group as YAML; "keelson.alerting.groups" collects them as
a YAML list (read it with fromYamlArray). The rule-file ConfigMap and the PrometheusRule both read
that list, so Mimir's ruler and a Prometheus Operator evaluate the same rules.
Prometheus template syntax in annotations is written as {{`{{ ... }}`}} so Helm leaves it alone.
*/ -}}

{{/* A regex matcher of the watched namespaces: alerting.namespaces, else the release namespace. */}}
{{- define "keelson.alerting.namespaceMatcher" -}}
{{- $quoted := list -}}
{{- range (.Values.alerting.namespaces | default (list .Release.Namespace)) -}}
{{- $quoted = append $quoted (regexQuoteMeta .) -}}
{{- end -}}
{{- printf "namespace=~%q" (join "|" $quoted) -}}
{{- end -}}

{{/* The labels every alert carries besides its own: the environment, so a notification names it. */}}
{{- define "keelson.alerting.commonLabels" -}}
env: {{ include "common.environment.key" . | quote }}
{{- end -}}

{{/* Always firing: the dead-man's switch. Alertmanager sends it to the heartbeat every minute. */}}
{{- define "keelson.alerting.group.watchdog" -}}
name: keelson-watchdog
interval: {{ .Values.alerting.evaluationInterval }}
rules:
  - alert: Watchdog
    expr: vector(1)
    labels:
      severity: none
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: Always firing, so that the alerting pipeline is known to work.
      description: >-
        The ruler evaluates rules and the Alertmanager delivers them. It is sent to the heartbeat
        receiver every minute; the outside monitor alarms when the heartbeats stop.
{{- end -}}

{{/* The application's RED alerts from its OTLP HTTP server histogram. */}}
{{- define "keelson.alerting.group.app" -}}
{{- $a := .Values.alerting.app -}}
{{- $selector := $a.selector | default (printf "job=~%q" (printf "%s/.+" (regexQuoteMeta .Values.app.telemetry.serviceNamespace))) -}}
{{- $metric := "http_server_request_duration_seconds" -}}
{{- $all := printf "%s_count{%s}" $metric $selector -}}
{{- $errors := printf "%s_count{%s, http_response_status_code=~\"5..\"}" $metric $selector -}}
{{- $buckets := printf "%s_bucket{%s}" $metric $selector -}}
name: keelson-app
interval: {{ .Values.alerting.evaluationInterval }}
rules:
  - alert: KeelsonAppHighErrorRate
    expr: |-
      sum by (job) (rate({{ $errors }}[{{ $a.errors.window }}]))
        /
      sum by (job) (rate({{ $all }}[{{ $a.errors.window }}]))
        > {{ $a.errors.ratio }}
    for: {{ $a.errors.for }}
    labels:
      severity: critical
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ printf "{{ $labels.job }} answers more than %v %% of its requests with 5xx." (mulf $a.errors.ratio 100) | quote }}
      description: {{ `{{ $labels.job }}: {{ $value | humanizePercentage }} of the requests got a 5xx status` | quote }}
  - alert: KeelsonAppHighLatency
    expr: |-
      histogram_quantile({{ $a.latency.quantile }}, sum by (le, job) (rate({{ $buckets }}[{{ $a.latency.window }}])))
        > {{ $a.latency.seconds }}
    for: {{ $a.latency.for }}
    labels:
      severity: warning
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ printf "{{ $labels.job }}: the %v quantile of request latency is above %vs." $a.latency.quantile $a.latency.seconds | quote }}
      description: {{ printf "{{ $labels.job }}: %v quantile {{ $value | humanizeDuration }}" $a.latency.quantile | quote }}
{{- end -}}

{{/*
Containers, pods and workloads. The state the API holds comes from kube-state-metrics (job
kube-state-metrics, when kubeStateMetrics.enabled): restart counts, resource limits, desired and
available replicas. Its replicas export the same series (each with its own `instance`), so every
kube_* series is read through max by, never sum. Use comes from cAdvisor (job cadvisor), scrape health from the agent's pod
scrapes: every target with a `pod` label, whether the annotation job (kubernetes-pods) or a
ServiceMonitor/PodMonitor (job named by the monitor) found it; the kubelet, cAdvisor, Probe and
kube-state-metrics targets carry none. Without kube-state-metrics only KubeScrapeTargetDown is rendered.
*/}}
{{- define "keelson.alerting.group.kubernetes" -}}
{{- $k := .Values.alerting.kubernetes -}}
{{- $ns := include "keelson.alerting.namespaceMatcher" . -}}
{{- $containers := printf "job=\"cadvisor\", %s, container!=\"\", container!=\"POD\"" $ns -}}
{{- $state := printf "job=\"kube-state-metrics\", %s" $ns -}}
{{- $by := "namespace, pod, container" -}}
name: keelson-kubernetes
interval: {{ .Values.alerting.evaluationInterval }}
rules:
  - alert: KubeScrapeTargetDown
    expr: up{pod!="", {{ $ns }}} == 0
    for: {{ $k.targetDown.for }}
    labels:
      severity: warning
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ `{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.app }}) does not answer its metrics scrape.` | quote }}
      description: {{ `{{ $labels.instance }} has been down for the agent's scrapes` | quote }}
  {{- if .Values.kubeStateMetrics.enabled }}
  - alert: KubeStateMetricsDown
    expr: absent(up{job="kube-state-metrics"} == 1)
    for: {{ $k.targetDown.for }}
    labels:
      severity: warning
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: kube-state-metrics is not scraped, so the replica, restart and limit alerts cannot fire.
      description: No successful scrape of job kube-state-metrics
  # The restart count the API holds: exact, however short the container lived between scrapes.
  - alert: KubeContainerRestarting
    expr: |-
      max by ({{ $by }}) (
        max_over_time(kube_pod_container_status_restarts_total{ {{- $state -}} }[{{ $k.restarts.window }}])
          - min_over_time(kube_pod_container_status_restarts_total{ {{- $state -}} }[{{ $k.restarts.window }}])
      )
        >= {{ $k.restarts.count }}
    labels:
      severity: warning
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ printf "{{ $labels.namespace }}/{{ $labels.pod }}: container {{ $labels.container }} restarted at least %v times in %s." $k.restarts.count $k.restarts.window | quote }}
      description: {{ printf "{{ $value }} restarts of {{ $labels.container }} in %s" $k.restarts.window | quote }}
  - alert: KubeContainerCPUHigh
    expr: |-
      sum by ({{ $by }}) (rate(container_cpu_usage_seconds_total{ {{- $containers -}} }[{{ $k.cpu.window }}]))
        /
      max by ({{ $by }}) (kube_pod_container_resource_limits{ {{- $state -}}, resource="cpu"})
        > {{ $k.cpu.ratio }}
    for: {{ $k.cpu.for }}
    labels:
      severity: warning
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ printf "{{ $labels.namespace }}/{{ $labels.pod }}: {{ $labels.container }} uses more than %v %% of its CPU limit." (mulf $k.cpu.ratio 100) | quote }}
      description: {{ `{{ $labels.container }} uses {{ $value | humanizePercentage }} of its CPU limit (it is being throttled)` | quote }}
  {{- range $severity, $ratio := dict "warning" $k.memory.ratio "critical" $k.memory.criticalRatio }}
  - alert: KubeContainerMemoryHigh
    expr: |-
      sum by ({{ $by }}) (container_memory_working_set_bytes{ {{- $containers -}} })
        /
      max by ({{ $by }}) (kube_pod_container_resource_limits{ {{- $state -}}, resource="memory"})
        > {{ $ratio }}
    for: {{ $k.memory.for }}
    labels:
      severity: {{ $severity }}
      {{- include "keelson.alerting.commonLabels" $ | nindent 6 }}
    annotations:
      summary: {{ printf "{{ $labels.namespace }}/{{ $labels.pod }}: {{ $labels.container }} uses more than %v %% of its memory limit." (mulf $ratio 100) | quote }}
      description: {{ `{{ $labels.container }} uses {{ $value | humanizePercentage }} of its memory limit; at 100 % it is OOM-killed` | quote }}
  {{- end }}
  {{- /* Per kind: the object label kube-state-metrics gives it, its desired and its available series. */}}
  {{- $kinds := list
        (list "Deployment" "deployment" "kube_deployment_spec_replicas" "kube_deployment_status_replicas_available")
        (list "StatefulSet" "statefulset" "kube_statefulset_replicas" "kube_statefulset_status_replicas_ready")
        (list "DaemonSet" "daemonset" "kube_daemonset_status_desired_number_scheduled" "kube_daemonset_status_number_available") }}
  - alert: KubeReplicasBelowDesired
    expr: |-
      {{- range $i, $kind := $kinds }}
      {{- $object := index $kind 1 }}
      {{ if $i }}or {{ end }}label_replace(
        max by (namespace, {{ $object }}) ({{ index $kind 2 }}{ {{- $state -}} })
          - max by (namespace, {{ $object }}) ({{ index $kind 3 }}{ {{- $state -}} })
          > 0,
        "workload", "{{ index $kind 0 }}/$1", "{{ $object }}", "(.+)"
      )
      {{- end }}
    for: {{ $k.replicas.for }}
    labels:
      severity: warning
      {{- include "keelson.alerting.commonLabels" $ | nindent 6 }}
    annotations:
      summary: {{ `{{ $labels.workload }} in {{ $labels.namespace }} runs fewer replicas than its spec asks for.` | quote }}
      description: {{ `{{ $value }} of the desired replicas of {{ $labels.workload }} are not available (ready, for a StatefulSet)` | quote }}
  {{- end }}
{{- end -}}

{{/*
Self-monitoring of the storage backends: 5xx answers, refused data, unhealthy ring members.
Usage: include "keelson.alerting.backendRules" (dict "context" $ "app" "loki" "title" "Loki" "prefix" "loki"
  "discarded" "loki_discarded_samples_total" "what" "samples" "ring" "__name__=\"loki_ring_members\"")
*/}}
{{- define "keelson.alerting.backendRules" -}}
{{- $s := .context.Values.alerting.stack -}}
{{- $sel := printf "app=%q, %s" .app (include "keelson.alerting.namespaceMatcher" .context) -}}
{{- $requests := printf "%s_request_duration_seconds_count{%s, route!~\"ready|debug_pprof\"}" .prefix $sel -}}
{{- $errors := printf "%s_request_duration_seconds_count{%s, route!~\"ready|debug_pprof\", status_code=~\"5..\", status_code!~\"529|598\"}" .prefix $sel -}}
- alert: {{ .title }}RequestErrors
  expr: |-
    sum by (namespace, route) (rate({{ $errors }}[{{ $s.window }}]))
      /
    sum by (namespace, route) (rate({{ $requests }}[{{ $s.window }}]))
      > {{ $s.requestErrorRatio }}
  for: {{ $s.for }}
  labels:
    severity: critical
    {{- include "keelson.alerting.commonLabels" .context | nindent 4 }}
  annotations:
    summary: {{ printf "%s answers more than %v %% of {{ $labels.route }} requests with 5xx." .title (mulf $s.requestErrorRatio 100) | quote }}
    description: {{ printf "%s {{ $labels.route }}: {{ $value | humanizePercentage }} errors" .title | quote }}
- alert: {{ .title }}Discarded{{ title .what }}
  expr: sum by (namespace, reason) (rate({{ .discarded }}{ {{- $sel -}} }[{{ $s.window }}])) > 0
  for: {{ $s.for }}
  labels:
    severity: warning
    {{- include "keelson.alerting.commonLabels" .context | nindent 4 }}
  annotations:
    summary: {{ printf "%s refuses incoming %s (reason {{ $labels.reason }})." .title .what | quote }}
    description: {{ printf "%s discards {{ $value | humanize }} %s/s for {{ $labels.reason }}" .title .what | quote }}
- alert: {{ .title }}RingMembersUnhealthy
  expr: max by (namespace, name) ({ {{- .ring }}, {{ $sel }}, state="Unhealthy"}) > 0
  for: {{ $s.ringFor }}
  labels:
    severity: critical
    {{- include "keelson.alerting.commonLabels" .context | nindent 4 }}
  annotations:
    summary: {{ printf "%s ring {{ $labels.name }} has unhealthy members." .title | quote }}
    description: {{ printf "{{ $value }} member(s) of the %s {{ $labels.name }} ring missed their heartbeats" .title | quote }}
{{- end -}}

{{/* Self-monitoring of Loki, Tempo, Mimir (its ruler and Alertmanager too) and Alloy. */}}
{{- define "keelson.alerting.group.stack" -}}
{{- $s := .Values.alerting.stack -}}
{{- $ns := include "keelson.alerting.namespaceMatcher" . -}}
name: keelson-stack
interval: {{ .Values.alerting.evaluationInterval }}
rules:
  {{- if .Values.loki.enabled }}
  {{- include "keelson.alerting.backendRules" (dict "context" . "app" "loki" "title" "Loki" "prefix" "loki" "discarded" "loki_discarded_samples_total" "what" "samples" "ring" "__name__=\"loki_ring_members\"") | nindent 2 }}
  {{- end }}
  {{- if .Values.tempo.enabled }}
  {{- include "keelson.alerting.backendRules" (dict "context" . "app" "tempo" "title" "Tempo" "prefix" "tempo" "discarded" "tempo_discarded_spans_total" "what" "spans" "ring" "__name__=~\"tempo_ring_members|cortex_ring_members\"") | nindent 2 }}
  {{- end }}
  {{- if .Values.mimir.enabled }}
  {{- include "keelson.alerting.backendRules" (dict "context" . "app" "mimir" "title" "Mimir" "prefix" "cortex" "discarded" "cortex_discarded_samples_total" "what" "samples" "ring" "__name__=\"cortex_ring_members\"") | nindent 2 }}
  - alert: MimirRulerEvaluationFailures
    expr: sum by (namespace, rule_group) (rate(cortex_prometheus_rule_evaluation_failures_total{app="mimir", {{ $ns }}}[{{ $s.window }}])) > 0
    for: {{ $s.for }}
    labels:
      severity: critical
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ `Mimir's ruler fails to evaluate rule group {{ $labels.rule_group }}: its alerts cannot fire.` | quote }}
      description: {{ `{{ $value | humanize }} failed evaluations/s in {{ $labels.rule_group }}` | quote }}
  - alert: MimirAlertmanagerNotificationsFailing
    expr: sum by (namespace, integration) (rate(cortex_alertmanager_notifications_failed_total{app="mimir", {{ $ns }}}[{{ $s.window }}])) > 0
    for: {{ $s.for }}
    labels:
      severity: critical
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ `Mimir's Alertmanager cannot deliver notifications through {{ $labels.integration }}.` | quote }}
      description: {{ `{{ $value | humanize }} failed {{ $labels.integration }} notifications/s` | quote }}
  {{- end }}
  {{- if .Values.alloy.enabled }}
  {{- $alloy := printf "app=\"alloy\", %s" $ns }}
  - alert: AlloyComponentsUnhealthy
    expr: sum by (namespace, pod) (alloy_component_controller_running_components{ {{- $alloy -}}, health_type="unhealthy"}) > 0
    for: {{ $s.for }}
    labels:
      severity: warning
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ `Alloy pod {{ $labels.pod }} runs unhealthy components.` | quote }}
      description: {{ `{{ $value }} unhealthy component(s) in {{ $labels.pod }}` | quote }}
  - alert: AlloyDroppingTelemetry
    expr: |-
      sum by (namespace, pod) (rate({__name__=~"prometheus_remote_storage_samples_failed_total|loki_write_dropped_entries_total|otelcol_exporter_send_failed_(spans|metric_points|log_records)_total", {{ $alloy }}}[{{ $s.window }}]))
        > 0
    for: {{ $s.for }}
    labels:
      severity: critical
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ `Alloy pod {{ $labels.pod }} drops samples, log entries or spans it could not send.` | quote }}
      description: {{ `{{ $value | humanize }} items/s lost by {{ $labels.pod }}` | quote }}
  - alert: AlloyRefusingTelemetry
    expr: sum by (namespace, pod) (rate({__name__=~"otelcol_receiver_refused_(spans|metric_points|log_records)_total", {{ $alloy }}}[{{ $s.window }}])) > 0
    for: {{ $s.for }}
    labels:
      severity: warning
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ `Alloy pod {{ $labels.pod }} refuses OTLP data (memory limiter or a full pipeline).` | quote }}
      description: {{ `{{ $value | humanize }} items/s refused by {{ $labels.pod }}` | quote }}
  {{- end }}
{{- end -}}
