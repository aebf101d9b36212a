{{/*
spec.replicas of a workload. Without autoscaling: the chart's `replicas`. With an HPA it is never
left out, because an absent spec.replicas defaults to 1 and `helm install --wait` would report a
prod workload ready at 1 before the HPA raises it to its floor. Instead:
- first install (no such workload in the cluster): minReplicas, the HPA's floor;
- upgrade: what the workload runs now, clamped to [minReplicas, maxReplicas], read with `lookup`.
  Helm 4 applies server-side: after the HPA scaled, the HPA controller co-owns spec.replicas, and a
  different value would either conflict or, forced, scale the workload back to its floor in the
  middle of an upgrade. Rendering the current count keeps the HPA's decision; a raised floor (or a
  lowered ceiling) takes effect at once. `helm template` has no cluster: it renders the floor.
Usage: include "common.replicas" (dict "context" $ "kind" "Deployment" "name" $name "replicas" $c.replicas "autoscaling" $c.autoscaling)
*/}}
{{- define "common.replicas" -}}
{{- $as := .autoscaling | default dict -}}
{{- if not $as.enabled -}}
{{- int .replicas -}}
{{- else -}}
{{- $floor := int $as.minReplicas -}}
{{- $ceiling := int $as.maxReplicas -}}
{{- $live := lookup "apps/v1" .kind (include "common.names.namespace" .context) .name -}}
{{- $current := $floor -}}
{{- if and $live $live.spec (hasKey $live.spec "replicas") -}}
{{- $current = int $live.spec.replicas -}}
{{- end -}}
{{- max $floor (min $current $ceiling) -}}
{{- end -}}
{{- end -}}
