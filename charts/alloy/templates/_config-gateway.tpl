{{- /*
Configuration fragments of the gateway: OTLP and Faro in, the contract (an OTTL transform),
batches, then Tempo (traces), Mimir (metrics) and Loki (logs).
*/ -}}

{{/*
OTTL statements that derive unix seconds from an RFC3339 attribute of the same map. OTTL's
Time() reads ctime directives: %z takes `Z` and `+0000` (and `+00:00` in recent versions),
%j takes `+00:00`; the second statement runs only when the first could not parse. Fractional
seconds after %S are accepted by the Go parser underneath.
Usage: include "alloy.ottl.unixSeconds" (dict "from" "kfm.job.started_at" "to" "kfm.job.started_at_unix")
*/}}
{{- define "alloy.ottl.unixSeconds" -}}
{{- $from := printf "attributes[%q]" .from -}}
{{- $to := printf "attributes[%q]" .to -}}
- {{ printf "set(%s, UnixSeconds(Time(%s, %q))) where %s != nil" $to $from "%Y-%m-%dT%H:%M:%S%z" $from }}
- {{ printf "set(%s, UnixSeconds(Time(%s, %q))) where %s != nil and %s == nil" $to $from "%Y-%m-%dT%H:%M:%S%j" $from $to }}
{{- end -}}

{{/* OTTL: unix seconds for every timestamp attribute of the contract, on the context's own attributes. */}}
{{- define "alloy.ottl.contractUnixSeconds" -}}
{{- $out := list -}}
{{- range (fromYaml (include "alloy.contract" .)).attributes -}}
{{- if .timestamp -}}
{{- $out = concat $out (fromYamlArray (include "alloy.ottl.unixSeconds" (dict "from" .attribute "to" (printf "%s_unix" .attribute)))) -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
OTTL for every resource: the environment and the cluster, whatever the application sent, then
the unix seconds of the contract's timestamps.
*/}}
{{- define "alloy.ottl.resource" -}}
{{- $env := include "common.environment.key" . -}}
{{- $cluster := include "alloy.cluster" . -}}
{{- $out := list -}}
{{- range list (include "alloy.envAttribute" .) "deployment.environment" "deployment.environment.name" -}}
{{- $out = append $out (printf "set(attributes[%q], %q)" . $env) -}}
{{- end -}}
{{- range list "k8s.cluster.name" "cluster" -}}
{{- $out = append $out (printf "set(attributes[%q], %q)" . $cluster) -}}
{{- end -}}
{{- toYaml (concat $out (fromYamlArray (include "alloy.ottl.contractUnixSeconds" .))) -}}
{{- end -}}

{{/*
OTTL copying the contract's attributes to their Prometheus labels on a data point or a log
record: from the resource first, then from the record's own attributes (which win), except
`env`, which only comes from the resource where the environment was forced. With "drop" the
canonical attribute leaves the data point, so a series does not carry both names.
Usage: include "alloy.ottl.contractLabels" (dict "context" $ "drop" true)
*/}}
{{- define "alloy.ottl.contractLabels" -}}
{{- $out := fromYamlArray (include "alloy.ottl.contractUnixSeconds" .context) -}}
{{- range (fromYaml (include "alloy.contract" .context)).attributes -}}
{{- $pairs := list (list .attribute .label) -}}
{{- if .timestamp -}}
{{- $pairs = append $pairs (list (printf "%s_unix" .attribute) (printf "%s_unix" .label)) -}}
{{- end -}}
{{- range $pairs -}}
{{- $from := index . 0 -}}
{{- $to := index . 1 -}}
{{- $out = append $out (printf "set(attributes[%q], resource.attributes[%q]) where resource.attributes[%q] != nil" $to $from $from) -}}
{{- if ne $to "env" -}}
{{- $out = append $out (printf "set(attributes[%q], attributes[%q]) where attributes[%q] != nil" $to $from $from) -}}
{{- end -}}
{{- if $.drop -}}
{{- $out = append $out (printf "delete_key(attributes, %q)" $from) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The Loki labels of OTLP logs: the contract's labels (otelcol.exporter.loki reads this hint). */}}
{{- define "alloy.ottl.lokiLabelHints" -}}
{{- $labels := list -}}
{{- range (fromYaml (include "alloy.contract" .)).attributes -}}
{{- $labels = append $labels .label -}}
{{- if .timestamp -}}
{{- $labels = append $labels (printf "%s_unix" .label) -}}
{{- end -}}
{{- end -}}
{{- with $labels -}}
- {{ printf "set(attributes[%q], %q)" "loki.attribute.labels" (join ", " .) }}
{{- end -}}
{{- end -}}

{{/*
One statements block of the transform processor, or nothing when there are no statements.
Usage: include "alloy.config.ottlBlock" (dict "block" "metric_statements" "context" "datapoint" "statements" $list)
*/}}
{{- define "alloy.config.ottlBlock" -}}
{{- if .statements -}}
{{ .block }} {
  context    = {{ .context | quote }}
  statements = [
    {{- range .statements }}
    `{{ . }}`,
    {{- end }}
  ]
}
{{- end -}}
{{- end -}}

{{/* The input of the gateway's pipeline: the memory limiter when on, else the contract. */}}
{{- define "alloy.gateway.pipelineInput" -}}
{{- if .Values.gateway.memoryLimiter.enabled -}}
otelcol.processor.memory_limiter.default.input
{{- else -}}
otelcol.processor.transform.contract.input
{{- end -}}
{{- end -}}

{{/* An otelcol output block sending every signal to one input. */}}
{{- define "alloy.config.otelOutput" -}}
output {
  metrics = [{{ . }}]
  logs    = [{{ . }}]
  traces  = [{{ . }}]
}
{{- end -}}

{{/* OTLP in: gRPC 4317, HTTP 4318. */}}
{{- define "alloy.config.gateway.otlp" -}}
// OTLP from the applications: gRPC on 4317, HTTP on 4318.
otelcol.receiver.otlp "default" {
  grpc {
    endpoint = "0.0.0.0:4317"
  }

  http {
    endpoint = "0.0.0.0:4318"
  }

  {{ include "alloy.config.otelOutput" (include "alloy.gateway.pipelineInput" .) | indent 2 | trim }}
}
{{- if .Values.gateway.memoryLimiter.enabled }}
{{- $ml := .Values.gateway.memoryLimiter }}

// Refuse data (the senders retry) before the container reaches its memory limit.
otelcol.processor.memory_limiter "default" {
  check_interval         = {{ $ml.checkInterval | quote }}
  limit_percentage       = {{ $ml.limitPercentage }}
  spike_limit_percentage = {{ $ml.spikeLimitPercentage }}

  {{ include "alloy.config.otelOutput" "otelcol.processor.transform.contract.input" | indent 2 | trim }}
}
{{- end }}
{{- end -}}

{{/*
The telemetry contract, enforced on everything the gateway receives:
- every resource: the environment (kfm.env, deployment.environment[.name]) and the cluster
  (k8s.cluster.name, cluster), whatever the application sent;
- metrics: each canonical attribute becomes its Prometheus label on the data points;
- logs: the same labels, handed to otelcol.exporter.loki through the loki.attribute.labels hint;
- spans: the canonical attributes stay (a span-level env attribute is set to the environment);
  timestamps gain an `<attribute>_unix` twin.
*/}}
{{- define "alloy.config.gateway.contract" -}}
{{- $resource := fromYamlArray (include "alloy.ottl.resource" .) -}}
{{- $envAttribute := include "alloy.envAttribute" . -}}
{{- $spanForce := list (printf "set(attributes[%q], %q) where attributes[%q] != nil" $envAttribute (include "common.environment.key" .) $envAttribute) -}}
{{- $span := concat $spanForce (fromYamlArray (include "alloy.ottl.contractUnixSeconds" .)) -}}
{{- $logResource := append $resource (printf "set(attributes[%q], %q)" "loki.resource.labels" "service.name, service.namespace") -}}
{{- $logRecord := concat (fromYamlArray (include "alloy.ottl.contractLabels" (dict "context" . "drop" false))) (fromYamlArray (include "alloy.ottl.lokiLabelHints" .)) -}}
// The telemetry contract (global.telemetry) on every span, data point and log record.
otelcol.processor.transform "contract" {
  error_mode = {{ .Values.contract.errorMode | quote }}

  {{ include "alloy.config.ottlBlock" (dict "block" "trace_statements" "context" "resource" "statements" $resource) | indent 2 | trim }}
  {{- with include "alloy.config.ottlBlock" (dict "block" "trace_statements" "context" "span" "statements" $span) }}

  {{ . | indent 2 | trim }}
  {{- end }}

  {{ include "alloy.config.ottlBlock" (dict "block" "metric_statements" "context" "resource" "statements" $resource) | indent 2 | trim }}
  {{- with include "alloy.config.ottlBlock" (dict "block" "metric_statements" "context" "datapoint" "statements" (fromYamlArray (include "alloy.ottl.contractLabels" (dict "context" . "drop" true)))) }}

  {{ . | indent 2 | trim }}
  {{- end }}

  {{ include "alloy.config.ottlBlock" (dict "block" "log_statements" "context" "resource" "statements" $logResource) | indent 2 | trim }}
  {{- with include "alloy.config.ottlBlock" (dict "block" "log_statements" "context" "log" "statements" $logRecord) }}

  {{ . | indent 2 | trim }}
  {{- end }}

  {{ include "alloy.config.otelOutput" "otelcol.processor.batch.default.input" | indent 2 | trim }}
}
{{- end -}}

{{/*
Batches, then one exporter per signal. otelcol.processor.batch refuses at load (not at `alloy
validate`) a send_batch_max_size below send_batch_size, and the values schema cannot compare two
keys, so the render refuses it here.
*/}}
{{- define "alloy.config.gateway.exporters" -}}
{{- $b := .Values.gateway.batch -}}
{{- $t := .Values.endpoints.tempo -}}
{{- if lt (int $b.sendBatchMaxSize) (int $b.sendBatchSize) -}}
{{- fail "alloy: gateway.batch.sendBatchMaxSize is below gateway.batch.sendBatchSize; Alloy refuses to load such a batch processor (allowed: sendBatchMaxSize >= sendBatchSize)" -}}
{{- end -}}
otelcol.processor.batch "default" {
  timeout             = {{ $b.timeout | quote }}
  send_batch_size     = {{ $b.sendBatchSize }}
  send_batch_max_size = {{ $b.sendBatchMaxSize }}

  output {
    metrics = [otelcol.exporter.prometheus.mimir.input]
    logs    = [otelcol.exporter.loki.loki.input]
    traces  = [otelcol.exporter.otlp.tempo.input]
  }
}

// Traces to Tempo over OTLP gRPC.
otelcol.exporter.otlp "tempo" {
  client {
    endpoint = {{ tpl $t.endpoint . | quote }}
    {{- with include "alloy.tenantHeaders" . }}
    {{ . | replace "headers =" "headers  =" }}
    {{- end }}

    tls {
      insecure = {{ $t.insecure }}
    }
  }
}

// Metrics to Prometheus series. Resource attributes stay in target_info: only the contract's
// attributes become labels (copied onto the data points), so cardinality stays bounded.
otelcol.exporter.prometheus "mimir" {
  forward_to                       = [prometheus.relabel.contract.receiver]
  resource_to_telemetry_conversion = false
}

// Logs to Loki entries; labels come from the loki.*.labels hints set by the contract.
otelcol.exporter.loki "loki" {
  forward_to = [loki.process.contract.receiver]
}
{{- end -}}

{{/* Browser telemetry from the Grafana Faro Web SDK on 12347. */}}
{{- define "alloy.config.gateway.faro" -}}
{{- $f := .Values.gateway.faro -}}
// Browser real-user monitoring (Grafana Faro Web SDK) on 12347: logs to Loki, traces through the contract.
faro.receiver "default" {
  {{- with $f.extraLogLabels }}
  {{- $pairs := list }}
  {{- range $k, $v := . }}
  {{- $pairs = append $pairs (printf "%s = %s" $k (quote $v)) }}
  {{- end }}
  extra_log_labels = { {{ join ", " $pairs }} }
  {{- end }}

  server {
    listen_address       = "0.0.0.0"
    listen_port          = 12347
    cors_allowed_origins = {{ include "alloy.fmt.list" ($f.corsAllowedOrigins | default list) }}
  }

  sourcemaps {
    download = {{ $f.sourcemapsDownload }}
  }

  output {
    logs   = [loki.process.contract.receiver]
    traces = [{{ include "alloy.gateway.pipelineInput" . }}]
  }
}
{{- end -}}

{{/* "true" when the gateway runs synthetic probes: blackbox.enabled with at least one target. */}}
{{- define "alloy.blackbox.enabled" -}}
{{- if and .Values.gateway.enabled .Values.blackbox.enabled .Values.blackbox.targets -}}true{{- end -}}
{{- end -}}

{{/*
Synthetic probes of blackbox.targets with the built-in blackbox exporter (module http_2xx: any 2xx,
or blackbox.validStatusCodes; TLS targets also give probe_ssl_earliest_cert_expiry). The `prober`
label (this pod's name) keeps the series of several gateway replicas apart.
*/}}
{{- define "alloy.config.gateway.blackbox" -}}
{{- $b := .Values.blackbox -}}
{{- $http := dict "preferred_ip_protocol" "ip4" "follow_redirects" $b.followRedirects "valid_status_codes" ($b.validStatusCodes | default list) -}}
{{- $modules := dict "modules" (dict "http_2xx" (dict "prober" "http" "timeout" $b.timeout "http" $http)) -}}
// Synthetic probes of the environment's URLs (HTTP 2xx, certificate expiry).
prometheus.exporter.blackbox "probes" {
  config = {{ toJson $modules | quote }}
  {{- range $b.targets }}

  target {
    name    = {{ .name | quote }}
    address = {{ .url | quote }}
    module  = "http_2xx"
    labels  = { "probe" = {{ .name | quote }}, "url" = {{ .url | quote }} }
  }
  {{- end }}
}

discovery.relabel "probes" {
  targets = prometheus.exporter.blackbox.probes.targets

  rule {
    target_label = "prober"
    replacement  = sys.env("POD_NAME")
  }
}

prometheus.scrape "probes" {
  targets         = discovery.relabel.probes.output
  forward_to      = [prometheus.relabel.contract.receiver]
  job_name        = "blackbox"
  scrape_interval = {{ $b.interval | quote }}
  scrape_timeout  = {{ $b.timeout | quote }}
}
{{- end -}}

{{/* The whole gateway configuration. */}}
{{- define "alloy.config.gateway" -}}
{{- $parts := list (include "alloy.config.logging" .) (include "alloy.config.gateway.otlp" .) -}}
{{- if .Values.gateway.faro.enabled -}}
{{- $parts = append $parts (include "alloy.config.gateway.faro" .) -}}
{{- end -}}
{{- $parts = concat $parts (list (include "alloy.config.gateway.contract" .) (include "alloy.config.gateway.exporters" .)) -}}
{{- if include "alloy.blackbox.enabled" . -}}
{{- $parts = append $parts (include "alloy.config.gateway.blackbox" .) -}}
{{- end -}}
{{- $parts = concat $parts (list (include "alloy.config.metricsOutput" .) (include "alloy.config.logsOutput" .)) -}}
{{- $header := printf "// Keelson Alloy gateway (%s), generated by the alloy chart: do not edit.\n// Environment %s, cluster %s." (include "alloy.name" (dict "context" . "component" "gateway")) (include "common.environment.key" .) (include "alloy.cluster" .) -}}
{{- include "alloy.config.clean" (prepend $parts $header) -}}
{{- end -}}
