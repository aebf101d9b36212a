{{/*
A PodDisruptionBudget for one workload (<fullname> unless "name" is given). pdb = {enabled,
minAvailable | maxUnavailable}. Exactly one of minAvailable and maxUnavailable is rendered;
maxUnavailable wins when both are set. With "replicas", enablement is common.pdb.enabled (a null
pdb.enabled means "with more than one replica"); without, pdb.enabled alone decides.
Usage: include "common.pdb" (dict "context" $ "name" $name "component" "backend" "pdb" .pdb)
       include "common.pdb" (dict "context" $ "pdb" .Values.pdb "replicas" .Values.replicas)
*/}}
{{- define "common.pdb" -}}
{{- $enabled := and .pdb .pdb.enabled -}}
{{- if and .pdb (hasKey . "replicas") -}}
{{- $enabled = eq (include "common.pdb.enabled" (dict "enabled" .pdb.enabled "replicas" .replicas)) "true" -}}
{{- end -}}
{{- if $enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "common.metadata" (dict "context" .context "name" (.name | default (include "common.names.fullname" .context)) "component" .component) | nindent 2 }}
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
(common.pdb does this itself when given "replicas".)
*/}}
{{- define "common.pdb.enabled" -}}
{{- if kindIs "bool" .enabled -}}
{{- .enabled -}}
{{- else -}}
{{- gt (int .replicas) 1 -}}
{{- end -}}
{{- end -}}
