{{- /*
Configuration fragments of the node agent. The agent only looks at its own node: its pod and
node discoveries carry a field selector on the node name (NODE_NAME, from the downward API).
*/ -}}

{{/* The namespaces whose annotated pods are scraped: agent.metrics.namespaces, else the release's. */}}
{{- define "alloy.agent.metricsNamespaces" -}}
{{- $names := .Values.agent.metrics.namespaces | default (list (include "common.names.namespace" .)) -}}
{{- toYaml (dict "names" $names) -}}
{{- end -}}

{{/* The namespaces the pod discovery watches, as YAML {names: [...]}; empty names: all namespaces. */}}
{{- define "alloy.agent.discoveryNamespaces" -}}
{{- $a := .Values.agent -}}
{{- $metrics := (fromYaml (include "alloy.agent.metricsNamespaces" .)).names -}}
{{- $names := list -}}
{{- if $a.logs.enabled -}}
{{- if $a.logs.namespaces -}}
{{- $names = $a.logs.namespaces -}}
{{- if $a.metrics.enabled -}}
{{- $names = concat $names $metrics | uniq -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $names = $metrics -}}
{{- end -}}
{{- /* kube-state-metrics runs in the release namespace: a namespace list must hold it. */ -}}
{{- if and $names $a.kubeStateMetrics.enabled -}}
{{- $names = append $names (include "common.names.namespace" .) | uniq -}}
{{- end -}}
{{- toYaml (dict "names" $names) -}}
{{- end -}}

{{/*
The namespaces that get a Role (role.yaml), as YAML {names: [...]}: those of the pod discovery when
it lists them, and while the agent reads the operator's objects, those of agent.metrics.namespaces.
*/}}
{{- define "alloy.agent.roleNamespaces" -}}
{{- $names := (fromYaml (include "alloy.agent.discoveryNamespaces" .)).names -}}
{{- if include "alloy.agent.operator" . -}}
{{- $names = concat $names (fromYaml (include "alloy.agent.metricsNamespaces" .)).names | uniq -}}
{{- end -}}
{{- toYaml (dict "names" $names) -}}
{{- end -}}

{{/* A relabel rule that keeps the targets of the given namespaces (skipped for an empty list). */}}
{{- define "alloy.config.keepNamespaces" -}}
{{- $quoted := list -}}
{{- range . -}}
{{- $quoted = append $quoted (regexQuoteMeta .) -}}
{{- end -}}
rule {
  source_labels = ["__meta_kubernetes_namespace"]
  regex         = {{ join "|" $quoted | quote }}
  action        = "keep"
}
{{- end -}}

{{/* The pod labels every pod target gets: namespace, pod, app and component. */}}
{{- define "alloy.config.podLabelRules" -}}
rule {
  source_labels = ["__meta_kubernetes_namespace"]
  target_label  = "namespace"
}

rule {
  source_labels = ["__meta_kubernetes_pod_name"]
  target_label  = "pod"
}

rule {
  source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name", "__meta_kubernetes_pod_label_app"]
  separator     = ";"
  regex         = "^;*([^;]+)(;.*)?$"
  target_label  = "app"
}

rule {
  source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_component"]
  target_label  = "component"
}
{{- end -}}

{{/* Discovery of this node's pods, and of the node itself for the kubelet. */}}
{{- define "alloy.config.agent.discovery" -}}
{{- $namespaces := (fromYaml (include "alloy.agent.discoveryNamespaces" .)).names -}}
// The pods of this node: the field selector keeps the watch to them.
discovery.kubernetes "pods" {
  role = "pod"

  selectors {
    role  = "pod"
    field = "spec.nodeName=" + sys.env("NODE_NAME")
  }
  {{- with $namespaces }}

  namespaces {
    names = {{ include "alloy.fmt.list" . }}
  }
  {{- end }}
}
{{- if .Values.agent.kubelet.enabled }}

// This node, for its kubelet and cAdvisor.
discovery.kubernetes "nodes" {
  role = "node"

  selectors {
    role  = "node"
    field = "metadata.name=" + sys.env("NODE_NAME")
  }
}
{{- end }}
{{- end -}}

{{/*
The contract's attributes read from JSON log lines: for each entry the canonical attribute as a
top-level key, its label, and for timestamps the unix seconds (a Go template with sprig's toDate
parses RFC3339 with or without fraction and offset; a value that does not parse yields nothing).
*/}}
{{- define "alloy.config.agent.logContractStages" -}}
{{- $contract := (fromYaml (include "alloy.contract" .)).attributes -}}
{{- $expressions := list -}}
{{- $labels := list -}}
{{- range $contract -}}
{{- $expressions = append $expressions (list .label (printf "`%q`" .attribute)) -}}
{{- $labels = append $labels (list .label "\"\"") -}}
{{- if .timestamp -}}
{{- $labels = append $labels (list (printf "%s_unix" .label) "\"\"") -}}
{{- end -}}
{{- end -}}
// The contract's attributes, when a JSON log line carries them as top-level keys.
stage.json {
  expressions = {{ include "alloy.fmt.object" (dict "pairs" $expressions) | indent 2 | trim }}
}
{{- range $contract }}
{{- if .timestamp }}

stage.template {
  source   = {{ printf "%s_unix" .label | quote }}
  template = `{{ printf "{{ with .%s }}{{ $t := toDate %q . }}{{ if gt $t.Unix 0 }}{{ $t.Unix }}{{ end }}{{ end }}" .label "2006-01-02T15:04:05Z07:00" }}`
}
{{- end }}
{{- end }}

stage.labels {
  values = {{ include "alloy.fmt.object" (dict "pairs" $labels) | indent 2 | trim }}
}
{{- end -}}

{{/* Pod logs through the Kubernetes API (loki.source.kubernetes): no hostPath, no root. */}}
{{- define "alloy.config.agent.podLogs" -}}
{{- $a := .Values.agent -}}
// Pod logs of this node, read through the Kubernetes API.
discovery.relabel "pod_logs" {
  targets = discovery.kubernetes.pods.targets
  {{- if and $a.logs.namespaces $a.metrics.enabled }}

  {{ include "alloy.config.keepNamespaces" $a.logs.namespaces | indent 2 | trim }}
  {{- end }}

  rule {
    source_labels = ["__meta_kubernetes_pod_phase"]
    regex         = "Pending"
    action        = "drop"
  }

  {{ include "alloy.config.podLabelRules" . | indent 2 | trim }}

  rule {
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }

  rule {
    source_labels = ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "job"
  }
}

loki.source.kubernetes "pods" {
  targets    = discovery.relabel.pod_logs.output
  forward_to = [loki.process.pod_logs.receiver]
}

loki.process "pod_logs" {
  forward_to = [loki.process.contract.receiver]

  // instance (namespace/pod:container) repeats three labels: one label less per stream.
  stage.label_drop {
    values = ["instance"]
  }
  {{- if and $a.logs.parseJson (fromYaml (include "alloy.contract" .)).attributes }}

  {{ include "alloy.config.agent.logContractStages" . | indent 2 | trim }}
  {{- end }}
}
{{- end -}}

{{/*
While the agent reads ServiceMonitors, the annotation job leaves out this release's pods that a
ServiceMonitor of the release covers (agent.prometheusOperator.serviceMonitorCharts names them by
app.kubernetes.io/name), so each is scraped once, through its ServiceMonitor. Other pods (Alloy's
own, which have none) keep their annotations. Nothing while the operator's objects are not read.
*/}}
{{- define "alloy.config.agent.coveredPods" -}}
{{- $charts := .Values.agent.prometheusOperator.serviceMonitorCharts -}}
{{- if and (include "alloy.agent.operator" .) $charts -}}
{{- $quoted := list -}}
{{- range $charts -}}
{{- $quoted = append $quoted (regexQuoteMeta .) -}}
{{- end -}}
// Scraped through their ServiceMonitor instead: this release's pods of {{ join ", " $charts }}.
rule {
  source_labels = ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_label_app_kubernetes_io_instance", "__meta_kubernetes_pod_label_app_kubernetes_io_name"]
  separator     = ";"
  regex         = {{ printf "%s;%s;(%s)" (regexQuoteMeta (include "common.names.namespace" .)) (regexQuoteMeta .Release.Name) (join "|" $quoted) | quote }}
  action        = "drop"
}
{{- end -}}
{{- end -}}

{{/* Pods that ask to be scraped through the prometheus.io/* annotations. */}}
{{- define "alloy.config.agent.podMetrics" -}}
{{- $m := .Values.agent.metrics -}}
// Pods of this node annotated prometheus.io/scrape: "true" (port, path and scheme from
// prometheus.io/port|path|scheme). Without a port annotation every declared port is scraped.
discovery.relabel "pod_metrics" {
  targets = discovery.kubernetes.pods.targets

  rule {
    source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"]
    regex         = "true"
    action        = "keep"
  }

  {{ include "alloy.config.keepNamespaces" (fromYaml (include "alloy.agent.metricsNamespaces" .)).names | indent 2 | trim }}
  {{- with include "alloy.config.agent.coveredPods" . }}

  {{ . | indent 2 | trim }}
  {{- end }}

  rule {
    source_labels = ["__meta_kubernetes_pod_phase"]
    regex         = "Running"
    action        = "keep"
  }

  rule {
    source_labels = ["__meta_kubernetes_pod_container_init"]
    regex         = "true"
    action        = "drop"
  }

  rule {
    source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_scheme"]
    regex         = "(https?)"
    target_label  = "__scheme__"
  }

  rule {
    source_labels = ["__meta_kubernetes_pod_annotation_prometheus_io_path"]
    regex         = "(.+)"
    target_label  = "__metrics_path__"
  }

  // IPv4 and IPv6 pod addresses with the annotated port.
  rule {
    source_labels = ["__meta_kubernetes_pod_ip", "__meta_kubernetes_pod_annotation_prometheus_io_port"]
    regex         = "([^:]+);([0-9]+)"
    replacement   = "$1:$2"
    target_label  = "__address__"
  }

  rule {
    source_labels = ["__meta_kubernetes_pod_ip", "__meta_kubernetes_pod_annotation_prometheus_io_port"]
    regex         = "(.+:.+);([0-9]+)"
    replacement   = "[$1]:$2"
    target_label  = "__address__"
  }

  // Pod-level labels only: the per-port targets of one pod collapse into one scrape.
  {{ include "alloy.config.podLabelRules" . | indent 2 | trim }}
}

prometheus.scrape "pods" {
  targets         = discovery.relabel.pod_metrics.output
  forward_to      = [prometheus.relabel.contract.receiver]
  job_name        = "kubernetes-pods"
  scrape_interval = {{ $m.scrapeInterval | quote }}
  scrape_timeout  = {{ $m.scrapeTimeout | quote }}
}
{{- end -}}

{{/* The namespaces of the operator's objects (the annotation job's), as an Alloy list. */}}
{{- define "alloy.config.agent.operatorNamespaces" -}}
{{- include "alloy.fmt.list" (fromYaml (include "alloy.agent.metricsNamespaces" .)).names -}}
{{- end -}}

{{/*
The Prometheus Operator's objects, read in the annotation job's namespaces and scraped into the
same contract relabel and remote write as every other series. ServiceMonitors and PodMonitors name
pods: each agent keeps the targets on its own node, so every pod is scraped by exactly one agent.
A Probe's target belongs to no node: the agents' cluster shares the Probe targets out instead.
*/}}
{{- define "alloy.config.agent.operatorMonitors" -}}
{{- $m := .Values.agent.metrics -}}
{{- $namespaces := include "alloy.config.agent.operatorNamespaces" . -}}
{{- $scrape := printf "scrape {\n    default_scrape_interval = %s\n    default_scrape_timeout  = %s\n  }" ($m.scrapeInterval | quote) ($m.scrapeTimeout | quote) -}}
{{- /* After the operator's own relabelling: the annotation job's pod labels (app, component...), so
the stack's alerts select a pod's series the same whichever way it is scraped. */ -}}
{{- $podLabels := include "alloy.config.podLabelRules" . | indent 2 | trim -}}
// ServiceMonitors: their Services' endpoints (EndpointSlices) on this node.
prometheus.operator.servicemonitors "services" {
  forward_to      = [prometheus.relabel.contract.receiver]
  namespaces      = {{ $namespaces }}
  kubernetes_role = "endpointslice"

  rule {
    source_labels = ["__meta_kubernetes_pod_node_name"]
    regex         = sys.env("NODE_NAME")
    action        = "keep"
  }

  {{ $podLabels }}

  {{ $scrape }}
}

// PodMonitors: their pods on this node.
prometheus.operator.podmonitors "pods" {
  forward_to = [prometheus.relabel.contract.receiver]
  namespaces = {{ $namespaces }}

  rule {
    source_labels = ["__meta_kubernetes_pod_node_name"]
    regex         = sys.env("NODE_NAME")
    action        = "keep"
  }

  {{ $podLabels }}

  {{ $scrape }}
}

// Probes: each target probed by one agent of the cluster.
prometheus.operator.probes "probes" {
  forward_to = [prometheus.relabel.contract.receiver]
  namespaces = {{ $namespaces }}

  clustering {
    enabled = true
  }

  {{ $scrape }}
}
{{- end -}}

{{/*
PrometheusRules into Mimir's ruler API, under the stack's tenant (none: Mimir's no-auth tenant).
Only the cluster's one leader writes. Rules are read from the annotation job's namespaces.
*/}}
{{- define "alloy.config.agent.operatorRules" -}}
{{- $r := .Values.agent.prometheusOperator.rules -}}
// PrometheusRules of the scraped namespaces, loaded into Mimir's ruler.
mimir.rules.kubernetes "rules" {
  address                = {{ tpl $r.address . | quote }}
  {{- with .Values.endpoints.tenantId }}
  tenant_id              = {{ tpl . $ | quote }}
  {{- end }}
  sync_interval          = {{ $r.syncInterval | quote }}
  mimir_namespace_prefix = {{ tpl $r.mimirNamespacePrefix . | quote }}

  rule_namespace_selector {
    match_labels = {}

    match_expression {
      key      = "kubernetes.io/metadata.name"
      operator = "In"
      values   = {{ include "alloy.config.agent.operatorNamespaces" . }}
    }
  }
}
{{- end -}}

{{/*
kube-state-metrics of this release: the pods behind its Service, on the Service's metrics port
(`agent.kubeStateMetrics.portName`), found by the pod discovery the agent already runs (so no RBAC
on services or endpoints). Each agent sees only the pods of its node, so each pod is scraped
once, by the agent of its node. honor_labels keeps the namespace, pod and container of the object a
series describes; the target adds no pod labels of its own, which would name kube-state-metrics'
pod on every series that has none (a Deployment's).
*/}}
{{- define "alloy.config.agent.kubeStateMetrics" -}}
{{- $k := .Values.agent.kubeStateMetrics -}}
{{- $m := .Values.agent.metrics -}}
{{- $match := list (include "common.names.namespace" .) $k.name .Release.Name $k.portName -}}
// kube-state-metrics of this release (the pods of Service {{ .Release.Name }}-{{ $k.name }}, port {{ $k.portName }}), when it runs on this node.
discovery.relabel "kube_state_metrics" {
  targets = discovery.kubernetes.pods.targets

  rule {
    source_labels = ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_label_app_kubernetes_io_name", "__meta_kubernetes_pod_label_app_kubernetes_io_instance", "__meta_kubernetes_pod_container_port_name"]
    separator     = ";"
    regex         = {{ $match | join ";" | quote }}
    action        = "keep"
  }

  rule {
    source_labels = ["__meta_kubernetes_pod_phase"]
    regex         = "Running"
    action        = "keep"
  }
}

prometheus.scrape "kube_state_metrics" {
  targets         = discovery.relabel.kube_state_metrics.output
  forward_to      = [prometheus.relabel.contract.receiver]
  job_name        = "kube-state-metrics"
  honor_labels    = true
  scrape_interval = {{ $m.scrapeInterval | quote }}
  scrape_timeout  = {{ $m.scrapeTimeout | quote }}
}
{{- end -}}

{{/*
One kubelet endpoint of this node: the kubelet's own metrics or cAdvisor's.
Usage: include "alloy.config.agent.kubeletJob" (dict "context" $ "name" "cadvisor" "path" "/metrics/cadvisor")
*/}}
{{- define "alloy.config.agent.kubeletJob" -}}
{{- $ctx := .context -}}
{{- $k := $ctx.Values.agent.kubelet -}}
{{- $m := $ctx.Values.agent.metrics -}}
discovery.relabel {{ .name | quote }} {
  targets = discovery.kubernetes.nodes.targets

  rule {
    source_labels = ["__meta_kubernetes_node_name"]
    target_label  = "node"
  }

  rule {
    source_labels = ["__meta_kubernetes_node_name"]
    target_label  = "instance"
  }
  {{- if $k.viaApiServer }}

  // Through the API server's node proxy (nodes/proxy), with its verified certificate.
  rule {
    target_label = "__address__"
    replacement  = "kubernetes.default.svc:443"
  }

  rule {
    source_labels = ["__meta_kubernetes_node_name"]
    regex         = "(.+)"
    replacement   = {{ printf "/api/v1/nodes/$1/proxy%s" .path | quote }}
    target_label  = "__metrics_path__"
  }
  {{- else }}

  rule {
    target_label = "__metrics_path__"
    replacement  = {{ .path | quote }}
  }
  {{- end }}
}

prometheus.scrape {{ .name | quote }} {
  targets           = discovery.relabel.{{ .name }}.output
  forward_to        = [prometheus.relabel.contract.receiver]
  job_name          = {{ .name | quote }}
  scheme            = "https"
  bearer_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token"
  scrape_interval   = {{ $m.scrapeInterval | quote }}
  scrape_timeout    = {{ $m.scrapeTimeout | quote }}

  tls_config {
    ca_file              = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    insecure_skip_verify = {{ and (not $k.viaApiServer) $k.insecureSkipVerify }}
  }
}
{{- end -}}

{{/* The kubelet and cAdvisor of this node, with the service account token. */}}
{{- define "alloy.config.agent.kubelet" -}}
// The kubelet of this node{{ if .Values.agent.kubelet.viaApiServer }}, through the API server{{ else }} on port 10250{{ end }}, authenticated by the service account token.
{{ include "alloy.config.agent.kubeletJob" (dict "context" . "name" "kubelet" "path" "/metrics") }}
{{- if .Values.agent.kubelet.cadvisor }}

// Container metrics from cAdvisor, built into the kubelet.
{{ include "alloy.config.agent.kubeletJob" (dict "context" . "name" "cadvisor" "path" "/metrics/cadvisor") }}
{{- end }}
{{- end -}}

{{/* The whole agent configuration. */}}
{{- define "alloy.config.agent" -}}
{{- $a := .Values.agent -}}
{{- $parts := list (include "alloy.config.logging" .) (include "alloy.config.agent.discovery" .) -}}
{{- if $a.logs.enabled -}}
{{- $parts = append $parts (include "alloy.config.agent.podLogs" .) -}}
{{- end -}}
{{- if $a.metrics.enabled -}}
{{- $parts = append $parts (include "alloy.config.agent.podMetrics" .) -}}
{{- end -}}
{{- if $a.kubelet.enabled -}}
{{- $parts = append $parts (include "alloy.config.agent.kubelet" .) -}}
{{- end -}}
{{- $operator := include "alloy.agent.operator" . -}}
{{- if $operator -}}
{{- $parts = append $parts (include "alloy.config.agent.operatorMonitors" .) -}}
{{- end -}}
{{- if include "alloy.agent.operatorRules" . -}}
{{- $parts = append $parts (include "alloy.config.agent.operatorRules" .) -}}
{{- end -}}
{{- if $a.kubeStateMetrics.enabled -}}
{{- $parts = append $parts (include "alloy.config.agent.kubeStateMetrics" .) -}}
{{- end -}}
{{- if or $a.metrics.enabled $a.kubelet.enabled $operator $a.kubeStateMetrics.enabled -}}
{{- $parts = append $parts (include "alloy.config.metricsOutput" .) -}}
{{- end -}}
{{- if $a.logs.enabled -}}
{{- $parts = append $parts (include "alloy.config.logsOutput" .) -}}
{{- end -}}
{{- $header := printf "// Keelson Alloy agent (%s), generated by the alloy chart: do not edit.\n// Environment %s, cluster %s." (include "alloy.name" (dict "context" . "component" "agent")) (include "common.environment.key" .) (include "alloy.cluster" .) -}}
{{- include "alloy.config.clean" (prepend $parts $header) -}}
{{- end -}}
