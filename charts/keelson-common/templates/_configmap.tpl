{{/*
A ConfigMap <fullname> (or "name") whose data are the given files: file name -> rendered content.
Usage: {{ include "common.configMap" (dict "context" $ "files" (dict "config.yaml" (include "loki.config" $))) }}
*/}}
{{- define "common.configMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "common.metadata" (dict "context" .context "name" (.name | default (include "common.names.fullname" .context))) | nindent 2 }}
data:
  {{- range $file, $content := .files }}
  {{ $file }}: |
    {{- $content | nindent 4 }}
  {{- end }}
{{- end -}}
