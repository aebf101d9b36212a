{{/* Whether the metrics generator runs with at least one processor. */}}
{{- define "tempo.generatorEnabled" -}}
{{- and .Values.metricsGenerator.enabled (gt (len .Values.metricsGenerator.processors) 0) -}}
{{- end -}}

{{/*
Tempo's rules that compare values (common.validate): what every backend shares (storage, a pinned
image in prod, the replication factor: common.validate.backend).
Takes (dict "context" <chart context> "prefix" <path prefix>); one message per broken rule.
*/}}
{{- define "tempo.validate" -}}
{{- include "common.validate.backend" (dict "context" .context "prefix" .prefix "program" "Tempo" "replication" "every span needs that many ingesters") }}
{{- end -}}

{{/*
The Tempo 2.x configuration (tempo.yaml) as a YAML document, built from values. Ports are fixed
(HTTP 3200, gRPC 9095, memberlist 7946, OTLP 4317/4318); every path sits under /var/tempo, the data
volume. S3 credentials are never here: the config names the environment variables that carry them.
*/}}
{{- define "tempo.config" -}}
{{- $effective := fromYaml (include "common.storage" (dict "context" . "bucket" .Values.storage.s3.bucket)) -}}
{{- $trace := dict "wal" (dict "path" "/var/tempo/wal") -}}
{{- if eq $effective.backend "s3" -}}
{{- $tempoKeys := dict "bucket" "bucket" "forcePathStyle" "forcepathstyle" "accessKeyId" "access_key" "secretAccessKey" "secret_key" -}}
{{- $_ := set $trace "backend" "s3" -}}
{{- $_ := set $trace "s3" (fromYaml (include "common.storage.s3Config" (dict "context" . "storage" $effective "keys" $tempoKeys))) -}}
{{- else -}}
{{- $_ := set $trace "backend" "local" -}}
{{- $_ := set $trace "local" (dict "path" "/var/tempo/blocks") -}}
{{- end -}}
{{- /* Every ring of Tempo (distributor, ingesters, compactor, generator) lives on memberlist. */ -}}
{{- $ring := dict "kvstore" (dict "store" "memberlist") -}}
{{- $config := dict
      "stream_over_http_enabled" true
      "server" (fromYaml (include "common.config.server" (dict "context" . "httpPort" 3200)))
      "distributor" (dict
        "ring" (deepCopy $ring)
        "receivers" (dict "otlp" (dict "protocols" (dict
          "grpc" (dict "endpoint" "0.0.0.0:4317")
          "http" (dict "endpoint" "0.0.0.0:4318")))))
      "ingester" (dict "lifecycler" (dict "ring" (merge (dict "replication_factor" (int .Values.replicationFactor)) (deepCopy $ring))))
      "compactor" (dict
        "ring" (deepCopy $ring)
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
      "ring" (deepCopy $ring)
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
