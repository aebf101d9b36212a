{{- /*
SLO rule groups (recording rules and multiwindow, multi-burn-rate alerts), the synthetic-probe
group, and "keelson.alerting.groups", the list of every group the chart renders.
*/ -}}

{{/* The ranges every SLO's error ratio is recorded over; burn-rate windows are picked from these. */}}
{{- define "keelson.alerting.sloWindows" -}}
{{- toYaml (list "5m" "30m" "1h" "2h" "6h" "1d" "3d") -}}
{{- end -}}

{{/*
One SLO: `slo:sli_error:ratio_rate<w>{slo="<name>"}` for each recorded range, then one
SLOErrorBudgetBurn alert per alerting.burnRates tier, firing while the error ratio is above
factor x (1 - objective/100) over both the long and the short window.
Usage: include "keelson.alerting.group.slo" (dict "context" $ "slo" $slo)
*/}}
{{- define "keelson.alerting.group.slo" -}}
{{- $slo := .slo -}}
{{- $ctx := .context -}}
{{- $budget := printf "(1 - %v / 100)" $slo.objective -}}
name: {{ printf "keelson-slo-%s" $slo.name }}
interval: {{ $ctx.Values.alerting.evaluationInterval }}
rules:
  {{- range $window := fromYamlArray (include "keelson.alerting.sloWindows" $ctx) }}
  - record: {{ printf "slo:sli_error:ratio_rate%s" $window }}
    expr: |-
      ({{ replace "$window" $window $slo.errorQuery | trim }})
        /
      ({{ replace "$window" $window $slo.totalQuery | trim }})
    labels:
      slo: {{ $slo.name }}
  {{- end }}
  {{- range $tier := $ctx.Values.alerting.burnRates }}
  - alert: SLOErrorBudgetBurn
    expr: |-
      slo:sli_error:ratio_rate{{ $tier.longWindow }}{slo="{{ $slo.name }}"} > {{ $tier.factor }} * {{ $budget }}
        and
      slo:sli_error:ratio_rate{{ $tier.shortWindow }}{slo="{{ $slo.name }}"} > {{ $tier.factor }} * {{ $budget }}
    {{- with $tier.for }}
    for: {{ . }}
    {{- end }}
    labels:
      severity: {{ $tier.severity }}
      slo: {{ $slo.name }}
      burn_rate: {{ $tier.factor | toString | quote }}
      long_window: {{ $tier.longWindow }}
      short_window: {{ $tier.shortWindow }}
      {{- include "keelson.alerting.commonLabels" $ctx | nindent 6 }}
    annotations:
      summary: {{ printf "SLO %s (%v %% over %s) burns its error budget %vx too fast (%s and %s)." $slo.name $slo.objective ($slo.window | default "30d") $tier.factor $tier.longWindow $tier.shortWindow | quote }}
      description: {{ printf "Errors over %s: {{ $value | humanizePercentage }} of the requests (budget %s %%). %s" $tier.longWindow (printf "%.4g" (subf 100 $slo.objective)) ($slo.description | default "") | trim | quote }}
  {{- end }}
{{- end -}}

{{/* The synthetic probes of alloy.blackbox.targets: the URL fails, or its certificate expires soon. */}}
{{- define "keelson.alerting.group.probes" -}}
{{- $p := .Values.alerting.probes -}}
name: keelson-probes
interval: {{ .Values.alerting.evaluationInterval }}
rules:
  - alert: KeelsonProbeFailed
    expr: max by (probe, url) (probe_success{probe!=""}) == 0
    for: {{ $p.for }}
    labels:
      severity: critical
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ `{{ $labels.url }} fails its synthetic probe (HTTP 2xx) from every prober.` | quote }}
      description: {{ `The blackbox probe {{ $labels.probe }} of {{ $labels.url }} fails` | quote }}
  - alert: KeelsonCertificateExpiringSoon
    expr: min by (probe, url) (probe_ssl_earliest_cert_expiry{probe!=""}) - time() < {{ $p.certExpiryDays }} * 86400
    for: {{ $p.certExpiryFor }}
    labels:
      severity: warning
      {{- include "keelson.alerting.commonLabels" . | nindent 6 }}
    annotations:
      summary: {{ printf "The certificate of {{ $labels.url }} expires within %v days." $p.certExpiryDays | quote }}
      description: {{ `{{ $labels.url }}: the certificate expires in {{ $value | humanizeDuration }}` | quote }}
{{- end -}}

{{/* Every rule group of the chart, as a YAML list (fromYamlArray). */}}
{{- define "keelson.alerting.groups" -}}
{{- $groups := list (fromYaml (include "keelson.alerting.group.watchdog" .)) -}}
{{- if .Values.app.enabled -}}
{{- $groups = append $groups (fromYaml (include "keelson.alerting.group.app" .)) -}}
{{- end -}}
{{- $groups = append $groups (fromYaml (include "keelson.alerting.group.kubernetes" .)) -}}
{{- $groups = append $groups (fromYaml (include "keelson.alerting.group.stack" .)) -}}
{{- if and .Values.alloy.enabled .Values.alloy.gateway.enabled .Values.alloy.blackbox.enabled .Values.alloy.blackbox.targets -}}
{{- $groups = append $groups (fromYaml (include "keelson.alerting.group.probes" .)) -}}
{{- end -}}
{{- range .Values.alerting.slos -}}
{{- $groups = append $groups (fromYaml (include "keelson.alerting.group.slo" (dict "context" $ "slo" .))) -}}
{{- end -}}
{{- range $groups -}}
{{- with .Error -}}
{{- fail (printf "keelson: an alert rule group does not render as YAML: %s" .) -}}
{{- end -}}
{{- end -}}
{{- toYaml $groups -}}
{{- end -}}
