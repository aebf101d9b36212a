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

{{/*
The message of a ring whose replicationFactor is above its replicas: every write needs that many
replicas, so it could never succeed. Nothing when the values are fine. "why" says what the program
needs the copies for.
Usage: {{- include "common.validate.replicationFactor" (dict "context" . "why" "every write needs that many replicas") }}
*/}}
{{- define "common.validate.replicationFactor" -}}
{{- $v := .context.Values -}}
{{- if gt (int $v.replicationFactor) (int $v.replicas) }}
{{ printf "%s.replicationFactor: %d is above %s.replicas (%d); %s" .context.Chart.Name (int $v.replicationFactor) .context.Chart.Name (int $v.replicas) .why }}
{{- end }}
{{- end -}}
