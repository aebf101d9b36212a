{{/*
The memberlist ring of a storage backend. Every replica joins through one headless Service,
<fullname>-headless, labelled component "headless" (common.serviceMonitor leaves it out, so no pod
is scraped twice) and listing pods before they are ready (a new ring must form before readiness).
*/}}

{{/*
The name of the headless Service: <fullname>-headless.
Usage: {{ include "common.memberlist.headlessName" (dict "context" $) }}
*/}}
{{- define "common.memberlist.headlessName" -}}
{{- include "common.names.component" (dict "context" .context "component" "headless") -}}
{{- end -}}

{{/*
The fully qualified name of the headless Service, without the final dot:
<fullname>-headless.<namespace>.svc.<clusterDomain>.
Usage: {{ include "common.memberlist.headlessFqdn" (dict "context" $) }}
*/}}
{{- define "common.memberlist.headlessFqdn" -}}
{{- printf "%s.%s.svc.%s" (include "common.memberlist.headlessName" .) (include "common.names.namespace" .context) .context.Values.clusterDomain -}}
{{- end -}}

{{/*
The cluster label, <release>-<chart> cut to 63 characters: rings of different backends (or
releases) never cross-join, even when their pods can reach each other.
Usage: {{ include "common.memberlist.clusterLabel" (dict "context" $) }}
*/}}
{{- define "common.memberlist.clusterLabel" -}}
{{- printf "%s-%s" .context.Release.Name (include "common.names.name" .context) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The one join address: every replica behind the headless Service, port 7946 included.
Usage: {{ include "common.memberlist.join" (dict "context" $) }}
*/}}
{{- define "common.memberlist.join" -}}
{{- printf "dns+%s:7946" (include "common.memberlist.headlessFqdn" .) -}}
{{- end -}}

{{/*
The memberlist block of the program's config, as YAML (read it with fromYaml): cluster_label,
join_members and bind_port, plus any keys given as "extra".
Usage: "memberlist" (fromYaml (include "common.memberlist.config" (dict "context" . "extra" (dict "abort_if_cluster_join_fails" false))))
*/}}
{{- define "common.memberlist.config" -}}
{{- $config := dict
      "cluster_label" (include "common.memberlist.clusterLabel" .)
      "join_members" (list (include "common.memberlist.join" .))
      "bind_port" 7946 -}}
{{- toYaml (mergeOverwrite $config (.extra | default dict)) -}}
{{- end -}}

{{/*
The headless Service. "ports" are the named container ports it lists (memberlist 7946 always among
them), as for common.service.ports.
Usage: {{ include "common.memberlist.headlessService" (dict "context" $ "ports" (list (dict "name" "grpc" "port" 9095) (dict "name" "memberlist" "port" 7946))) }}
*/}}
{{- define "common.memberlist.headlessService" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "common.metadata" (dict "context" .context "name" (include "common.memberlist.headlessName" .) "component" "headless") | nindent 2 }}
spec:
  type: ClusterIP
  clusterIP: None
  # Replicas must find each other before they are ready: readiness waits for the ring.
  publishNotReadyAddresses: true
  selector:
    {{- include "common.labels.matchLabels" (dict "context" .context) | nindent 4 }}
  ports:
    {{- include "common.service.ports" (dict "ports" .ports) | nindent 4 }}
{{- end -}}
