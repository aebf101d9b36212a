{{/*
Whether the objects of an optional API (ServiceMonitor, PrometheusRule, HTTPRoute...) render.
The value decides: true renders them, false never does, and "auto" renders them only when the
cluster serves the API. "auto" is only as good as the renderer's view of the cluster: a plain
`helm template` passes no CRD APIs, and Argo CD only those in its cache of the cluster, which may
lack them (argo-cd#6268, #10766), so there the objects would silently vanish; Argo CD users set
true or false. Any other value fails, naming the value's path.
Usage:
  {{- if include "common.capabilities.enabled" (dict "context" $ "value" .Values.global.capabilities.prometheusRule "path" "global.capabilities.prometheusRule" "api" "monitoring.coreos.com/v1") }}
The values live under global.capabilities, one per kind (serviceMonitor, prometheusRule), so one
setting reaches every chart of the umbrella; common.serviceMonitor.enabled reads serviceMonitor.
It returns "true" or nothing, so it reads as a condition.
*/}}
{{- define "common.capabilities.enabled" -}}
{{- $value := toString .value -}}
{{- if eq $value "true" -}}
true
{{- else if eq $value "auto" -}}
{{- if .context.Capabilities.APIVersions.Has .api -}}true{{- end -}}
{{- else if ne $value "false" -}}
{{- fail (printf "%s: must be auto, true or false" .path) -}}
{{- end -}}
{{- end -}}

{{/*
Whether this chart's HTTPRoutes may render, by global.capabilities.httpRoute (auto, true or false;
see common.capabilities.enabled). Templates ask it before their own httpRoute.enabled, so that a
wrong capability value fails the render even where a chart turned its routes off.
Usage: {{- if and (include "common.httpRoute.enabled" $) .Values.httpRoute.enabled }}
*/}}
{{- define "common.httpRoute.enabled" -}}
{{- $value := dig "capabilities" "httpRoute" "auto" (.Values.global | default dict) -}}
{{- include "common.capabilities.enabled" (dict "context" . "value" $value "path" "global.capabilities.httpRoute" "api" "gateway.networking.k8s.io/v1") -}}
{{- end -}}
