{{/* Object names. */}}
{{- define "mimir.fullname" -}}
{{- include "common.names.fullname" . -}}
{{- end -}}

{{/* <fullname>-<suffix>, cut to a DNS label. */}}
{{- define "mimir.name" -}}
{{- include "common.names.component" (dict "context" .context "component" .suffix) -}}
{{- end -}}

{{- define "mimir.headlessName" -}}
{{- include "mimir.name" (dict "context" . "suffix" "headless") -}}
{{- end -}}

{{/* The memberlist cluster label: <release>-<chart>, so rings of different backends never cross-join. */}}
{{- define "mimir.clusterLabel" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name -}}
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
The effective object storage as YAML (read it with fromYaml): each key is the chart's own
storage.* when set (non-empty; a boolean for insecure and forcePathStyle), else global.storage.*,
else the default (filesystem, HTTPS, virtual-hosted addressing, the Secret keys AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY). The buckets are always the chart's own: s3.buckets.<store> is the store's
own bucket, else s3.bucket. The endpoint is not rendered with tpl yet. Every template reads this,
never .Values.storage.backend or .Values.storage.s3 directly.
*/}}
{{- define "mimir.storage" -}}
{{- $own := .Values.storage | default dict -}}
{{- $ownS3 := $own.s3 | default dict -}}
{{- $global := (.Values.global | default dict).storage | default dict -}}
{{- $globalS3 := $global.s3 | default dict -}}
{{- $bucket := $ownS3.bucket | default "" -}}
{{- $buckets := dict -}}
{{- range $store := list "blocks" "alertmanager" "ruler" -}}
{{- $_ := set $buckets $store (coalesce (get ($ownS3.buckets | default dict) $store) $bucket | default "") -}}
{{- end -}}
{{- $s3 := dict
      "endpoint" (coalesce $ownS3.endpoint $globalS3.endpoint | default "")
      "region" (coalesce $ownS3.region $globalS3.region | default "")
      "bucket" $bucket
      "buckets" $buckets
      "existingSecret" (coalesce $ownS3.existingSecret $globalS3.existingSecret | default "")
      "accessKeyIdKey" (coalesce $ownS3.accessKeyIdKey "AWS_ACCESS_KEY_ID")
      "secretAccessKeyKey" (coalesce $ownS3.secretAccessKeyKey "AWS_SECRET_ACCESS_KEY") -}}
{{- range $key := list "insecure" "forcePathStyle" -}}
{{- $value := false -}}
{{- if kindIs "bool" (get $ownS3 $key) -}}
{{- $value = get $ownS3 $key -}}
{{- else if kindIs "bool" (get $globalS3 $key) -}}
{{- $value = get $globalS3 $key -}}
{{- end -}}
{{- $_ := set $s3 $key $value -}}
{{- end -}}
{{- toYaml (dict "backend" (coalesce $own.backend $global.backend "filesystem") "s3" $s3) -}}
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
Rules that span values and cannot be said in the schema. Each failure names the keys to change.
*/}}
{{- define "mimir.validate" -}}
{{- $v := .Values -}}
{{- if gt (int $v.replicationFactor) (int $v.replicas) -}}
{{- fail (printf "mimir: replicationFactor (%d) is larger than replicas (%d); a ring cannot keep more copies than it has pods" (int $v.replicationFactor) (int $v.replicas)) -}}
{{- end -}}
{{- $mountNames := list -}}
{{- range $v.alertmanager.secretMounts -}}
{{- if has .name $mountNames -}}
{{- fail (printf "mimir: alertmanager.secretMounts names %q twice; each mount needs its own name (its folder under /etc/mimir/secrets)" .name) -}}
{{- end -}}
{{- $mountNames = append $mountNames .name -}}
{{- end -}}
{{- $stores := list "blocks" "alertmanager" -}}
{{- if eq $v.ruler.storage "objectStorage" -}}
{{- $stores = append $stores "ruler" -}}
{{- if or $v.ruler.rules $v.ruler.ruleConfigMaps -}}
{{- fail "mimir: ruler.rules and ruler.ruleConfigMaps are read from local files; with ruler.storage: objectStorage load rules through the ruler API instead (or set ruler.storage: local)" -}}
{{- end -}}
{{- end -}}
{{- $seen := dict -}}
{{- range $store := $stores -}}
{{- $where := printf "%s|%s" (include "mimir.bucketOf" (dict "context" $ "store" $store)) (get $v.storage.prefixes $store) -}}
{{- with get $seen $where -}}
{{- fail (printf "mimir: the %s and %s stores share one bucket and prefix; give each its own storage.prefixes.<store> or storage.s3.buckets.<store>" . $store) -}}
{{- end -}}
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
{{- $s3cfg := dict "endpoint" (tpl $s3.endpoint .) "bucket_name" $s3.bucket "insecure" $s3.insecure "access_key_id" "${AWS_ACCESS_KEY_ID}" "secret_access_key" "${AWS_SECRET_ACCESS_KEY}" -}}
{{- with $s3.region -}}
{{- $_ := set $s3cfg "region" . -}}
{{- end -}}
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
      "server" (dict "http_listen_port" 8080 "grpc_listen_port" 9095 "log_level" $v.logLevel)
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
      "memberlist" (dict
          "join_members" (list (printf "dns+%s:7946" (include "mimir.serviceFqdn" (dict "context" . "name" (include "mimir.headlessName" .)))))
          "cluster_label" (include "mimir.clusterLabel" .)
          "bind_port" 7946)
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
