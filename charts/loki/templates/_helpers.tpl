{{/* The headless Service that the memberlist ring joins through: <fullname>-headless. */}}
{{- define "loki.headlessName" -}}
{{- include "common.names.component" (dict "context" . "component" "headless") -}}
{{- end -}}

{{/* The memberlist cluster label, <release>-<chart>: rings of different backends never cross-join. */}}
{{- define "loki.clusterLabel" -}}
{{- printf "%s-%s" .Release.Name (include "common.names.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The one memberlist join address: every replica behind the headless Service, port included. */}}
{{- define "loki.joinMember" -}}
{{- printf "dns+%s.%s.svc.%s:7946" (include "loki.headlessName" .) (include "common.names.namespace" .) .Values.clusterDomain -}}
{{- end -}}

{{/* Whether the pod disruption budget renders: pdb.enabled, or more than one replica when it is null. */}}
{{- define "loki.pdbEnabled" -}}
{{- if kindIs "bool" .Values.pdb.enabled -}}
{{- .Values.pdb.enabled -}}
{{- else -}}
{{- gt (int .Values.replicas) 1 -}}
{{- end -}}
{{- end -}}

{{/*
The effective object storage as YAML (read it with fromYaml): each key is the chart's own
storage.* when set (non-empty; a boolean for insecure and forcePathStyle), else global.storage.*,
else the default (filesystem, HTTPS, virtual-hosted addressing, the Secret keys AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY). The bucket is always the chart's own. Every template reads this, never
.Values.storage directly.
*/}}
{{- define "loki.storage" -}}
{{- $own := .Values.storage | default dict -}}
{{- $ownS3 := $own.s3 | default dict -}}
{{- $global := (.Values.global | default dict).storage | default dict -}}
{{- $globalS3 := $global.s3 | default dict -}}
{{- $s3 := dict
      "endpoint" (coalesce $ownS3.endpoint $globalS3.endpoint | default "")
      "region" (coalesce $ownS3.region $globalS3.region | default "")
      "bucket" ($ownS3.bucket | default "")
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

{{/*
Rules the schema cannot state (they compare two values or do arithmetic); each fails with the key
to change. Called from the config, so every render checks them.
*/}}
{{- define "loki.validate" -}}
{{- if gt (int .Values.replicationFactor) (int .Values.replicas) -}}
{{- fail (printf "loki.replicationFactor: %d is above loki.replicas (%d); every write needs that many replicas" (int .Values.replicationFactor) (int .Values.replicas)) -}}
{{- end -}}
{{- $retention := toString .Values.retention -}}
{{- if hasSuffix "h" $retention -}}
{{- if mod (int (trimSuffix "h" $retention)) 24 -}}
{{- fail (printf "loki.retention: %s is not a multiple of 24h (the index period); use whole days such as 168h or 7d" $retention) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The Loki configuration (loki.yaml) as a YAML document, built from values. Ports are fixed
(HTTP 3100, gRPC 9095, memberlist 7946); every path sits under /var/loki, the data volume.
S3 credentials are never here: the config names the environment variables that carry them.
*/}}
{{- define "loki.config" -}}
{{- include "loki.validate" . -}}
{{- $effective := fromYaml (include "loki.storage" .) -}}
{{- $isS3 := eq $effective.backend "s3" -}}
{{- $objectStore := ternary "s3" "filesystem" $isS3 -}}
{{- $storage := dict -}}
{{- if $isS3 -}}
{{- $s3 := $effective.s3 -}}
{{- $_ := set $storage "s3" (dict
      "endpoint" $s3.endpoint
      "region" $s3.region
      "bucketnames" $s3.bucket
      "insecure" $s3.insecure
      "s3forcepathstyle" $s3.forcePathStyle
      "access_key_id" "${AWS_ACCESS_KEY_ID}"
      "secret_access_key" "${AWS_SECRET_ACCESS_KEY}") -}}
{{- else -}}
{{- $_ := set $storage "filesystem" (dict "chunks_directory" "/var/loki/chunks" "rules_directory" "/var/loki/rules") -}}
{{- end -}}
{{- $config := dict
      "auth_enabled" .Values.authEnabled
      "server" (dict
        "http_listen_port" 3100
        "grpc_listen_port" 9095
        "log_level" .Values.logLevel
        "log_format" .Values.logFormat)
      "common" (dict
        "path_prefix" "/var/loki"
        "replication_factor" (int .Values.replicationFactor)
        "ring" (dict "kvstore" (dict "store" "memberlist"))
        "storage" $storage)
      "memberlist" (dict
        "cluster_label" (include "loki.clusterLabel" .)
        "join_members" (list (include "loki.joinMember" .))
        "bind_port" 7946
        "abort_if_cluster_join_fails" false)
      "schema_config" (dict "configs" (list (dict
        "from" (toString .Values.schemaConfig.from)
        "store" "tsdb"
        "object_store" $objectStore
        "schema" "v13"
        "index" (dict "prefix" "index_" "period" "24h"))))
      "ingester" (dict "wal" (dict "dir" "/var/loki/wal"))
      "ruler" (dict "rule_path" "/var/loki/rules-temp")
      "compactor" (dict
        "working_directory" "/var/loki/compactor"
        "retention_enabled" true
        "delete_request_store" $objectStore)
      "limits_config" (dict
        "retention_period" (toString .Values.retention)
        "max_global_streams_per_user" (int .Values.limits.maxGlobalStreamsPerUser)
        "max_streams_per_user" (int .Values.limits.maxStreamsPerUser)
        "ingestion_rate_mb" .Values.limits.ingestionRateMb
        "ingestion_burst_size_mb" .Values.limits.ingestionBurstSizeMb
        "per_stream_rate_limit" (toString .Values.limits.perStreamRateLimit)
        "max_label_names_per_series" (int .Values.limits.maxLabelNamesPerSeries))
      "analytics" (dict "reporting_enabled" .Values.reportingEnabled) -}}
{{- toYaml (mergeOverwrite $config (deepCopy (.Values.extraConfig | default dict))) -}}
{{- end -}}
