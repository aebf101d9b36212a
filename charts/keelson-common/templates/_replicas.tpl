{{/*
spec.replicas of a workload. Without autoscaling: the chart's `replicas`. With an HPA it is never
left out, because an absent spec.replicas defaults to 1 and `helm install --wait` would report a
prod workload ready at 1 before the HPA raises it to its floor. Instead:
- first install (no such workload in the cluster): minReplicas, the HPA's floor;
- upgrade: the count the workload runs now, read with `lookup`. After the HPA scaled, its
  controller co-owns spec.replicas: Helm 4 applies server-side, and any other count would either
  fail the upgrade with a conflict or, forced, scale a busy workload back to its floor mid-upgrade.
  New bounds (a raised minReplicas, a lowered maxReplicas) are applied by the HPA itself, which
  scales a workload outside its bounds back into them without waiting for metrics.
`helm template` has no cluster: it renders the floor.
Usage: include "common.replicas" (dict "context" $ "kind" "Deployment" "name" $name "replicas" $c.replicas "autoscaling" $c.autoscaling)
*/}}
{{- define "common.replicas" -}}
{{- $as := .autoscaling | default dict -}}
{{- if not $as.enabled -}}
{{- int .replicas -}}
{{- else -}}
{{- $live := lookup "apps/v1" .kind (include "common.names.namespace" .context) .name -}}
{{- if and $live $live.spec (hasKey $live.spec "replicas") -}}
{{- int $live.spec.replicas -}}
{{- else -}}
{{- int $as.minReplicas -}}
{{- end -}}
{{- end -}}
{{- end -}}
