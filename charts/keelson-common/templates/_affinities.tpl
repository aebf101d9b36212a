{{/*
Scheduling presets.
Pod anti-affinity: "soft" prefers, "hard" requires, one replica per topology key (default: node).
Usage: include "common.affinities.pods" (dict "type" "soft" "component" "backend" "context" $ "topologyKey" "")
*/}}
{{- define "common.affinities.pods" -}}
{{- $topologyKey := .topologyKey | default "kubernetes.io/hostname" -}}
{{- $selector := include "common.labels.matchLabels" (dict "context" .context "component" .component) -}}
{{- if eq .type "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: {{ $topologyKey }}
      labelSelector:
        matchLabels:
          {{- $selector | nindent 10 }}
{{- else if eq .type "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: {{ $topologyKey }}
        labelSelector:
          matchLabels:
            {{- $selector | nindent 12 }}
{{- end }}
{{- end -}}

{{/*
Topology spread across zones (or another key), skewed by at most maxSkew.
Usage: include "common.affinities.topologySpread" (dict "spread" .topologySpread "component" "backend" "context" $)
where spread = {enabled, topologyKey, maxSkew, whenUnsatisfiable}.
*/}}
{{- define "common.affinities.topologySpread" -}}
{{- if and .spread .spread.enabled -}}
topologySpreadConstraints:
  - maxSkew: {{ .spread.maxSkew | default 1 }}
    topologyKey: {{ .spread.topologyKey | default "topology.kubernetes.io/zone" }}
    whenUnsatisfiable: {{ .spread.whenUnsatisfiable | default "ScheduleAnyway" }}
    labelSelector:
      matchLabels:
        {{- include "common.labels.matchLabels" (dict "context" .context "component" .component) | nindent 8 }}
{{- end }}
{{- end -}}

{{/*
Where a workload's pods may run, from the values every chart spells the same way:
podAntiAffinityPreset (common.affinities.pods), topologySpread (common.affinities.topologySpread),
nodeSelector and tolerations. Renders the pod spec keys that are set (affinity,
topologySpreadConstraints, nodeSelector, tolerations), nothing for the ones that are not.
Usage: {{- include "common.affinities.scheduling" (dict "context" $ "values" .Values "component" "") | nindent 6 }}
*/}}
{{- define "common.affinities.scheduling" -}}
{{- $v := .values -}}
{{- with include "common.affinities.pods" (dict "type" $v.podAntiAffinityPreset "component" .component "context" .context) }}
affinity:
  {{- . | nindent 2 }}
{{- end }}
{{- with include "common.affinities.topologySpread" (dict "spread" $v.topologySpread "component" .component "context" .context) }}
{{ . }}
{{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
