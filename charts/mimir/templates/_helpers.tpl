{{/* Object names. */}}
{{- define "mimir.fullname" -}}
{{- include "common.names.fullname" . -}}
{{- end -}}

{{/* <fullname>-<suffix>, cut to a DNS label. */}}
{{- define "mimir.name" -}}
{{- include "common.names.component" (dict "context" .context "component" .suffix) -}}
{{- end -}}

{{/* Fully qualified name of a Service of this release. Usage: include "mimir.serviceFqdn" (dict "context" $ "name" $name) */}}
{{- define "mimir.serviceFqdn" -}}
{{- printf "%s.%s.svc.%s" .name (include "common.names.namespace" .context) .context.Values.clusterDomain -}}
{{- end -}}

{{- define "mimir.externalUrl" -}}
{{- with .Values.alertmanager.externalUrl -}}
{{- tpl . $ -}}
{{- else -}}
{{- printf "http://%s:8080/alertmanager" (include "mimir.serviceFqdn" (dict "context" . "name" (include "mimir.fullname" .))) -}}
{{- end -}}
{{- end -}}

{{/*
The effective object storage as YAML (read it with fromYaml): common.storage with Mimir's bucket,
plus s3.buckets.<store> for each store (blocks, alertmanager, ruler): the store's own bucket, else
s3.bucket. The endpoint is not rendered with tpl yet. Every template reads this, never
.Values.storage.backend or .Values.storage.s3 directly.
*/}}
{{- define "mimir.storage" -}}
{{- $storage := fromYaml (include "common.storage" (dict "context" . "bucket" .Values.storage.s3.bucket)) -}}
{{- $buckets := dict -}}
{{- range $store := list "blocks" "alertmanager" "ruler" -}}
{{- $_ := set $buckets $store (coalesce (get ($.Values.storage.s3.buckets | default dict) $store) $storage.s3.bucket | default "") -}}
{{- end -}}
{{- $_ := set $storage.s3 "buckets" $buckets -}}
{{- toYaml $storage -}}
{{- end -}}

{{/* The bucket of one store (blocks, alertmanager, ruler): its own, else the shared one; "" on filesystem. */}}
{{- define "mimir.bucketOf" -}}
{{- $storage := fromYaml (include "mimir.storage" .context) -}}
{{- if eq $storage.backend "s3" -}}
{{- get $storage.s3.buckets .store -}}
{{- end -}}
{{- end -}}

{{/*
Rule files grouped by tenant, as YAML: tenant -> {files: [{key, path}], configMaps: [{name, optional}]}.
Own files live in the <fullname>-rules ConfigMap under the key <tenant>.<file> (a tenant has no dot).
*/}}
{{- define "mimir.ruleTenants" -}}
{{- $tenants := dict -}}
{{- range $name, $content := .Values.ruler.rules -}}
{{- $parts := splitList "/" $name -}}
{{- $tenant := first $parts -}}
{{- $entry := get $tenants $tenant | default (dict "files" (list) "configMaps" (list)) -}}
{{- $_ := set $entry "files" (append $entry.files (dict "key" (printf "%s.%s" $tenant (last $parts)) "path" (last $parts))) -}}
{{- $_ := set $tenants $tenant $entry -}}
{{- end -}}
{{- range .Values.ruler.ruleConfigMaps -}}
{{- $entry := get $tenants .tenant | default (dict "files" (list) "configMaps" (list)) -}}
{{- $_ := set $entry "configMaps" (append $entry.configMaps (dict "name" (tpl .name $) "optional" (.optional | default false))) -}}
{{- $_ := set $tenants .tenant $entry -}}
{{- end -}}
{{- toYaml $tenants -}}
{{- end -}}

{{/* Where alertmanager.secretMounts are mounted: /etc/mimir/secrets/<name>/. */}}
{{- define "mimir.secretMountsRoot" -}}
/etc/mimir/secrets
{{- end -}}

{{/*
"missing" when a value (an integration of a receiver, at any depth) has a `*_file` setting under
/etc/mimir/secrets/<name>/ whose <name> is not mounted. Usage:
include "mimir.missingSecretMount" (dict "value" $integration "mounts" $names)
*/}}
{{- define "mimir.missingSecretMount" -}}
{{- $root := printf "%s/" (include "mimir.secretMountsRoot" .) -}}
{{- $mounts := .mounts -}}
{{- if kindIs "map" .value -}}
{{- range $key, $v := .value -}}
{{- if and (hasSuffix "_file" $key) (kindIs "string" $v) (hasPrefix $root $v) -}}
{{- if not (has (index (splitList "/" (trimPrefix $root $v)) 0) $mounts) -}}missing{{- end -}}
{{- else if or (kindIs "map" $v) (kindIs "slice" $v) -}}
{{- include "mimir.missingSecretMount" (dict "value" $v "mounts" $mounts) -}}
{{- end -}}
{{- end -}}
{{- else if kindIs "slice" .value -}}
{{- range .value -}}
{{- include "mimir.missingSecretMount" (dict "value" . "mounts" $mounts) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The text of the fallback Alertmanager configuration from values (a map or a string). In a map, an
integration (an entry of a receiver's `*_configs` list) that reads a file from a Secret mount not
listed in alertmanager.secretMounts is left out; a receiver left with no integration is a null receiver.
*/}}
{{- define "mimir.fallbackConfig" -}}
{{- $cfg := .Values.alertmanager.fallbackConfig -}}
{{- if kindIs "string" $cfg -}}
{{- $cfg -}}
{{- else -}}
{{- $cfg = deepCopy $cfg -}}
{{- $mounts := list -}}
{{- range .Values.alertmanager.secretMounts -}}
{{- $mounts = append $mounts .name -}}
{{- end -}}
{{- $receivers := list -}}
{{- range $receiver := $cfg.receivers | default list -}}
{{- $out := dict -}}
{{- range $key, $value := $receiver -}}
{{- if and (hasSuffix "_configs" $key) (kindIs "slice" $value) -}}
{{- $kept := list -}}
{{- range $integration := $value -}}
{{- if not (include "mimir.missingSecretMount" (dict "value" $integration "mounts" $mounts)) -}}
{{- $kept = append $kept $integration -}}
{{- end -}}
{{- end -}}
{{- if $kept -}}
{{- $_ := set $out $key $kept -}}
{{- end -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- $receivers = append $receivers $out -}}
{{- end -}}
{{- if hasKey $cfg "receivers" -}}
{{- $_ := set $cfg "receivers" $receivers -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
{{- end -}}

{{/*
Mimir's rules that compare values (common.validate): what every backend shares (common.validate.backend),
secret mounts, the ruler's rule source and the stores' buckets. Takes (dict "context" <chart context> "prefix" <path
prefix>); one message per broken rule.
*/}}
{{- define "mimir.validate" -}}
{{- $ctx := .context -}}
{{- $p := .prefix -}}
{{- $v := $ctx.Values -}}
{{- include "common.validate.backend" (dict "context" $ctx "prefix" $p "program" "Mimir" "replication" "a ring cannot keep more copies than it has pods") }}
{{- $mountNames := list -}}
{{- range $index, $mount := $v.alertmanager.secretMounts }}
{{- if has $mount.name $mountNames }}
{{ printf "%salertmanager.secretMounts[%d].name: is used twice, each mount needs its own name (its folder under /etc/mimir/secrets)" $p $index }}
{{- end }}
{{- $mountNames = append $mountNames $mount.name -}}
{{- end }}
{{- $stores := list "blocks" "alertmanager" -}}
{{- if eq $v.ruler.storage "objectStorage" -}}
{{- $stores = append $stores "ruler" -}}
{{- if or $v.ruler.rules $v.ruler.ruleConfigMaps }}
{{ printf "%sruler.storage: must be local while ruler.rules or ruler.ruleConfigMaps are set (they are read from local files), or leave them empty and load rules through the ruler API" $p }}
{{- end }}
{{- end -}}
{{- $seen := dict -}}
{{- range $store := $stores -}}
{{- $where := printf "%s|%s" (include "mimir.bucketOf" (dict "context" $ctx "store" $store)) (get $v.storage.prefixes $store) -}}
{{- with get $seen $where }}
{{ printf "%sstorage.prefixes.%s: the %s and %s stores share one bucket and prefix, give each its own %sstorage.prefixes.<store> or %sstorage.s3.buckets.<store>" $p $store . $store $p $p }}
{{- end }}
{{- $_ := set $seen $where $store -}}
{{- end -}}
{{- end -}}

{{/*
The Mimir configuration file, built as a map and rendered with toYaml. Every writable path is under
/data (the PVC or an emptyDir); credentials are ${AWS_*} references expanded from the environment
(-config.expand-env=true).
*/}}
{{- define "mimir.config" -}}
{{- $v := .Values -}}
{{- $rf := int $v.replicationFactor -}}
{{- $storage := fromYaml (include "mimir.storage" .) -}}
{{- $isS3 := eq $storage.backend "s3" -}}
{{- $s3 := $storage.s3 -}}
{{- $commonStorage := dict "backend" $storage.backend -}}
{{- if $isS3 -}}
{{- $s3cfg := fromYaml (include "common.storage.s3Config" (dict "context" . "storage" $storage "optionalRegion" true)) -}}
{{- if $s3.forcePathStyle -}}
{{- $_ := set $s3cfg "bucket_lookup_type" "path" -}}
{{- end -}}
{{- $_ := set $commonStorage "s3" $s3cfg -}}
{{- else -}}
{{- $_ := set $commonStorage "filesystem" (dict "dir" "/data/storage") -}}
{{- end -}}
{{- $blocks := dict "storage_prefix" $v.storage.prefixes.blocks "tsdb" (dict "dir" "/data/tsdb") "bucket_store" (dict "sync_dir" "/data/tsdb-sync") -}}
{{- $amStorage := dict "storage_prefix" $v.storage.prefixes.alertmanager -}}
{{- $rulerStorage := dict "backend" "local" "local" (dict "directory" "/etc/mimir/rules") -}}
{{- if eq $v.ruler.storage "objectStorage" -}}
{{- $rulerStorage = dict "storage_prefix" $v.storage.prefixes.ruler -}}
{{- end -}}
{{- if $isS3 -}}
{{- /* A store whose bucket is not the shared one names its own. */ -}}
{{- if ne $s3.buckets.blocks $s3.bucket -}}
{{- $_ := set $blocks "s3" (dict "bucket_name" $s3.buckets.blocks) -}}
{{- end -}}
{{- if ne $s3.buckets.alertmanager $s3.bucket -}}
{{- $_ := set $amStorage "s3" (dict "bucket_name" $s3.buckets.alertmanager) -}}
{{- end -}}
{{- if and (eq $v.ruler.storage "objectStorage") (ne $s3.buckets.ruler $s3.bucket) -}}
{{- $_ := set $rulerStorage "s3" (dict "bucket_name" $s3.buckets.ruler) -}}
{{- end -}}
{{- end -}}
{{- $config := dict
      "multitenancy_enabled" $v.multitenancy.enabled
      "no_auth_tenant" $v.multitenancy.noAuthTenant
      "server" (fromYaml (include "common.config.server" (dict "context" . "httpPort" 8080)))
      "usage_stats" (dict "enabled" false)
      "activity_tracker" (dict "filepath" "/data/metrics-activity.log")
      "common" (dict "storage" $commonStorage)
      "blocks_storage" $blocks
      "compactor" (dict "data_dir" "/data/compactor")
      "ingester" (dict "ring" (dict "replication_factor" $rf "tokens_file_path" "/data/tokens"))
      "store_gateway" (dict "sharding_ring" (dict "replication_factor" $rf))
      "limits" (dict
          "compactor_blocks_retention_period" (toString $v.retention)
          "max_global_series_per_user" (int $v.limits.maxGlobalSeriesPerUser)
          "max_global_series_per_metric" (int $v.limits.maxGlobalSeriesPerMetric)
          "ingestion_rate" $v.limits.ingestionRate
          "ingestion_burst_size" (int $v.limits.ingestionBurstSize)
          "max_label_names_per_series" (int $v.limits.maxLabelNamesPerSeries))
      "memberlist" (fromYaml (include "common.memberlist.config" (dict "context" .)))
      "ruler" (dict "rule_path" "/data/ruler" "alertmanager_url" (tpl $v.ruler.alertmanagerUrl .))
      "ruler_storage" $rulerStorage
      "alertmanager" (dict
          "data_dir" "/data/alertmanager"
          "fallback_config_file" "/etc/mimir/alertmanager/alertmanager.yaml"
          "external_url" (include "mimir.externalUrl" .)
          "sharding_ring" (dict "replication_factor" $rf))
      "alertmanager_storage" $amStorage
-}}
{{- toYaml (mergeOverwrite $config (deepCopy ($v.extraConfig | default dict))) -}}
{{- end -}}
