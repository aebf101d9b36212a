{{/*
Service ports from a list of {name, port, appProtocol}: the target is the container port of the
same name, the protocol TCP. Renders list items.
Usage: {{- include "common.service.ports" (dict "ports" (list (dict "name" "http" "port" 3100) (dict "name" "grpc" "port" 9095))) | nindent 4 }}
*/}}
{{- define "common.service.ports" -}}
{{- range .ports }}
- name: {{ .name }}
  port: {{ .port }}
  targetPort: {{ .name }}
  protocol: TCP
  {{- with .appProtocol }}
  appProtocol: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
The client Service of a workload: <fullname> (or "name"), selecting the chart's pods (of one
"component" when given). service = {type, annotations}; ports as for common.service.ports.
Usage: {{ include "common.service" (dict "context" $ "service" .Values.service "ports" (list (dict "name" "http" "port" 3100))) }}
*/}}
{{- define "common.service" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "common.metadata" (dict "context" .context "name" (.name | default (include "common.names.fullname" .context)) "component" .component "annotations" .service.annotations) | nindent 2 }}
spec:
  type: {{ .service.type }}
  selector:
    {{- include "common.labels.matchLabels" (dict "context" .context "component" .component) | nindent 4 }}
  ports:
    {{- include "common.service.ports" (dict "ports" .ports) | nindent 4 }}
{{- end -}}
