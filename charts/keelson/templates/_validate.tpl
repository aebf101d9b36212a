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
{{- $ksm := .Values.kubeStateMetrics | default dict -}}
{{- if eq (toString $ksm.enabled) "true" -}}
{{- $context := dict "Values" $ksm "Chart" (dict "Name" "kube-state-metrics") "Release" $.Release "Template" $.Template "Capabilities" $.Capabilities -}}
{{- include "kube-state-metrics.validate" (dict "context" $context "prefix" "kubeStateMetrics.") }}
{{- end -}}
{{- include "keelson.validate.across" . }}
{{- end -}}

{{/*
Rules between charts. The agent scrapes kube-state-metrics exactly when the release installs it. The
agent writing PrometheusRules into the release's Mimir
(mimir.rules.kubernetes) needs the ruler's object store: the local store is read-only to the ruler
API, and Mimir then reads no rule ConfigMaps, so the rules reach it one way only.
*/}}
{{- define "keelson.validate.across" -}}
{{- $installed := eq (toString (dig "enabled" false (.Values.kubeStateMetrics | default dict))) "true" -}}
{{- $scraped := dig "agent" "kubeStateMetrics" "enabled" false (.Values.alloy | default dict) -}}
{{- if and (ne (toString (dig "enabled" true (.Values.alloy | default dict))) "false") (ne $installed $scraped) }}
{{ printf "alloy.agent.kubeStateMetrics.enabled: must equal kubeStateMetrics.enabled (%t): the agent scrapes kube-state-metrics exactly when it is installed, and the Kubernetes alerts read its series" $installed }}
{{- end }}
{{- $alloy := .Values.alloy | default dict -}}
{{- $mimir := .Values.mimir | default dict -}}
{{- $rules := dig "agent" "prometheusOperator" "rules" "enabled" false $alloy -}}
{{- if and (ne (toString $alloy.enabled) "false") (ne (toString $mimir.enabled) "false") $rules (ne (toString (dig "ruler" "storage" "" $mimir)) "objectStorage") }}
mimir.ruler.storage: must be objectStorage while alloy.agent.prometheusOperator.rules.enabled is true (the local rule store is read-only to the ruler API, and its rule ConfigMaps would load the rules a second time)
{{- end }}
{{- end -}}
