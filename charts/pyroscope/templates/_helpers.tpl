{{/* <fullname>-<suffix>, cut to a DNS label. */}}
{{- define "pyroscope.name" -}}
{{- include "common.names.component" (dict "context" .context "component" .suffix) -}}
{{- end -}}

{{/*
Pyroscope's rules that compare values (common.validate): storage, persistence on object storage,
a pinned image in prod (the schema's enum keeps the metastore's replica count odd). Takes (dict "context" <chart context> "prefix" <path prefix>); one
message per broken rule.
*/}}
{{- define "pyroscope.validate" -}}
{{- $v := .context.Values -}}
{{- include "common.validate.backend" (dict "context" .context "prefix" .prefix "program" "Pyroscope") }}
{{- $storage := fromYaml (include "common.storage" (dict "context" .context "bucket" $v.storage.s3.bucket)) -}}
{{- if and (eq $storage.backend "s3") (not $v.persistence.enabled) }}
{{ printf "%spersistence.enabled: must be true while the storage backend is s3, or the metastore forgets the blocks in the bucket on every restart" .prefix }}
{{- end }}
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
{{- $headless := include "common.memberlist.headlessFqdn" (dict "context" .) -}}
{{- $effective := fromYaml (include "common.storage" (dict "context" . "bucket" .Values.storage.s3.bucket "prefix" .Values.storage.prefix)) -}}
{{- $storage := dict "backend" $effective.backend -}}
{{- with $effective.prefix -}}
{{- $_ := set $storage "storage_prefix" . -}}
{{- end -}}
{{- if eq $effective.backend "s3" -}}
{{- $s3 := $effective.s3 -}}
{{- $s3cfg := fromYaml (include "common.storage.s3Config" (dict "context" . "storage" $effective "optionalRegion" true)) -}}
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
      "server" (fromYaml (include "common.config.server" (dict "context" . "httpPort" 4040)))
      "storage" $storage
      "memberlist" (fromYaml (include "common.memberlist.config" (dict "context" .)))
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
