{{/*
One place that fails with every rule the values break. A chart's validator is a template that
renders one message per broken rule, each on its own line and naming the key to change; it never
fails itself, so a user sees all of them at once. The chart calls this once, from the template of
its workload, and the messages become one line joined by "; " (a render error is one line).
Usage: {{- include "common.validate" (dict "messages" (include "loki.validate" $)) }}
*/}}
{{- define "common.validate" -}}
{{- $messages := list -}}
{{- range splitList "\n" .messages -}}
{{- if trim . -}}
{{- $messages = append $messages (trim .) -}}
{{- end -}}
{{- end -}}
{{- if $messages -}}
{{- fail (join "; " $messages) -}}
{{- end -}}
{{- end -}}
