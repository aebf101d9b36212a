{{/*
Every chart's rules at once. Helm stops at the first template that fails, and it renders the
subcharts' templates before the umbrella's, so under the umbrella each chart's own validation renders
nothing (common.validate.chart) and this reads every enabled chart's values through .Values.<chart>
(helm has merged the chart's defaults and the globals in there), runs that chart's validator on them
with the prefix "<chart>." and fails once with every message of every chart (templates/validate.yaml).
*/}}
{{- define "keelson.validate" -}}
{{- range $name := list "app" "loki" "tempo" "mimir" "pyroscope" "grafana" "alloy" -}}
{{- $values := index $.Values $name | default dict -}}
{{- if ne (toString $values.enabled) "false" -}}
{{- $context := dict "Values" $values "Chart" (dict "Name" $name) "Release" $.Release "Template" $.Template "Capabilities" $.Capabilities -}}
{{- include (printf "%s.validate" $name) (dict "context" $context "prefix" (printf "%s." $name)) }}
{{- end -}}
{{- end -}}
{{- end -}}
