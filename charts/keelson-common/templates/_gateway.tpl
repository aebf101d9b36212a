{{/*
Gateway API building blocks: the parentRefs of an HTTPRoute, and the NetworkPolicy rule that lets
the traffic of a Gateway (or an ingress controller) in.
*/}}

{{/*
The parentRefs of an HTTPRoute: each Gateway (or one listener of it, `sectionName`) the route
attaches to. An empty `namespace` means the route's own. An empty list fails, naming the value: a
route without a parent is never served, and nothing would say so.
Usage: {{- include "common.gateway.parentRefs" (dict "parentRefs" .Values.httpRoute.parentRefs "path" "httpRoute.parentRefs") | nindent 4 }}
*/}}
{{- define "common.gateway.parentRefs" -}}
{{- if not .parentRefs -}}
{{- fail (printf "%s: name at least one Gateway for the HTTPRoute to attach to" .path) -}}
{{- end -}}
{{- $refs := list -}}
{{- range .parentRefs -}}
{{- $ref := dict "name" .name -}}
{{- with .namespace }}{{ $_ := set $ref "namespace" . }}{{ end -}}
{{- with .sectionName }}{{ $_ := set $ref "sectionName" . }}{{ end -}}
{{- $refs = append $refs $ref -}}
{{- end -}}
{{- toYaml $refs -}}
{{- end -}}

{{/*
Ingress from the pods that carry the routes' traffic (a Gateway's proxies or an ingress
controller) on one port: one peer per source, each its namespace's labels AND its pods' labels.
Both must name a label: an empty selector would admit every namespace or every pod, and this
fails naming the value instead. Nothing when no source is listed.
Usage: {{- include "common.networkPolicy.ingressFrom" (dict "sources" .Values.networkPolicy.ingressFrom "path" "networkPolicy.ingressFrom" "port" "http") | nindent 4 }}
*/}}
{{- define "common.networkPolicy.ingressFrom" -}}
{{- if .sources -}}
- from:
    {{- range $index, $source := .sources }}
    {{- if or (not $source.namespaceLabels) (not $source.podLabels) }}
    {{- fail (printf "%s[%d]: namespaceLabels and podLabels must each name at least one label (an empty selector admits every namespace or pod)" $.path $index) }}
    {{- end }}
    - namespaceSelector:
        matchLabels:
          {{- toYaml $source.namespaceLabels | nindent 10 }}
      podSelector:
        matchLabels:
          {{- toYaml $source.podLabels | nindent 10 }}
    {{- end }}
  ports:
    - port: {{ .port }}
      protocol: TCP
{{- end -}}
{{- end -}}
