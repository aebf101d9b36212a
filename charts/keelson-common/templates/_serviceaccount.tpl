{{/*
The ServiceAccount <fullname> (or "name") of a workload, when "create" is set. Its token is never
mounted ("automount" false): a workload that calls the Kubernetes API mounts it in its pod spec
and says why there.
Usage: {{ include "common.serviceAccount" (dict "context" $ "create" .Values.serviceAccount.create "annotations" .Values.serviceAccount.annotations) }}
*/}}
{{- define "common.serviceAccount" -}}
{{- if .create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "common.metadata" (dict "context" .context "name" (.name | default (include "common.names.fullname" .context)) "annotations" .annotations) | nindent 2 }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}
