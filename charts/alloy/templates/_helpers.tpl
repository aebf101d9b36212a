{{/*
Object name of a workload: <fullname>-agent or <fullname>-gateway.
Usage: include "alloy.name" (dict "context" $ "component" "agent")
*/}}
{{- define "alloy.name" -}}
{{- include "common.names.component" (dict "context" .context "component" .component) -}}
{{- end -}}

{{/* The cluster name stamped on telemetry: global.cluster, which must be a DNS label. */}}
{{- define "alloy.cluster" -}}
{{- $global := .Values.global | default dict -}}
{{- $cluster := toString ($global.cluster | default "") -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" $cluster) -}}
{{- fail (printf "global.cluster: %q must be a DNS label such as prod-eu-1 (it is stamped on all telemetry)" $cluster) -}}
{{- end -}}
{{- $cluster -}}
{{- end -}}

{{/*
The telemetry contract (global.telemetry.attributes), checked, as YAML {attributes: [...]}.
Each entry: attribute (canonical OpenTelemetry name), label (Prometheus label), timestamp (bool).
Names are checked here as well as in the schema, because they are written into OTTL and Alloy
strings: only letters, digits, '_', '.', '-' in attributes and label-name characters in labels.
Usage: (fromYaml (include "alloy.contract" $)).attributes
*/}}
{{- define "alloy.contract" -}}
{{- $global := .Values.global | default dict -}}
{{- $telemetry := $global.telemetry | default dict -}}
{{- $labels := dict -}}
{{- $out := list -}}
{{- range $i, $entry := ($telemetry.attributes | default list) -}}
{{- $attribute := toString $entry.attribute -}}
{{- $label := toString $entry.label -}}
{{- if not (regexMatch "^[A-Za-z_][A-Za-z0-9_.-]*$" $attribute) -}}
{{- fail (printf "global.telemetry.attributes[%d].attribute: %q must be an OpenTelemetry attribute name (letters, digits, '_', '.', '-')" $i $attribute) -}}
{{- end -}}
{{- if or (not (regexMatch "^[a-zA-Z_][a-zA-Z0-9_]*$" $label)) (hasPrefix "__" $label) (has $label (list "true" "false" "null")) -}}
{{- fail (printf "global.telemetry.attributes[%d].label: %q must be a Prometheus label name (letters, digits, '_', not starting with '__')" $i $label) -}}
{{- end -}}
{{- $names := list $label -}}
{{- if $entry.timestamp -}}
{{- $names = append $names (printf "%s_unix" $label) -}}
{{- end -}}
{{- range $names -}}
{{- if hasKey $labels . -}}
{{- fail (printf "global.telemetry.attributes: the label %q is used twice" .) -}}
{{- end -}}
{{- $_ := set $labels . true -}}
{{- end -}}
{{- $out = append $out (dict "attribute" $attribute "label" $label "timestamp" (eq (toString $entry.timestamp) "true")) -}}
{{- end -}}
{{- toYaml (dict "attributes" $out) -}}
{{- end -}}

{{/* The canonical attribute that carries the environment: the one mapped to `env`, else kfm.env. */}}
{{- define "alloy.envAttribute" -}}
{{- $attribute := "kfm.env" -}}
{{- range (fromYaml (include "alloy.contract" .)).attributes -}}
{{- if eq .label "env" -}}
{{- $attribute = .attribute -}}
{{- end -}}
{{- end -}}
{{- $attribute -}}
{{- end -}}

{{/* The labels every log stream and series carries whatever its source said: env and cluster. */}}
{{- define "alloy.staticLabels" -}}
{ env = {{ include "common.environment.key" . | quote }}, cluster = {{ include "alloy.cluster" . | quote }} }
{{- end -}}

{{/* The tenant header map for OTLP and remote write, or nothing. */}}
{{- define "alloy.tenantHeaders" -}}
{{- with .Values.endpoints.tenantId -}}
headers = { "X-Scope-OrgID" = {{ tpl . $ | quote }} }
{{- end -}}
{{- end -}}

{{/* Whether the gateway runs more than one replica (then it gets a PDB). */}}
{{- define "alloy.gateway.multiReplica" -}}
{{- $g := .Values.gateway -}}
{{- if $g.autoscaling.enabled -}}
{{- ternary "true" "false" (gt (int $g.autoscaling.minReplicas) 1) -}}
{{- else -}}
{{- ternary "true" "false" (gt (int $g.replicas) 1) -}}
{{- end -}}
{{- end -}}

{{/* Scrape annotations for Alloy's own metrics, when self-monitoring is on. */}}
{{- define "alloy.selfMonitoringAnnotations" -}}
{{- if .Values.selfMonitoring.enabled -}}
prometheus.io/scrape: "true"
prometheus.io/port: "12345"
prometheus.io/path: /metrics
{{- end -}}
{{- end -}}

{{/*
The container command line. Alloy listens on all interfaces for its HTTP server (UI, /metrics,
/-/ready), keeps its state in the emptyDir at /tmp/alloy and reports no usage statistics (the
NetworkPolicy would block them anyway).
*/}}
{{- define "alloy.args" -}}
- run
- /etc/alloy/config.alloy
- --server.http.listen-addr=0.0.0.0:12345
- --storage.path=/tmp/alloy
- --disable-reporting
{{- end -}}

{{/*
Whether the agent reads the Prometheus Operator's objects (ServiceMonitor, PodMonitor, Probe):
agent.prometheusOperator.enabled, where global.capabilities.serviceMonitor says the operator's API
is served (common.serviceMonitor.enabled; auto: when the cluster serves monitoring.coreos.com/v1),
so one value tells every chart of the release whether the operator is there. Returns "true" or
nothing.
*/}}
{{- define "alloy.agent.operator" -}}
{{- if and (include "common.serviceMonitor.enabled" .) .Values.agent.enabled .Values.agent.prometheusOperator.enabled -}}true{{- end -}}
{{- end -}}

{{/*
Whether the agent loads PrometheusRules into Mimir's ruler (mimir.rules.kubernetes): while it reads
the operator's objects, with agent.prometheusOperator.rules.enabled, where
global.capabilities.prometheusRule says PrometheusRules are served.
*/}}
{{- define "alloy.agent.operatorRules" -}}
{{- $served := dig "capabilities" "prometheusRule" "auto" (.Values.global | default dict) -}}
{{- if and (include "common.capabilities.enabled" (dict "context" . "value" $served "path" "global.capabilities.prometheusRule" "api" "monitoring.coreos.com/v1")) (include "alloy.agent.operator" .) .Values.agent.prometheusOperator.rules.enabled -}}true{{- end -}}
{{- end -}}

{{/*
The agents form one Alloy cluster while they read the operator's objects: a Probe's targets belong
to no node, so the cluster shares them out (each probed by one agent), and only one agent of the
cluster writes the rules to Mimir. The peers find each other through the headless Service of
service.yaml; the gossip runs over the HTTP port 12345.
*/}}
{{- define "alloy.agent.clusterService" -}}
{{- include "alloy.name" (dict "context" . "component" "agent-cluster") -}}
{{- end -}}

{{/* The agent's command line: alloy.args, and the cluster flags while it reads the operator's objects. */}}
{{- define "alloy.agent.args" -}}
{{- include "alloy.args" . }}
{{- if include "alloy.agent.operator" . }}
- --cluster.enabled=true
- --cluster.join-addresses={{ include "alloy.agent.clusterService" . }}.{{ include "common.names.namespace" . }}.svc.cluster.local:12345
{{- end }}
{{- end -}}

{{/* The TLS Secret of the Faro Ingress: tls.secretName, else <fullname>-faro-tls. */}}
{{- define "alloy.faro.tlsSecretName" -}}
{{- .Values.gateway.faro.ingress.tls.secretName | default (printf "%s-tls" (include "alloy.name" (dict "context" . "component" "faro"))) -}}
{{- end -}}

{{/* NetworkPolicy rules shared by both workloads (indented for an ingress/egress list). */}}
{{/* Egress to one backend of the release. Usage: (dict "context" $ "name" "loki" "port" 3100) */}}
{{- define "alloy.networkPolicy.backend" }}
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ .name }}
              app.kubernetes.io/instance: {{ .context.Release.Name }}
      ports:
        - port: {{ .port }}
          protocol: TCP
{{- end }}
{{/* Ingress to 12345 from the Alloy pods of the release (and the monitoring namespaces). */}}
{{- define "alloy.networkPolicy.selfMonitoring" }}
    - from:
        - podSelector:
            matchLabels:
              {{- include "common.labels.matchLabels" (dict "context" .) | nindent 14 }}
        {{- with .Values.networkPolicy.monitoringNamespaceSelector }}
        - namespaceSelector:
            {{- toYaml . | nindent 12 }}
        {{- end }}
      ports:
        - port: 12345
          protocol: TCP
{{- end }}

{{/*
Alloy's rules that compare values (common.validate): in prod the gateway, the applications' only
telemetry endpoint, runs at least 2 replicas, and the image is pinned. Takes (dict "context" <chart
context> "prefix" <path prefix>); one message per broken rule.
*/}}
{{- define "alloy.validate" -}}
{{- $p := .prefix -}}
{{- $v := .context.Values -}}
{{- if and (eq ($v.global | default dict).env "prod") $v.gateway.enabled }}
{{- if $v.gateway.autoscaling.enabled }}
{{- if lt (int $v.gateway.autoscaling.minReplicas) 2 }}
{{ printf "%sgateway.autoscaling.minReplicas: must be at least 2 in prod: the gateway is the applications' only telemetry endpoint" $p }}
{{- end }}
{{- else if lt (int $v.gateway.replicas) 2 }}
{{ printf "%sgateway.replicas: must be at least 2 in prod: the gateway is the applications' only telemetry endpoint" $p }}
{{- end }}
{{- end }}
{{- include "common.validate.pinnedImage" (dict "context" .context "prefix" $p "path" "image" "image" $v.image) }}
{{- end -}}
