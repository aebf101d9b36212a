{{/*
Whether this chart's ServiceMonitors may render, by global.capabilities.serviceMonitor (auto, true
or false; see common.capabilities.enabled). Templates ask it before their own serviceMonitor.enabled,
so that a wrong capability value fails the render even where a chart turned its monitors off.
Usage: {{- if and (include "common.serviceMonitor.enabled" $) .Values.serviceMonitor.enabled }}
*/}}
{{- define "common.serviceMonitor.enabled" -}}
{{- $value := dig "capabilities" "serviceMonitor" "auto" (.Values.global | default dict) -}}
{{- include "common.capabilities.enabled" (dict "context" . "value" $value "path" "global.capabilities.serviceMonitor" "api" "monitoring.coreos.com/v1") -}}
{{- end -}}

{{/*
A ServiceMonitor for the chart's pods, scraping the named port (default http) at path (default
/metrics). It renders when "enabled" and common.serviceMonitor.enabled says so (by default: where
the Prometheus Operator's API exists; elsewhere the pods' prometheus.io/* annotations serve). It
leaves out every Service labelled component "headless": a headless Service lists the same pods, so
it would scrape each one twice.
Usage: {{ include "common.serviceMonitor" (dict "context" $ "enabled" (and .Values.metrics.enabled .Values.serviceMonitor.enabled) "interval" .Values.serviceMonitor.interval) }}
*/}}
{{- define "common.serviceMonitor" -}}
{{- if and (include "common.serviceMonitor.enabled" .context) .enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  {{- include "common.metadata" (dict "context" .context "name" (.name | default (include "common.names.fullname" .context))) | nindent 2 }}
spec:
  selector:
    matchLabels:
      {{- include "common.labels.matchLabels" (dict "context" .context) | nindent 6 }}
    matchExpressions:
      - key: app.kubernetes.io/component
        operator: NotIn
        values: [headless]
  namespaceSelector:
    matchNames:
      - {{ include "common.names.namespace" .context }}
  endpoints:
    - port: {{ .port | default "http" }}
      path: {{ .path | default "/metrics" }}
      interval: {{ .interval }}
{{- end }}
{{- end -}}
