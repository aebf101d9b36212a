{{/*
Image references: [registry/]repository:tag, or [registry/]repository@digest when a digest is set
(a digest wins over a tag: it is what the node pulls). global.imageRegistry overrides every registry.
Usage: include "common.images.image" (dict "image" .Values.image "context" $)
*/}}
{{- define "common.images.image" -}}
{{- $global := .context.Values.global | default dict -}}
{{- $registry := .image.registry | default "" -}}
{{- if $global.imageRegistry -}}
{{- $registry = $global.imageRegistry -}}
{{- end -}}
{{- $repository := required "image.repository is required" .image.repository -}}
{{- $name := ternary (printf "%s/%s" $registry $repository) $repository (ne $registry "") -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $name .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $name (required (printf "image %s needs a tag or a digest" $repository) (toString .image.tag)) -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets from global.imagePullSecrets (names of existing Secrets). */}}
{{- define "common.images.pullSecrets" -}}
{{- $global := .Values.global | default dict -}}
{{- with $global.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}
