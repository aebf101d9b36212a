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
