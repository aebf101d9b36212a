{{/*
The environment. global.env is the short key (dev, staging, prod); the label and annotation carry
the long name that people read in dashboards and kubectl output.
*/}}

{{/* The short environment key, dev unless global.env says otherwise. */}}
{{- define "common.environment.key" -}}
{{- $global := .Values.global | default dict -}}
{{- $env := $global.env | default "dev" -}}
{{- if not (has $env (list "dev" "staging" "prod")) -}}
{{- fail (printf "global.env: %q is not an environment (allowed: dev, staging, prod)" $env) -}}
{{- end -}}
{{- $env -}}
{{- end -}}

{{/* The long environment name: development, staging or production. */}}
{{- define "common.environment.name" -}}
{{- $names := dict "dev" "development" "staging" "staging" "prod" "production" -}}
{{- get $names (include "common.environment.key" .) -}}
{{- end -}}
