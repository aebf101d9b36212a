{{/*
Names. Kubernetes names are DNS labels, so everything is cut to 63 characters and never ends in "-".
*/}}

{{/* The chart name, or .Values.nameOverride. */}}
{{- define "common.names.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* name-version, for the helm.sh/chart label. */}}
{{- define "common.names.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release-scoped name: .Values.fullnameOverride, else <release>-<chart>, else <release> when the
release name already contains the chart name.
*/}}
{{- define "common.names.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The name of one component of a chart: <fullname>-<component>.
Usage: include "common.names.component" (dict "context" $ "component" "backend")
*/}}
{{- define "common.names.component" -}}
{{- $fullname := include "common.names.fullname" .context -}}
{{- if .component -}}
{{- printf "%s-%s" ($fullname | trunc (int (sub 62 (len .component))) | trimSuffix "-") .component | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $fullname -}}
{{- end -}}
{{- end -}}

{{/* The namespace of the release, or .Values.namespaceOverride. */}}
{{- define "common.names.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of a cluster-scoped object (ClusterRole, ClusterRoleBinding): <namespace>:<name>. A
cluster-scoped object has no namespace to keep two releases apart, so one named from the release
alone is claimed by whichever release came first, and a second release in another namespace fails
("invalid ownership metadata"). The namespace makes it unique per release; ':' cannot occur in a
namespace or release name, so no two (namespace, name) pairs give the same result. RBAC names are
path segments, where ':' is allowed (as in system:controller:...); a kind whose names must be DNS
subdomains would need another separator.
Usage: include "common.names.clusterScoped" (dict "context" $ "name" $name)
*/}}
{{- define "common.names.clusterScoped" -}}
{{- printf "%s:%s" (include "common.names.namespace" .context) .name -}}
{{- end -}}
