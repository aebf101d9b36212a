{{/*
A ServiceMonitor for the chart's pods, scraping the named port (default http) at path (default
/metrics). It renders only where the Prometheus Operator's API exists (elsewhere the pods'
prometheus.io/* annotations serve) and when "enabled". It leaves out every Service labelled
component "headless": a headless Service lists the same pods, so it would scrape each one twice.
Usage: {{ include "common.serviceMonitor" (dict "context" $ "enabled" (and .Values.metrics.enabled .Values.serviceMonitor.enabled) "interval" .Values.serviceMonitor.interval) }}
*/}}
{{- define "common.serviceMonitor" -}}
{{- if and .enabled (.context.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") -}}
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
