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
agent writing PrometheusRules into the release's Mimir (mimir.rules.kubernetes) needs the ruler's
object store: the local store is read-only to the ruler API, and on the object store Mimir refuses
rule files and rule ConfigMaps (mimir.validate), so the rules reach it one way only. That way must
then work: the agent reads the operator's objects and the umbrella renders its PrometheusRule,
else Mimir's ruler evaluates nothing.
*/}}
{{- define "keelson.validate.across" -}}
{{- include "keelson.validate.serviceMonitorCharts" . }}
{{- $installed := eq (toString (dig "enabled" false (.Values.kubeStateMetrics | default dict))) "true" -}}
{{- $scraped := dig "agent" "kubeStateMetrics" "enabled" false (.Values.alloy | default dict) -}}
{{- if and (ne (toString (dig "enabled" true (.Values.alloy | default dict))) "false") (ne $installed $scraped) }}
{{ printf "alloy.agent.kubeStateMetrics.enabled: must equal kubeStateMetrics.enabled (%t): the agent scrapes kube-state-metrics exactly when it is installed, and the Kubernetes alerts read its series" $installed }}
{{- end }}
{{- $alloy := .Values.alloy | default dict -}}
{{- $mimir := .Values.mimir | default dict -}}
{{- $rules := dig "agent" "prometheusOperator" "rules" "enabled" false $alloy -}}
{{- if and (ne (toString $alloy.enabled) "false") (ne (toString $mimir.enabled) "false") $rules }}
{{- $while := "while alloy.agent.prometheusOperator.rules.enabled is true" -}}
{{- if ne (toString (dig "ruler" "storage" "" $mimir)) "objectStorage" }}
mimir.ruler.storage: must be objectStorage, with mimir.ruler.rules and mimir.ruler.ruleConfigMaps empty, {{ $while }} (the local rule store is read-only to the ruler API, and Mimir refuses rule files and rule ConfigMaps on the object store)
{{- end }}
{{- if not (dig "agent" "prometheusOperator" "enabled" true $alloy) }}
alloy.agent.prometheusOperator.enabled: must be true {{ $while }} (the agent loads PrometheusRules only while it reads the operator's objects, else Mimir's ruler evaluates nothing)
{{- end }}
{{- if not (dig "prometheusRule" "enabled" true (.Values.alerting | default dict)) }}
alerting.prometheusRule.enabled: must be true {{ $while }} (the stack's alert rules reach Mimir's ruler only as the PrometheusRule, else Mimir's ruler evaluates nothing)
{{- end }}
{{- range $kind := list "serviceMonitor" "prometheusRule" }}
{{- if eq (toString (dig "capabilities" $kind "auto" ($.Values.global | default dict))) "false" }}
{{ printf "global.capabilities.%s: must be auto or true %s (the agent loads PrometheusRules only where the operator's API is served, else Mimir's ruler evaluates nothing)" $kind $while }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}


{{/*
While the agent reads ServiceMonitors, the annotation job leaves out the pods of the charts in
alloy.agent.prometheusOperator.serviceMonitorCharts. A listed chart that exposes metrics but whose
ServiceMonitor is off would be scraped by neither, so the list must follow the charts' switches
(a chart not installed, or exposing no metrics, has no pods to miss).
*/}}
{{- define "keelson.validate.serviceMonitorCharts" -}}
{{- $alloy := .Values.alloy | default dict -}}
{{- if ne (toString $alloy.enabled) "false" -}}
{{- $context := dict "Values" $alloy "Chart" (dict "Name" "alloy") "Release" .Release "Capabilities" .Capabilities -}}
{{- if include "alloy.agent.operator" $context -}}
{{- $path := "alloy.agent.prometheusOperator.serviceMonitorCharts" -}}
{{- range $chart := $alloy.agent.prometheusOperator.serviceMonitorCharts -}}
{{- $values := index $.Values $chart | default dict -}}
{{- if ne (toString $values.enabled) "false" -}}
{{- $off := list -}}
{{- if has $chart (list "loki" "tempo" "mimir" "pyroscope") -}}
{{- if and (dig "metrics" "enabled" true $values) (not (dig "serviceMonitor" "enabled" true $values)) -}}
{{- $off = append $off (printf "%s.serviceMonitor.enabled" $chart) -}}
{{- end -}}
{{- else if eq $chart "grafana" -}}
{{- if and (dig "metrics" "enabled" true $values) (not (dig "metrics" "serviceMonitor" "enabled" true $values)) -}}
{{- $off = append $off "grafana.metrics.serviceMonitor.enabled" -}}
{{- end -}}
{{- else if eq $chart "app" -}}
{{- range $name, $component := fromYaml (include "app.components" (dict "Values" $values)) -}}
{{- if and $component.metrics.enabled (not $component.serviceMonitor.enabled) -}}
{{- $off = append $off (printf "app.components.%s.serviceMonitor.enabled" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $off }}
{{ printf "%s: lists %s, whose metrics have no ServiceMonitor (%s false), so the agent scrapes them neither by annotation nor by ServiceMonitor (turn the ServiceMonitor on, or take the chart out of the list where none of its pods has one)" $path $chart (join ", " $off) }}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
