{{/* The headless Service that the memberlist ring joins through: <fullname>-headless. */}}
{{- define "tempo.headlessName" -}}
{{- include "common.names.component" (dict "context" . "component" "headless") -}}
{{- end -}}

{{/* The memberlist cluster label, <release>-<chart>: rings of different backends never cross-join. */}}
{{- define "tempo.clusterLabel" -}}
{{- printf "%s-%s" .Release.Name (include "common.names.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The one memberlist join address: every replica behind the headless Service, port included. */}}
{{- define "tempo.joinMember" -}}
{{- printf "dns+%s.%s.svc.%s:7946" (include "tempo.headlessName" .) (include "common.names.namespace" .) .Values.clusterDomain -}}
{{- end -}}

{{/* Whether the pod disruption budget renders: pdb.enabled, or more than one replica when it is null. */}}
{{- define "tempo.pdbEnabled" -}}
{{- if kindIs "bool" .Values.pdb.enabled -}}
{{- .Values.pdb.enabled -}}
{{- else -}}
{{- gt (int .Values.replicas) 1 -}}
{{- end -}}
{{- end -}}

{{/* Whether the metrics generator runs with at least one processor. */}}
{{- define "tempo.generatorEnabled" -}}
{{- and .Values.metricsGenerator.enabled (gt (len .Values.metricsGenerator.processors) 0) -}}
{{- end -}}

{{/*
The effective object storage as YAML (read it with fromYaml): each key is the chart's own
storage.* when set (non-empty; a boolean for insecure and forcePathStyle), else global.storage.*,
else the default (filesystem, HTTPS, virtual-hosted addressing, the Secret keys AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY). The bucket is always the chart's own. Every template reads this, never
.Values.storage directly.
*/}}
{{- define "tempo.storage" -}}
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

{{/* Rules the schema cannot state (they compare two values); each fails with the key to change. */}}
{{- define "tempo.validate" -}}
{{- if gt (int .Values.replicationFactor) (int .Values.replicas) -}}
{{- fail (printf "tempo.replicationFactor: %d is above tempo.replicas (%d); every span needs that many ingesters" (int .Values.replicationFactor) (int .Values.replicas)) -}}
{{- end -}}
{{- end -}}

{{/*
The Tempo 2.x configuration (tempo.yaml) as a YAML document, built from values. Ports are fixed
(HTTP 3200, gRPC 9095, memberlist 7946, OTLP 4317/4318); every path sits under /var/tempo, the data
volume. S3 credentials are never here: the config names the environment variables that carry them.
*/}}
{{- define "tempo.config" -}}
{{- include "tempo.validate" . -}}
{{- $effective := fromYaml (include "tempo.storage" .) -}}
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
      "memberlist" (dict
        "cluster_label" (include "tempo.clusterLabel" .)
        "join_members" (list (include "tempo.joinMember" .))
        "bind_port" 7946
        "abort_if_cluster_join_fails" false)
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
