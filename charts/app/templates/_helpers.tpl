{{/*
The enabled components, each merged over componentDefaults, as a YAML map name -> component.
Templates range over `fromYaml (include "app.components" $)`, so the merge rules live here once.
*/}}
{{- define "app.components" -}}
{{- $components := dict -}}
{{- range $name, $values := .Values.components -}}
{{- $component := mergeOverwrite (deepCopy $.Values.componentDefaults) (deepCopy ($values | default dict)) -}}
{{- if $component.enabled -}}
{{- $_ := set $components $name $component -}}
{{- end -}}
{{- end -}}
{{- toYaml $components -}}
{{- end -}}

{{/* Object name of a component: <fullname>-<component>. */}}
{{- define "app.name" -}}
{{- include "common.names.component" (dict "context" .context "component" .component) -}}
{{- end -}}

{{/* The ConfigMap data of a component: ENV (the environment name) first, then its own config. */}}
{{- define "app.config" -}}
{{- $data := dict "ENV" (include "common.environment.name" .context) -}}
{{- range $key, $value := .values.config -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/* The TLS Secret of the Ingress: ingress.tls.secretName, else <release>-<environment>-tls. */}}
{{- define "app.tlsSecretName" -}}
{{- .Values.ingress.tls.secretName | default (printf "%s-%s-tls" .Release.Name (include "common.environment.name" .)) -}}
{{- end -}}

{{/* Whether a component opens egress to HTTPS outside the cluster (its own setting wins). */}}
{{- define "app.allowExternalHttps" -}}
{{- $own := .values.networkPolicy.allowExternalHttps -}}
{{- ternary .context.Values.networkPolicy.allowExternalHttps $own (kindIs "invalid" $own) -}}
{{- end -}}

{{/*
The OpenTelemetry SDK settings of a component: where to send, how, and the resource attributes that
carry the environment (the collector stamps the rest of the telemetry contract).
*/}}
{{- define "app.otelEnv" -}}
{{- $t := .context.Values.telemetry -}}
{{- $env := include "common.environment.key" .context -}}
- name: OTEL_SERVICE_NAME
  value: {{ .component | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ tpl $t.otlpEndpoint .context | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $t.protocol | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "deployment.environment=%s,kfm.env=%s,service.namespace=%s" $env $env $t.serviceNamespace | quote }}
{{- end -}}

{{/*
The app's rules that compare values (common.validate): in prod every image is pinned, the defaults'
and each component's own. Takes (dict "context" <chart context> "prefix" <path prefix>); one message
per broken rule.
*/}}
{{- define "app.validate" -}}
{{- $ctx := .context -}}
{{- $p := .prefix -}}
{{- include "common.validate.pinnedImage" (dict "context" $ctx "prefix" $p "path" "componentDefaults.image" "image" $ctx.Values.componentDefaults.image) }}
{{- range $name, $component := $ctx.Values.components }}
{{- with ($component | default dict).image }}
{{- include "common.validate.pinnedImage" (dict "context" $ctx "prefix" $p "path" (printf "components.%s.image" $name) "image" .) }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The HTTPRoute matches of a component's hosts: each Ingress path as a path match (Prefix is
PathPrefix, Exact is Exact). Every host must list the same paths, since an HTTPRoute's rules apply
to all of its hostnames; ImplementationSpecific has no Gateway API equivalent. Either fails naming
the value (its path, never what it holds).
*/}}
{{- define "app.httpRouteMatches" -}}
{{- $types := dict "Prefix" "PathPrefix" "Exact" "Exact" -}}
{{- $first := "" -}}
{{- range $index, $host := .hosts -}}
{{- $matches := list -}}
{{- range $number, $p := ($host.paths | default (list (dict "path" "/" "pathType" "Prefix"))) -}}
{{- $type := get $types ($p.pathType | default "Prefix") -}}
{{- if not $type -}}
{{- fail (printf "components.%s.ingress.hosts[%d].paths[%d].pathType: must be Prefix or Exact while the HTTPRoutes render (ImplementationSpecific has no HTTPRoute equivalent)" $.component $index $number) -}}
{{- end -}}
{{- $matches = append $matches (dict "path" (dict "type" $type "value" $p.path)) -}}
{{- end -}}
{{- $rendered := toYaml $matches -}}
{{- if eq $index 0 -}}
{{- $first = $rendered -}}
{{- else if ne $rendered $first -}}
{{- fail (printf "components.%s.ingress.hosts[%d].paths: differ from hosts[0].paths; one HTTPRoute carries the component's hosts and its rules apply to each, so give every host the same paths (or the host a component of its own)" $.component $index) -}}
{{- end -}}
{{- end -}}
{{- $first -}}
{{- end -}}
