{{/*
A PodDisruptionBudget for one workload. pdb = {enabled, minAvailable | maxUnavailable}.
Exactly one of minAvailable and maxUnavailable is rendered; maxUnavailable wins when both are set.
Usage: include "common.pdb" (dict "context" $ "name" $name "component" "backend" "pdb" .pdb)
*/}}
{{- define "common.pdb" -}}
{{- if and .pdb .pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "common.metadata" (dict "context" .context "name" .name "component" .component) | nindent 2 }}
spec:
  {{- if not (kindIs "invalid" .pdb.maxUnavailable) }}
  maxUnavailable: {{ .pdb.maxUnavailable }}
  {{- else }}
  minAvailable: {{ .pdb.minAvailable | default 1 }}
  {{- end }}
  # A pod that never became ready protects nothing: let evictions proceed past it, so a node
  # drain is not blocked by a crash-looping replica.
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "common.labels.matchLabels" (dict "context" .context "component" .component) | nindent 6 }}
{{- end }}
{{- end -}}

{{/*
Whether a workload gets a PodDisruptionBudget: "true" or "false". enabled true or false decides;
null (or absent) means "when it runs more than one replica", where a budget keeps a drain from
taking a ring or quorum below what it needs.
Usage: {{- if eq (include "common.pdb.enabled" (dict "enabled" .Values.pdb.enabled "replicas" .Values.replicas)) "true" }}
*/}}
{{- define "common.pdb.enabled" -}}
{{- if kindIs "bool" .enabled -}}
{{- .enabled -}}
{{- else -}}
{{- gt (int .replicas) 1 -}}
{{- end -}}
{{- end -}}
