{{/* Object names. */}}
{{- define "pyroscope.fullname" -}}
{{- include "common.names.fullname" . -}}
{{- end -}}

{{/* <fullname>-<suffix>, cut to a DNS label. */}}
{{- define "pyroscope.name" -}}
{{- include "common.names.component" (dict "context" .context "component" .suffix) -}}
{{- end -}}

{{- define "pyroscope.headlessName" -}}
{{- include "pyroscope.name" (dict "context" . "suffix" "headless") -}}
{{- end -}}

{{/* The memberlist cluster label: <release>-<chart>, so rings of different backends never cross-join. */}}
{{- define "pyroscope.clusterLabel" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name -}}
{{- end -}}

{{/* FQDN of the headless Service, without the final dot. */}}
{{- define "pyroscope.headlessFqdn" -}}
{{- printf "%s.%s.svc.%s" (include "pyroscope.headlessName" .) (include "common.names.namespace" .) .Values.clusterDomain -}}
{{- end -}}

{{/*
The effective object storage as YAML (read it with fromYaml): each key is the chart's own
storage.* when set (non-empty; a boolean for insecure and forcePathStyle), else global.storage.*,
else the default (filesystem, HTTPS, virtual-hosted addressing, the Secret keys AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY). The bucket and the prefix are always the chart's own. The endpoint is not
rendered with tpl yet. Every template reads this, never .Values.storage directly.
*/}}
{{- define "pyroscope.storage" -}}
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
{{- toYaml (dict "backend" (coalesce $own.backend $global.backend "filesystem") "prefix" ($own.prefix | default "") "s3" $s3) -}}
{{- end -}}

{{/*
Rules that span values and cannot be said in the schema. Each failure names the keys to change.
*/}}
{{- define "pyroscope.validate" -}}
{{- $replicas := int .Values.replicas -}}
{{- if eq (mod $replicas 2) 0 -}}
{{- fail (printf "pyroscope: replicas is %d; every pod is a voter of the metastore's Raft group, which needs an odd number (1, 3, 5)" $replicas) -}}
{{- end -}}
{{- end -}}

{{/*
The Pyroscope configuration file, built as a map and rendered with toYaml. Every writable path is
under /data (the PVC or an emptyDir) or /tmp; ${POD_NAME} and the ${AWS_*} credentials are expanded
from the environment (-config.expand-env=true).

The metastore is a Raft group over all replicas. Its peers are found through the SRV records of the
headless Service (`dnssrvnoa+`: names, not addresses), whose targets end in a dot; each pod's
server id is written the same way so that it matches its own entry.
*/}}
{{- define "pyroscope.config" -}}
{{- $v := .Values -}}
{{- $headless := include "pyroscope.headlessFqdn" . -}}
{{- $effective := fromYaml (include "pyroscope.storage" .) -}}
{{- $storage := dict "backend" $effective.backend -}}
{{- with $effective.prefix -}}
{{- $_ := set $storage "storage_prefix" . -}}
{{- end -}}
{{- if eq $effective.backend "s3" -}}
{{- $s3 := $effective.s3 -}}
{{- $s3cfg := dict "endpoint" (tpl $s3.endpoint .) "bucket_name" $s3.bucket "insecure" $s3.insecure "access_key_id" "${AWS_ACCESS_KEY_ID}" "secret_access_key" "${AWS_SECRET_ACCESS_KEY}" -}}
{{- with $s3.region -}}
{{- $_ := set $s3cfg "region" . -}}
{{- end -}}
{{- if $s3.forcePathStyle -}}
{{- $_ := set $s3cfg "bucket_lookup_type" "path-style" -}}
{{- end -}}
{{- $_ := set $storage "s3" $s3cfg -}}
{{- else -}}
{{- $_ := set $storage "filesystem" (dict "dir" "/data/storage") -}}
{{- end -}}
{{- $raftPeer := printf "${POD_NAME}.%s.:9099" $headless -}}
{{- $retention := toString $v.retention -}}
{{- $index := dict "cleanup_interval" (ternary "0s" "1m" (eq $retention "0")) -}}
{{- $config := dict
      "multitenancy_enabled" $v.multitenancy.enabled
      "show_banner" false
      "analytics" (dict "reporting_enabled" false)
      "self_profiling" (dict "disable_push" true)
      "server" (dict "http_listen_port" 4040 "grpc_listen_port" 9095 "log_level" $v.logLevel)
      "storage" $storage
      "memberlist" (dict
          "join_members" (list (printf "dns+%s:7946" $headless))
          "cluster_label" (include "pyroscope.clusterLabel" .)
          "bind_port" 7946)
      "metastore" (dict
          "address" (printf "dnssrvnoa+_grpc._tcp.%s.:9095" $headless)
          "data_dir" "/data/metastore/data"
          "raft" (dict
              "dir" "/data/metastore/raft"
              "snapshots_dir" "/data/metastore/raft"
              "bootstrap_peers" (list (printf "dnssrvnoa+_raft._tcp.%s.:9099" $headless))
              "bootstrap_expect_peers" (int $v.replicas)
              "server_id" $raftPeer
              "advertise_address" $raftPeer
              "bind_address" ":9099")
          "index" $index)
      "query_backend" (dict "address" (printf "dns:///%s:9095" $headless))
      "limits" (dict "retention_period" $retention)
-}}
{{- toYaml (mergeOverwrite $config (deepCopy ($v.extraConfig | default dict))) -}}
{{- end -}}
