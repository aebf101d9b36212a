{{/*
NetworkPolicy building blocks. Each rule renders as one list item of an ingress or egress list
(indent it with nindent); common.networkPolicy puts the rules of a workload into one object.
*/}}

{{/*
Egress to the cluster DNS (kube-dns in kube-system), UDP and TCP 53.
Usage: {{- include "common.networkPolicy.dnsEgress" $ | nindent 4 }}
*/}}
{{- define "common.networkPolicy.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}

{{/*
Egress to the Kubernetes API server, for a pod that calls the API with its token. The API server is
no pod, so its addresses are given as CIDRs (networkPolicy.apiServerCIDRs). Both 443 and 6443: the
policy sees the endpoint behind kubernetes.default (often 6443) after DNAT.
Usage: {{- include "common.networkPolicy.apiServerEgress" (dict "cidrs" .Values.networkPolicy.apiServerCIDRs) | nindent 4 }}
*/}}
{{- define "common.networkPolicy.apiServerEgress" -}}
- to:
    {{- range .cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    - port: 443
      protocol: TCP
    - port: 6443
      protocol: TCP
{{- end -}}

{{/*
Egress on HTTPS (443) to anything outside the cluster: an object store (S3) or another API out
there. The private, carrier-grade NAT and link-local ranges are left out, so this never opens a path
to a pod, a node or the cloud's metadata service; an in-cluster store needs its own rule.
Usage: {{- include "common.networkPolicy.externalHttpsEgress" $ | nindent 4 }}
*/}}
{{- define "common.networkPolicy.externalHttpsEgress" -}}
- to:
    - ipBlock:
        cidr: 0.0.0.0/0
        except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 169.254.0.0/16]
  ports:
    - port: 443
      protocol: TCP
{{- end -}}

{{/*
The other pods of this chart (memberlist and gRPC peers of a ring), in ("from") or out ("to"), on
the given TCP ports.
Usage: {{- include "common.networkPolicy.peers" (dict "context" $ "direction" "from" "ports" (list 7946 9095)) | nindent 4 }}
*/}}
{{- define "common.networkPolicy.peers" -}}
- {{ .direction }}:
    - podSelector:
        matchLabels:
          {{- include "common.labels.matchLabels" (dict "context" .context) | nindent 10 }}
  ports:
    {{- include "common.networkPolicy.ports" .ports | nindent 4 }}
{{- end -}}

{{/*
Ingress from the named charts of this release (their app.kubernetes.io/name) on the given TCP
ports; nothing when no chart is named.
Usage: {{- include "common.networkPolicy.clients" (dict "context" $ "charts" .Values.networkPolicy.clients "ports" (list 3100 9095)) | nindent 4 }}
*/}}
{{- define "common.networkPolicy.clients" -}}
{{- if .charts -}}
- from:
    - podSelector:
        matchLabels:
          app.kubernetes.io/instance: {{ .context.Release.Name }}
        matchExpressions:
          - key: app.kubernetes.io/name
            operator: In
            values:
              {{- toYaml .charts | nindent 14 }}
  ports:
    {{- include "common.networkPolicy.ports" .ports | nindent 4 }}
{{- end -}}
{{- end -}}

{{/*
Egress to one chart of this release (its app.kubernetes.io/name) on one TCP port.
Usage: {{- include "common.networkPolicy.chartEgress" (dict "context" $ "name" "mimir" "port" 8080) | nindent 4 }}
*/}}
{{- define "common.networkPolicy.chartEgress" -}}
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: {{ .name }}
          app.kubernetes.io/instance: {{ .context.Release.Name }}
  ports:
    - port: {{ .port }}
      protocol: TCP
{{- end -}}

{{/* TCP port entries of a rule. Usage: {{- include "common.networkPolicy.ports" (list 7946 9095) | nindent 4 }} */}}
{{- define "common.networkPolicy.ports" -}}
{{- range . }}
- port: {{ . }}
  protocol: TCP
{{- end }}
{{- end -}}

{{/*
The NetworkPolicy of the chart's pods (of one "component" when given): everything not listed is
denied, in and out. Egress to the cluster DNS is always allowed. "peerPorts" (the ports of a ring:
memberlist, gRPC, Raft) allows the chart's own pods to reach each other on them, in and out.
"ingress" and "egress" are lists of rendered rules (the blocks above; an empty string is skipped);
networkPolicy.extraIngress and networkPolicy.extraEgress of the values go last. Renders nothing
unless networkPolicy.enabled.
Usage: {{ include "common.networkPolicy" (dict "context" $ "networkPolicy" .Values.networkPolicy "peerPorts" (list 7946 9095) "ingress" (list $clients) "egress" (list $objectStore)) }}
*/}}
{{- define "common.networkPolicy" -}}
{{- if .networkPolicy.enabled -}}
{{- $ingress := .ingress | default list -}}
{{- $egress := list (include "common.networkPolicy.dnsEgress" .context) -}}
{{- with .peerPorts -}}
{{- $ingress = append $ingress (include "common.networkPolicy.peers" (dict "context" $.context "direction" "from" "ports" .)) -}}
{{- $egress = append $egress (include "common.networkPolicy.peers" (dict "context" $.context "direction" "to" "ports" .)) -}}
{{- end -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "common.metadata" (dict "context" .context "name" (.name | default (include "common.names.fullname" .context)) "component" .component) | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "common.labels.matchLabels" (dict "context" .context "component" .component) | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- range compact $ingress }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with .networkPolicy.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  egress:
    {{- range compact (concat $egress (.egress | default list)) }}
    {{- . | nindent 4 }}
    {{- end }}
    {{- with .networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end -}}
