{{/*
The chart's rules that the values schema cannot state (keelson-common's common.validate): in prod
the image is pinned.
*/}}
{{- define "kube-state-metrics.validate" -}}
{{- include "common.validate.pinnedImage" (dict "context" .context "prefix" .prefix "path" "image" "image" .context.Values.image) }}
{{- end -}}

{{/* Object name of the chart's objects: <release>-kube-state-metrics (or fullnameOverride). */}}
{{- define "kube-state-metrics.fullname" -}}
{{- include "common.names.fullname" . -}}
{{- end -}}

{{/* The namespaces whose objects are exported, as YAML {names: [...]}: namespaces, else the release's. */}}
{{- define "kube-state-metrics.namespaces" -}}
{{- toYaml (dict "names" (.Values.namespaces | default (list (include "common.names.namespace" .)) | uniq)) -}}
{{- end -}}

{{/*
The API groups of the collectors: the only resources the ClusterRole names, as YAML
{rules: [{apiGroup, resources}]} in a stable order. Each collector lists and watches its resource
(an informer); it never gets or changes one.
*/}}
{{- define "kube-state-metrics.rbacRules" -}}
{{- $groups := dict "pods" "" "deployments" "apps" "statefulsets" "apps" "daemonsets" "apps" -}}
{{- $core := list -}}
{{- $apps := list -}}
{{- range (.Values.collectors | sortAlpha) -}}
{{- if eq (get $groups .) "apps" -}}
{{- $apps = append $apps . -}}
{{- else -}}
{{- $core = append $core . -}}
{{- end -}}
{{- end -}}
{{- $rules := list -}}
{{- with $core -}}
{{- $rules = append $rules (dict "apiGroup" "" "resources" .) -}}
{{- end -}}
{{- with $apps -}}
{{- $rules = append $rules (dict "apiGroup" "apps" "resources" .) -}}
{{- end -}}
{{- toYaml (dict "rules" $rules) -}}
{{- end -}}

{{/* The command line: ports, what is exported, and from which namespaces. */}}
{{- define "kube-state-metrics.args" -}}
- --port={{ .Values.service.metricsPort }}
- --telemetry-port={{ .Values.service.telemetryPort }}
- --resources={{ .Values.collectors | sortAlpha | join "," }}
- --namespaces={{ (fromYaml (include "kube-state-metrics.namespaces" .)).names | join "," }}
{{- with .Values.metricAllowlist }}
- --metric-allowlist={{ . | sortAlpha | join "," }}
{{- end }}
{{- end -}}

