{{/*
A probe from values: everything but "enabled" passes through as the probe spec.
Usage: {{- include "common.probes.probe" (dict "name" "livenessProbe" "probe" .probes.liveness) | nindent 10 }}
*/}}
{{- define "common.probes.probe" -}}
{{- if and .probe (ne (toString .probe.enabled) "false") -}}
{{ .name }}:
  {{- toYaml (omit .probe "enabled") | nindent 2 }}
{{- end }}
{{- end -}}
