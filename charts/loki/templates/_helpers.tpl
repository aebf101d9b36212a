{{/*
Loki's rules that compare values (common.validate): what every backend shares (storage, a pinned
image in prod, the replication factor: common.validate.backend) and retention in whole days.
Takes (dict "context" <chart context> "prefix" <path prefix>); one message per broken rule.
*/}}
{{- define "loki.validate" -}}
{{- $v := .context.Values -}}
{{- include "common.validate.backend" (dict "context" .context "prefix" .prefix "program" "Loki" "replication" "every write needs that many replicas") }}
{{- $retention := toString $v.retention }}
{{- if and (hasSuffix "h" $retention) (mod (int (trimSuffix "h" $retention)) 24) }}
{{ printf "%sretention: must be whole days (a multiple of 24h, the index period), such as 168h or 7d" .prefix }}
{{- end }}
{{- end -}}

{{/*
The Loki configuration (loki.yaml) as a YAML document, built from values. Ports are fixed
(HTTP 3100, gRPC 9095, memberlist 7946); every path sits under /var/loki, the data volume.
S3 credentials are never here: the config names the environment variables that carry them.
*/}}
{{- define "loki.config" -}}
{{- $effective := fromYaml (include "common.storage" (dict "context" . "bucket" .Values.storage.s3.bucket)) -}}
{{- $isS3 := eq $effective.backend "s3" -}}
{{- $objectStore := ternary "s3" "filesystem" $isS3 -}}
{{- $storage := dict -}}
{{- if $isS3 -}}
{{- $lokiKeys := dict "bucket" "bucketnames" "forcePathStyle" "s3forcepathstyle" -}}
{{- $_ := set $storage "s3" (fromYaml (include "common.storage.s3Config" (dict "context" . "storage" $effective "keys" $lokiKeys))) -}}
{{- else -}}
{{- $_ := set $storage "filesystem" (dict "chunks_directory" "/var/loki/chunks" "rules_directory" "/var/loki/rules") -}}
{{- end -}}
{{- $config := dict
      "auth_enabled" .Values.authEnabled
      "server" (fromYaml (include "common.config.server" (dict "context" . "httpPort" 3100)))
      "common" (dict
        "path_prefix" "/var/loki"
        "replication_factor" (int .Values.replicationFactor)
        "ring" (dict "kvstore" (dict "store" "memberlist"))
        "storage" $storage)
      "memberlist" (fromYaml (include "common.memberlist.config" (dict "context" . "extra" (dict "abort_if_cluster_join_fails" false))))
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
