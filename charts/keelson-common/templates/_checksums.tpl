{{/*
Checksum annotations: the sha256 of a rendered template, placed on the pod template so that a
change of configuration rolls the pods.
Usage: include "common.checksums.template" (dict "context" $ "path" "/configmap.yaml" "key" "config")
renders `checksum/config: <sha256>`.
*/}}
{{- define "common.checksums.template" -}}
checksum/{{ .key }}: {{ include (print .context.Template.BasePath .path) .context | sha256sum }}
{{- end -}}

{{/* The checksum of any value (a map, a string) for the same purpose. */}}
{{- define "common.checksums.value" -}}
checksum/{{ .key }}: {{ toJson .value | sha256sum }}
{{- end -}}
