{{/*
The StatefulSet of a storage backend (Loki, Tempo, Mimir, Pyroscope) and its pieces. They read the
values every backend spells the same way: replicas, podLabels, podAnnotations, metrics.enabled,
serviceAccount.create, podSecurityContext, the scheduling keys, terminationGracePeriodSeconds,
image, securityContext, probes, resources, persistence and tmpSizeLimit.
*/}}

{{/*
The StatefulSet <fullname>: a ring of pods (common.workloads.ringSpec) with one container that reads
its config from the ConfigMap "configMap" (default <fullname>) mounted read-only at "configPath",
keeps its data at "dataPath" (the claim "data", or an emptyDir without persistence) and writes
scratch files to /tmp.
- the container: "container" (its name), "args", "ports" ({name, port} as for
  common.workloads.containerPorts), "env" (EnvVar objects; none: no env) and "volumeMounts" (more
  mounts, between the config and the data); the image, security context, probes and resources
  come from the values.
- volumes: more Volume objects, after the config. The scratch volumes (common.workloads.tmpVolume
  and dataVolume) follow in the order "scratch" names (default data, tmp): the order of the
  volumes is part of the pod template, where a change rolls the pods, so each chart keeps its own.
- checksums and metricsPort as for common.workloads.podMetadata; enableServiceLinks as for
  common.workloads.podSpec; typeMeta as for common.workloads.claimTemplates.
Usage: {{ include "common.workloads.statefulset" (dict "context" $ "configPath" "/etc/loki/config" "dataPath" "/var/loki" "container" "loki" "args" $args "ports" $ports "env" $env "checksums" (dict "config" (include "loki.config" $)) "metricsPort" 3100) }}
*/}}
{{- define "common.workloads.statefulset" -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  {{- include "common.metadata" (dict "context" .context "name" (include "common.names.fullname" .context)) | nindent 2 }}
spec:
  {{- include "common.workloads.ringSpec" (dict "context" .context "replicas" .context.Values.replicas) | nindent 2 }}
  template:
    metadata:
      {{- include "common.workloads.podMetadata" (dict "context" .context "container" .container "metricsPort" .metricsPort "checksums" .checksums) | nindent 6 }}
    spec:
      {{- include "common.workloads.podSpec" (pick . "context" "enableServiceLinks") | nindent 6 }}
      containers:
        - name: {{ .container }}
          {{- include "common.workloads.containerRuntime" (dict "context" .context) | nindent 10 }}
          args:
            {{- toYaml .args | nindent 12 }}
          ports:
            {{- include "common.workloads.containerPorts" .ports | nindent 12 }}
          {{- with .env }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- include "common.workloads.containerHealth" (dict "context" .context) | nindent 10 }}
          volumeMounts:
            - name: config
              mountPath: {{ .configPath }}
              readOnly: true
            {{- with .volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            - name: data
              mountPath: {{ .dataPath }}
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: config
          configMap:
            name: {{ .configMap | default (include "common.names.fullname" .context) }}
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- range .scratch | default (list "data" "tmp") }}
        {{- include (printf "common.workloads.%sVolume" .) (dict "context" $.context) | nindent 8 }}
        {{- end }}
  {{- include "common.workloads.claimTemplates" (dict "context" .context "typeMeta" .typeMeta) | nindent 2 }}
{{- end -}}

{{/*
The StatefulSet spec of a ring: every replica starts at once (a ring with a replication factor,
or a Raft group, needs its peers up before any of them is ready), behind the headless Service.
Usage: {{- include "common.workloads.ringSpec" (dict "context" $ "replicas" .Values.replicas) | nindent 2 }}
*/}}
{{- define "common.workloads.ringSpec" -}}
replicas: {{ .replicas }}
serviceName: {{ include "common.memberlist.headlessName" . }}
podManagementPolicy: Parallel
updateStrategy:
  type: RollingUpdate
revisionHistoryLimit: 5
selector:
  matchLabels:
    {{- include "common.labels.matchLabels" (dict "context" .context) | nindent 4 }}
{{- end -}}

{{/*
The pod template's metadata: the standard labels and annotations plus podLabels and
podAnnotations, one checksum annotation per entry of "checksums" (the config itself, not the whole
ConfigMap, so a chart version bump alone does not roll the pods), the default container and, with
metrics.enabled, the prometheus.io/* scrape annotations for "metricsPort" at /metrics.
Usage: {{- include "common.workloads.podMetadata" (dict "context" $ "container" "loki" "metricsPort" 3100 "checksums" (dict "config" (include "loki.config" $))) | nindent 6 }}
*/}}
{{- define "common.workloads.podMetadata" -}}
{{- $v := .context.Values -}}
labels:
  {{- include "common.labels.standard" (dict "context" .context) | nindent 2 }}
  {{- with $v.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  {{- include "common.annotations.standard" (dict "context" .context "extra" $v.podAnnotations) | nindent 2 }}
  {{- range $key, $value := .checksums }}
  {{- include "common.checksums.value" (dict "key" $key "value" $value) | nindent 2 }}
  {{- end }}
  kubectl.kubernetes.io/default-container: {{ .container }}
  {{- if $v.metrics.enabled }}
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ .metricsPort | quote }}
  prometheus.io/path: /metrics
  {{- end }}
{{- end -}}

{{/*
The pod spec up to its containers: the ServiceAccount (<fullname>, or "default" without
serviceAccount.create) with no token mounted (no backend calls the Kubernetes API), image pull
Secrets, the restricted pod security context, scheduling and the shutdown grace period. Pass
"enableServiceLinks" false to keep the Service environment variables out of the pod.
Usage: {{- include "common.workloads.podSpec" (dict "context" $ "enableServiceLinks" false) | nindent 6 }}
*/}}
{{- define "common.workloads.podSpec" -}}
{{- $v := .context.Values -}}
serviceAccountName: {{ ternary (include "common.names.fullname" .context) "default" $v.serviceAccount.create }}
automountServiceAccountToken: false
{{- if hasKey . "enableServiceLinks" }}
enableServiceLinks: {{ .enableServiceLinks }}
{{- end }}
{{- with include "common.images.pullSecrets" .context }}
{{ . }}
{{- end }}
securityContext:
  {{- include "common.securityContext.pod" (dict "context" .context "override" $v.podSecurityContext) | nindent 2 }}
{{- include "common.affinities.scheduling" (dict "context" .context "values" $v) }}
terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
{{- end -}}

{{/*
How the main container runs: its image, pull policy and the restricted container security context.
Usage: {{- include "common.workloads.containerRuntime" (dict "context" $) | nindent 10 }}
*/}}
{{- define "common.workloads.containerRuntime" -}}
{{- $v := .context.Values -}}
image: {{ include "common.images.image" (dict "image" $v.image "context" .context) }}
imagePullPolicy: {{ $v.image.pullPolicy }}
securityContext:
  {{- include "common.securityContext.container" (dict "context" .context "override" $v.securityContext) | nindent 2 }}
{{- end -}}

{{/*
The main container's probes (probes.liveness, probes.readiness) and resources.
Usage: {{- include "common.workloads.containerHealth" (dict "context" $) | nindent 10 }}
*/}}
{{- define "common.workloads.containerHealth" -}}
{{- $v := .context.Values -}}
{{- with include "common.probes.probe" (dict "name" "livenessProbe" "probe" $v.probes.liveness) }}
{{ . }}
{{- end }}
{{- with include "common.probes.probe" (dict "name" "readinessProbe" "probe" $v.probes.readiness) }}
{{ . }}
{{- end }}
resources:
  {{- toYaml $v.resources | nindent 2 }}
{{- end -}}

{{/*
The writable /tmp (an emptyDir of tmpSizeLimit): the root filesystem is read-only. A list item.
Usage: {{- include "common.workloads.tmpVolume" (dict "context" $) | nindent 8 }}
*/}}
{{- define "common.workloads.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .context.Values.tmpSizeLimit }}
{{- end -}}

{{/*
Without persistence, the data volume as an emptyDir of persistence.emptyDirSizeLimit (unbounded
when empty), lost with the pod; with persistence nothing (the claim template provides "data").
Usage: {{- include "common.workloads.dataVolume" (dict "context" $) | nindent 8 }}
*/}}
{{- define "common.workloads.dataVolume" -}}
{{- $p := .context.Values.persistence -}}
{{- if not $p.enabled -}}
- name: data
  {{- with $p.emptyDirSizeLimit }}
  emptyDir:
    sizeLimit: {{ . }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
volumeClaimTemplates with one claim "data" per replica, when persistence.enabled: persistence =
{size, storageClass ("-" asks for no class), accessModes (default [ReadWriteOnce]), annotations}.
A StatefulSet's claim templates cannot change after creation, so only stable fields go in, and
"typeMeta" true keeps apiVersion and kind in the claim for the charts whose StatefulSets were
created with them.
Usage: {{- include "common.workloads.claimTemplates" (dict "context" $ "typeMeta" true) | nindent 2 }}
*/}}
{{- define "common.workloads.claimTemplates" -}}
{{- $p := .context.Values.persistence -}}
{{- if $p.enabled -}}
volumeClaimTemplates:
  - {{- if .typeMeta }}
    apiVersion: v1
    kind: PersistentVolumeClaim
    {{- end }}
    metadata:
      name: data
      labels:
        {{- include "common.labels.matchLabels" (dict "context" .context) | nindent 8 }}
      {{- with $p.annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      accessModes:
        {{- toYaml ($p.accessModes | default (list "ReadWriteOnce")) | nindent 8 }}
      {{- with $p.storageClass }}
      storageClassName: {{ ternary "" . (eq . "-") | quote }}
      {{- end }}
      resources:
        requests:
          storage: {{ $p.size }}
{{- end }}
{{- end -}}

{{/*
Container ports from a list of {name, port}, all TCP, in the order given. Renders list items.
Usage: {{- include "common.workloads.containerPorts" (list (dict "name" "http" "port" 3100) (dict "name" "grpc" "port" 9095)) | nindent 12 }}
*/}}
{{- define "common.workloads.containerPorts" -}}
{{- range . }}
- name: {{ .name }}
  containerPort: {{ .port }}
  protocol: TCP
{{- end }}
{{- end -}}
