{{/*
The "server" block that every Grafana program of the stack reads (dskit: Loki, Tempo, Mimir,
Pyroscope), as YAML (read it with fromYaml): the HTTP port given, gRPC on 9095, the values' logLevel
and, where the chart has one, logFormat.
Usage: "server" (fromYaml (include "common.config.server" (dict "context" . "httpPort" 3100)))
*/}}
{{- define "common.config.server" -}}
{{- $v := .context.Values -}}
{{- $server := dict "http_listen_port" .httpPort "grpc_listen_port" 9095 "log_level" $v.logLevel -}}
{{- if hasKey $v "logFormat" -}}
{{- $_ := set $server "log_format" $v.logFormat -}}
{{- end -}}
{{- toYaml $server -}}
{{- end -}}
