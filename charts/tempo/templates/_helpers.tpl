{{/* Whether the metrics generator runs with at least one processor. */}}
{{- define "tempo.generatorEnabled" -}}
{{- and .Values.metricsGenerator.enabled (gt (len .Values.metricsGenerator.processors) 0) -}}
{{- end -}}

{{/*
Rules the schema cannot state (they compare two values): one message per broken rule, each naming
the key to change. The StatefulSet fails with all of them (common.validate).
*/}}
{{- define "tempo.validate" -}}
{{- if gt (int .Values.replicationFactor) (int .Values.replicas) }}
{{ printf "tempo.replicationFactor: %d is above tempo.replicas (%d); every span needs that many ingesters" (int .Values.replicationFactor) (int .Values.replicas) }}
{{- end }}
{{- end -}}

{{/*
The Tempo 2.x configuration (tempo.yaml) as a YAML document, built from values. Ports are fixed
(HTTP 3200, gRPC 9095, memberlist 7946, OTLP 4317/4318); every path sits under /var/tempo, the data
volume. S3 credentials are never here: the config names the environment variables that carry them.
*/}}
{{- define "tempo.config" -}}
{{- $effective := fromYaml (include "common.storage" (dict "context" . "bucket" .Values.storage.s3.bucket)) -}}
{{- $isS3 := eq $effective.backend "s3" -}}
{{- $trace := dict "wal" (dict "path" "/var/tempo/wal") -}}
{{- if $isS3 -}}
{{- $s3 := $effective.s3 -}}
{{- $_ := set $trace "backend" "s3" -}}
{{- $_ := set $trace "s3" (dict
      "endpoint" $s3.endpoint
      "region" $s3.region
      "bucket" $s3.bucket
      "insecure" $s3.insecure
      "forcepathstyle" $s3.forcePathStyle
      "access_key" "${AWS_ACCESS_KEY_ID}"
      "secret_key" "${AWS_SECRET_ACCESS_KEY}") -}}
{{- else -}}
{{- $_ := set $trace "backend" "local" -}}
{{- $_ := set $trace "local" (dict "path" "/var/tempo/blocks") -}}
{{- end -}}
{{- $config := dict
      "stream_over_http_enabled" true
      "server" (dict
        "http_listen_port" 3200
        "grpc_listen_port" 9095
        "log_level" .Values.logLevel
        "log_format" .Values.logFormat)
      "distributor" (dict
        "ring" (dict "kvstore" (dict "store" "memberlist"))
        "receivers" (dict "otlp" (dict "protocols" (dict
          "grpc" (dict "endpoint" "0.0.0.0:4317")
          "http" (dict "endpoint" "0.0.0.0:4318")))))
      "ingester" (dict "lifecycler" (dict "ring" (dict
        "kvstore" (dict "store" "memberlist")
        "replication_factor" (int .Values.replicationFactor))))
      "compactor" (dict
        "ring" (dict "kvstore" (dict "store" "memberlist"))
        "compaction" (dict "block_retention" (toString .Values.retention)))
      "memberlist" (fromYaml (include "common.memberlist.config" (dict "context" . "extra" (dict "abort_if_cluster_join_fails" false))))
      "storage" (dict "trace" $trace)
      "usage_report" (dict "reporting_enabled" .Values.reportingEnabled) -}}
{{- if eq (include "tempo.generatorEnabled" .) "true" -}}
{{- $gen := .Values.metricsGenerator -}}
{{- $labels := dict "env" (include "common.environment.key" .) -}}
{{- with (.Values.global | default dict).cluster -}}
{{- $_ := set $labels "cluster" . -}}
{{- end -}}
{{- $labels = mergeOverwrite $labels (deepCopy ($gen.externalLabels | default dict)) -}}
{{- $remoteWrite := dict "url" (tpl $gen.remoteWrite.url .) "send_exemplars" $gen.remoteWrite.sendExemplars -}}
{{- with $gen.remoteWrite.headers -}}
{{- $_ := set $remoteWrite "headers" . -}}
{{- end -}}
{{- $generator := dict
      "ring" (dict "kvstore" (dict "store" "memberlist"))
      "registry" (dict "external_labels" $labels)
      "storage" (dict
        "path" "/var/tempo/generator/wal"
        "remote_write_add_org_id_header" $gen.remoteWrite.addOrgIdHeader
        "remote_write" (list $remoteWrite)) -}}
{{- if has "local-blocks" $gen.processors -}}
{{- $_ := set $generator "traces_storage" (dict "path" "/var/tempo/generator/traces") -}}
{{- end -}}
{{- $_ := set $config "metrics_generator" $generator -}}
{{- $_ := set $config "overrides" (dict "defaults" (dict "metrics_generator" (dict "processors" $gen.processors))) -}}
{{- end -}}
{{- toYaml (mergeOverwrite $config (deepCopy (.Values.extraConfig | default dict))) -}}
{{- end -}}
