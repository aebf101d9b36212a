{{/*
Labels and annotations.
Usage: include "common.labels.standard" (dict "context" $ "component" "backend")
The selector keeps to name, instance and component: those never change over a release's life,
while version, chart and environment labels may, and a Deployment's selector is immutable.
*/}}

{{- define "common.labels.standard" -}}
{{- $ctx := .context -}}
{{- $global := $ctx.Values.global | default dict -}}
helm.sh/chart: {{ include "common.names.chart" $ctx }}
{{ include "common.labels.matchLabels" . }}
{{- with $ctx.Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: keelson
app.kubernetes.io/environment: {{ include "common.environment.name" $ctx }}
{{- with $global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "common.labels.matchLabels" -}}
app.kubernetes.io/name: {{ include "common.names.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/*
Annotations every object carries: the environment and what manages it, plus global.commonAnnotations
and any extra map given as "extra".
Usage: include "common.annotations.standard" (dict "context" $ "extra" .Values.x.annotations)
*/}}
{{- define "common.annotations.standard" -}}
{{- $ctx := .context -}}
{{- $global := $ctx.Values.global | default dict -}}
environment: {{ include "common.environment.name" $ctx }}
managed-by: {{ $ctx.Release.Service }}
{{- with $global.commonAnnotations }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Standard metadata block for a namespaced object.
Usage: include "common.metadata" (dict "context" $ "name" $name "component" "backend" "annotations" $extra)
Pass "clusterScoped" true for objects without a namespace (ClusterRole, ClusterRoleBinding), and
"namespace" for an object the release puts in another namespace (a Role where the agent reads);
name cluster-scoped objects with common.names.clusterScoped.
*/}}
{{- define "common.metadata" -}}
name: {{ .name }}
{{- if not .clusterScoped }}
namespace: {{ .namespace | default (include "common.names.namespace" .context) }}
{{- end }}
labels:
  {{- include "common.labels.standard" . | nindent 2 }}
annotations:
  {{- include "common.annotations.standard" (dict "context" .context "extra" .annotations) | nindent 2 }}
{{- end -}}
