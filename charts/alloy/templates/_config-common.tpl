{{- /*
Alloy configuration fragments shared by the agent and the gateway: one `define` per concern,
each rendering whole top-level blocks at column 0 (the assembling template adds blank lines).
The telemetry contract lives in global.telemetry; fragments read it through "alloy.contract".
*/ -}}

{{/*
An Alloy object literal over several lines with its `=` aligned, as `alloy fmt` writes it.
pairs: a list of [key, rendered value]. Indent the result with `indent N | trim`.
*/}}
{{- define "alloy.fmt.object" -}}
{{- $width := 0 -}}
{{- range .pairs -}}
{{- $width = max $width (len (index . 0)) -}}
{{- end -}}
{
{{- range .pairs }}
  {{ printf "%-*s = %s," (int $width) (index . 0) (index . 1) }}
{{- end }}
}
{{- end -}}

{{/* An Alloy list of strings on one line: ["a", "b"]. */}}
{{- define "alloy.fmt.list" -}}
[{{ range $i, $v := . }}{{ if $i }}, {{ end }}{{ $v | quote }}{{ end }}]
{{- end -}}

{{/*
The configuration file from its top-level parts: blank lines between the parts, no trailing
whitespace (indenting included fragments leaves some on empty lines), one final newline.
*/}}
{{- define "alloy.config.clean" -}}
{{- regexReplaceAll "(?m)[ \t]+$" (join "\n\n" .) "" | trim }}
{{ end -}}

{{/* Alloy's own logging. */}}
{{- define "alloy.config.logging" -}}
logging {
  level  = {{ .Values.logLevel | quote }}
  format = {{ .Values.logFormat | quote }}
}
{{- end -}}

{{/*
Metrics: the contract on every series, then Mimir. env and cluster are set by a relabel rule as
well as by external labels, because a series' own `env` label would win over an external one.
*/}}
{{- define "alloy.config.metricsOutput" -}}
// The contract on every series: env and cluster are this environment's, whatever the source said.
prometheus.relabel "contract" {
  forward_to = [prometheus.remote_write.mimir.receiver]

  rule {
    target_label = "env"
    replacement  = {{ include "common.environment.key" . | quote }}
  }

  rule {
    target_label = "cluster"
    replacement  = {{ include "alloy.cluster" . | quote }}
  }
}

// Metrics to Mimir.
prometheus.remote_write "mimir" {
  endpoint {
    {{- if .Values.endpoints.tenantId }}
    url     = {{ tpl .Values.endpoints.mimir.url . | quote }}
    {{ include "alloy.tenantHeaders" . }}
    {{- else }}
    url = {{ tpl .Values.endpoints.mimir.url . | quote }}
    {{- end }}
  }

  external_labels = {{ include "alloy.staticLabels" . }}
}
{{- end -}}

{{/*
Logs: the contract on every stream, then Loki. Timestamp labels (unique per run) move to
structured metadata when contract.logTimestampsAsStructuredMetadata is on; env and cluster are
forced by a static-labels stage (a stream's own label would win over an external one).
*/}}
{{- define "alloy.config.logsOutput" -}}
{{- $timestamps := list -}}
{{- range (fromYaml (include "alloy.contract" .)).attributes -}}
{{- if .timestamp -}}
{{- $timestamps = concat $timestamps (list .label (printf "%s_unix" .label)) -}}
{{- end -}}
{{- end -}}
// The contract on every log stream.
loki.process "contract" {
  forward_to = [loki.write.loki.receiver]
  {{- if and $timestamps .Values.contract.logTimestampsAsStructuredMetadata }}
  {{- $pairs := list }}
  {{- range $timestamps }}
  {{- $pairs = append $pairs (list . "\"\"") }}
  {{- end }}

  // Run timestamps are unique per run: structured metadata, not stream labels.
  stage.structured_metadata {
    values = {{ include "alloy.fmt.object" (dict "pairs" $pairs) | indent 4 | trim }}
  }

  stage.label_drop {
    values = {{ include "alloy.fmt.list" $timestamps }}
  }
  {{- end }}

  // env and cluster are this environment's, whatever the source said.
  stage.static_labels {
    values = {{ include "alloy.staticLabels" . }}
  }
}

// Logs to Loki.
loki.write "loki" {
  endpoint {
    {{- with .Values.endpoints.tenantId }}
    url       = {{ tpl $.Values.endpoints.loki.url $ | quote }}
    tenant_id = {{ tpl . $ | quote }}
    {{- else }}
    url = {{ tpl .Values.endpoints.loki.url . | quote }}
    {{- end }}
  }

  external_labels = {{ include "alloy.staticLabels" . }}
}
{{- end -}}
