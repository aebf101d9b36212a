{{/* Object name of the chart's objects: <release>-grafana (or fullnameOverride). */}}
{{- define "grafana.fullname" -}}
{{- include "common.names.fullname" . -}}
{{- end -}}

{{/* The TLS Secret of the Ingress: ingress.tls.secretName, else <release>-grafana-<environment>-tls. */}}
{{- define "grafana.tlsSecretName" -}}
{{- .Values.ingress.tls.secretName | default (printf "%s-%s-tls" (include "grafana.fullname" .) (include "common.environment.name" .)) -}}
{{- end -}}

{{/*
server.root_url: server.rootUrl when set, else the first ingress host (https when TLS is on),
else http://localhost:3000/ (kubectl port-forward).
*/}}
{{- define "grafana.rootUrl" -}}
{{- if .Values.server.rootUrl -}}
{{- .Values.server.rootUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- printf "%s://%s/" (ternary "https" "http" .Values.ingress.tls.enabled) (first .Values.ingress.hosts) -}}
{{- else -}}
http://localhost:3000/
{{- end -}}
{{- end -}}

{{/* Whether the pods may reach HTTPS (443) outside the cluster: OAuth needs its provider. */}}
{{- define "grafana.allowExternalHttps" -}}
{{- or .Values.oauth.enabled .Values.networkPolicy.allowExternalHttps -}}
{{- end -}}

{{/* Mount points, shared by grafana.ini ([paths]) and the Deployment's volumeMounts. */}}
{{- define "grafana.paths" -}}
data: /var/lib/grafana
plugins: /var/lib/grafana/plugins
logs: /var/log/grafana
provisioning: /etc/grafana/provisioning
dashboards: /var/lib/grafana-dashboards/keelson
{{- end -}}

{{/*
grafana.ini as a map section -> key -> value: what the chart sets, with .Values.config merged on
top. Secrets never appear here: they arrive as GF_* environment variables from existing Secrets.
*/}}
{{- define "grafana.iniMap" -}}
{{- $v := .Values -}}
{{- $paths := fromYaml (include "grafana.paths" .) -}}
{{- $rootUrl := include "grafana.rootUrl" . -}}
{{- $tls := and $v.ingress.enabled $v.ingress.tls.enabled -}}
{{- $ini := dict -}}
{{- $_ := set $ini "paths" (dict
      "data" $paths.data
      "plugins" $paths.plugins
      "logs" $paths.logs
      "provisioning" $paths.provisioning) -}}
{{- $_ := set $ini "server" (dict
      "http_port" "3000"
      "root_url" $rootUrl
      "domain" (regexReplaceAll "^[a-z]+://([^/:]+).*$" $rootUrl "${1}")
      "enforce_domain" "false") -}}
{{- $_ := set $ini "log" (dict "mode" "console" "level" $v.logLevel) -}}
{{- $_ := set $ini "analytics" (dict
      "reporting_enabled" "false"
      "check_for_updates" "false"
      "check_for_plugin_updates" "false"
      "feedback_links_enabled" "false") -}}
{{- $_ := set $ini "news" (dict "news_feed_enabled" "false") -}}
{{- $_ := set $ini "security" (dict
      "disable_gravatar" "true"
      "cookie_secure" (toString $tls)
      "cookie_samesite" "lax"
      "disable_initial_admin_creation" "false") -}}
{{- $_ := set $ini "users" (dict "allow_sign_up" "false" "allow_org_create" "false") -}}
{{- $_ := set $ini "auth.anonymous" (dict
      "enabled" (toString $v.anonymous.enabled)
      "org_role" $v.anonymous.orgRole) -}}
{{- $oauth := $v.oauth -}}
{{- $_ := set $ini "auth.generic_oauth" (dict "enabled" (toString $oauth.enabled)) -}}
{{- if $oauth.enabled -}}
{{- $_ := set $ini "auth.generic_oauth" (dict
      "enabled" "true"
      "name" $oauth.name
      "auth_url" $oauth.authUrl
      "token_url" $oauth.tokenUrl
      "api_url" $oauth.apiUrl
      "scopes" $oauth.scopes
      "role_attribute_path" $oauth.roleAttributePath
      "role_attribute_strict" (toString $oauth.roleAttributeStrict)
      "allow_sign_up" (toString $oauth.allowSignUp)
      "use_pkce" (toString $oauth.usePkce)
      "auto_login" (toString $oauth.autoLogin)) -}}
{{- end -}}
{{- $db := dict "type" $v.database.type -}}
{{- if eq $v.database.type "sqlite3" -}}
{{- $_ := set $db "path" "grafana.db" -}}
{{- else -}}
{{- $_ := set $db "host" (printf "%s:%v" $v.database.host $v.database.port) -}}
{{- $_ := set $db "name" $v.database.name -}}
{{- $_ := set $db "user" $v.database.user -}}
{{- $_ := set $db "ssl_mode" $v.database.sslMode -}}
{{- end -}}
{{- $_ := set $ini "database" $db -}}
{{- /* Sessions and the cache live in the database, so every replica shares them. */ -}}
{{- $_ := set $ini "remote_cache" (dict "type" "database") -}}
{{- /*
Unified alerting stays on (it is how Grafana shows Mimir's rules and Alertmanager), but no
Grafana-managed alert rules are provisioned or used: Mimir's ruler evaluates the alerts and Mimir's
Alertmanager routes them. With several replicas Grafana's own Alertmanager is not clustered, which
is harmless while it has no rules to notify for.
*/ -}}
{{- $_ := set $ini "unified_alerting" (dict "enabled" "true") -}}
{{- /*
Grafana 13 ships several data source plugins (loki, prometheus, ...) in the image's plugins-bundled
directory and, by default, "preinstalls" and auto-updates plugins from grafana.com at start. On a
read-only root filesystem an update cannot replace the bundled copy and the data source vanishes;
behind the NetworkPolicy grafana.com is unreachable anyway. The plugins of the pinned image are
used as they are: a new Grafana (and plugin) version is a new image tag.
*/ -}}
{{- $_ := set $ini "plugins" (dict "preinstall_disabled" "true" "preinstall_auto_update" "false") -}}
{{- $_ := set $ini "metrics" (dict "enabled" (toString $v.metrics.enabled)) -}}
{{- $merged := mergeOverwrite $ini (deepCopy ($v.config | default dict)) -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* grafana.ini rendered from grafana.iniMap: sections and keys in sorted order. */}}
{{- define "grafana.ini" -}}
{{- $ini := fromYaml (include "grafana.iniMap" .) -}}
# Rendered by the Keelson grafana chart. Secrets are not here: they arrive as GF_* environment
# variables from existing Secrets.
{{- range $section := keys $ini | sortAlpha }}
{{- $keys := get $ini $section }}

[{{ $section }}]
{{- range $key := keys $keys | sortAlpha }}
{{ $key }} = {{ get $keys $key }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Data source provisioning. Fixed uids (mimir, loki, tempo, pyroscope, alertmanager) so dashboards
and links name them; cross-links appear only when their target is enabled. Grafana expands
environment variables in provisioning files, so a literal "$" is written "$$".
*/}}
{{- define "grafana.datasources" -}}
{{- $ds := .Values.datasources -}}
apiVersion: 1
# Remove provisioned data sources that are no longer in this file.
prune: true
datasources:
{{- if $ds.mimir.enabled }}
  - name: Mimir
    uid: mimir
    type: prometheus
    access: proxy
    url: {{ tpl $ds.mimir.url . | quote }}
    isDefault: true
    editable: false
    jsonData:
      prometheusType: Mimir
      httpMethod: POST
      timeInterval: {{ $ds.mimir.timeInterval | quote }}
      # Show the alert rules of Mimir's ruler (data source-managed rules) in Grafana Alerting.
      manageAlerts: true
      {{- if $ds.alertmanager.enabled }}
      alertmanagerUid: alertmanager
      {{- end }}
      {{- if $ds.tempo.enabled }}
      exemplarTraceIdDestinations:
        - name: {{ $ds.mimir.exemplarTraceIdLabel | quote }}
          datasourceUid: tempo
          urlDisplayLabel: View trace
      {{- end }}
{{- end }}
{{- if $ds.loki.enabled }}
  - name: Loki
    uid: loki
    type: loki
    access: proxy
    url: {{ tpl $ds.loki.url . | quote }}
    editable: false
    jsonData:
      maxLines: {{ $ds.loki.maxLines }}
      {{- if $ds.tempo.enabled }}
      derivedFields:
        # The trace id in the line. Alloy's otelcol.exporter.loki (the gateway, for OTLP logs) writes
        # it into its JSON line as "traceid":"<32 hex>", and puts it in no label or structured
        # metadata; applications' own lines use trace_id=..., traceID=... or "trace_id":"...".
        # Grafana runs the regex in the browser, case-sensitively: each spelling is listed.
        - name: trace_id
          matcherType: regex
          matcherRegex: '(?:traceid|trace_id|traceID)"?\s*[=:]\s*"?([0-9a-fA-F]{16,32})'
          datasourceUid: tempo
          url: "$${__value.raw}"
          urlDisplayLabel: View trace
      {{- end }}
{{- end }}
{{- if $ds.tempo.enabled }}
  - name: Tempo
    uid: tempo
    type: tempo
    access: proxy
    url: {{ tpl $ds.tempo.url . | quote }}
    editable: false
    jsonData:
      {{- if $ds.loki.enabled }}
      tracesToLogsV2:
        datasourceUid: loki
        spanStartTimeShift: -5m
        spanEndTimeShift: 5m
        filterByTraceID: true
        filterBySpanID: false
        tags:
          - key: service.name
            value: service_name
      lokiSearch:
        datasourceUid: loki
      {{- end }}
      {{- if $ds.mimir.enabled }}
      # Span metrics of Tempo's metrics-generator (remote-written to Mimir).
      tracesToMetrics:
        datasourceUid: mimir
        spanStartTimeShift: -5m
        spanEndTimeShift: 5m
        tags:
          - key: service.name
            value: service
        queries:
          - name: Request rate
            query: "sum(rate(traces_spanmetrics_calls_total{$$__tags}[5m]))"
          - name: Error rate
            query: "sum(rate(traces_spanmetrics_calls_total{$$__tags, status_code=\"STATUS_CODE_ERROR\"}[5m]))"
          - name: Duration p95
            query: "histogram_quantile(0.95, sum by (le) (rate(traces_spanmetrics_latency_bucket{$$__tags}[5m])))"
      serviceMap:
        datasourceUid: mimir
      {{- end }}
      {{- if $ds.pyroscope.enabled }}
      tracesToProfiles:
        datasourceUid: pyroscope
        profileTypeId: "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
        tags:
          - key: service.name
            value: service_name
      {{- end }}
      nodeGraph:
        enabled: true
      search:
        hide: false
      traceQuery:
        timeShiftEnabled: true
        spanStartTimeShift: -30m
        spanEndTimeShift: 30m
{{- end }}
{{- if $ds.pyroscope.enabled }}
  - name: Pyroscope
    uid: pyroscope
    type: grafana-pyroscope-datasource
    access: proxy
    url: {{ tpl $ds.pyroscope.url . | quote }}
    editable: false
{{- end }}
{{- if $ds.alertmanager.enabled }}
  - name: Alertmanager
    uid: alertmanager
    type: alertmanager
    access: proxy
    url: {{ tpl $ds.alertmanager.url . | quote }}
    editable: false
    jsonData:
      implementation: mimir
      # Grafana-managed alert rules are not used: Mimir's ruler carries alerting.
      handleGrafanaManagedAlerts: false
{{- end }}
{{- end -}}

{{/* The dashboard provider: the JSON files of the dashboards ConfigMap, read-only in Grafana. */}}
{{- define "grafana.dashboardProvider" -}}
apiVersion: 1
providers:
  - name: keelson
    orgId: 1
    type: file
    folder: {{ .Values.dashboards.folder | quote }}
    folderUid: keelson
    disableDeletion: true
    allowUiUpdates: false
    updateIntervalSeconds: {{ .Values.dashboards.updateIntervalSeconds }}
    options:
      path: {{ (fromYaml (include "grafana.paths" .)).dashboards }}
      foldersFromFilesStructure: false
{{- end -}}

{{/* The dashboards ConfigMap data: every dashboards/*.json file of the chart, by file name. */}}
{{- define "grafana.dashboards" -}}
{{- (.Files.Glob "dashboards/*.json").AsConfig -}}
{{- end -}}

{{/*
Credentials Grafana reads, as a YAML list of {env, secret, key}: every one comes from an existing
Secret (admin account, secret key, OAuth client, database login).
*/}}
{{- define "grafana.secretFiles" -}}
{{- $v := .Values -}}
{{- $files := list -}}
{{- with $v.admin.existingSecret -}}
{{- $files = append $files (dict "env" "GF_SECURITY_ADMIN_USER" "secret" . "key" $v.admin.userKey) -}}
{{- $files = append $files (dict "env" "GF_SECURITY_ADMIN_PASSWORD" "secret" . "key" $v.admin.passwordKey) -}}
{{- end -}}
{{- with $v.secretKey.existingSecret -}}
{{- $files = append $files (dict "env" "GF_SECURITY_SECRET_KEY" "secret" . "key" $v.secretKey.key) -}}
{{- end -}}
{{- if $v.oauth.enabled -}}
{{- $files = append $files (dict "env" "GF_AUTH_GENERIC_OAUTH_CLIENT_ID" "secret" $v.oauth.existingSecret "key" $v.oauth.clientIdKey) -}}
{{- $files = append $files (dict "env" "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET" "secret" $v.oauth.existingSecret "key" $v.oauth.clientSecretKey) -}}
{{- end -}}
{{- if ne $v.database.type "sqlite3" -}}
{{- if $v.database.userKey -}}
{{- $files = append $files (dict "env" "GF_DATABASE_USER" "secret" $v.database.existingSecret "key" $v.database.userKey) -}}
{{- end -}}
{{- $files = append $files (dict "env" "GF_DATABASE_PASSWORD" "secret" $v.database.existingSecret "key" $v.database.passwordKey) -}}
{{- end -}}
{{- toYaml (dict "files" $files) -}}
{{- end -}}

{{/* The distinct Secrets behind grafana.secretFiles, each mounted once under /etc/grafana/secrets/<name>. */}}
{{- define "grafana.secretNames" -}}
{{- $names := list -}}
{{- range (fromYaml (include "grafana.secretFiles" .)).files -}}
{{- $names = append $names .secret -}}
{{- end -}}
{{- toYaml (dict "names" ($names | uniq)) -}}
{{- end -}}

{{/*
Environment of the Grafana container. Credentials arrive as files from the mounted Secrets, named
by Grafana's `<VARIABLE>__FILE` convention, so no secret value sits in the process environment
(where `kubectl describe`, crash dumps and child processes would see it); then .Values.env.
*/}}
{{- define "grafana.env" -}}
{{- range (fromYaml (include "grafana.secretFiles" .)).files }}
- name: {{ .env }}__FILE
  value: /etc/grafana/secrets/{{ .secret }}/{{ .key }}
{{- end }}
{{- with .Values.env }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end -}}

{{/*
Grafana's rules that compare values (common.validate): logins outside dev, a shared database for
several replicas, a server database's host and Secret, OAuth's endpoints and Secret, a pinned image in
prod. Takes (dict "context" <chart context> "prefix" <path prefix>); one message per broken rule.
*/}}
{{- define "grafana.validate" -}}
{{- $p := .prefix -}}
{{- $v := .context.Values -}}
{{- $env := ($v.global | default dict).env -}}
{{- if has $env (list "staging" "prod") }}
{{- if $v.anonymous.enabled }}
{{ printf "%sanonymous.enabled: must be false in staging and prod: give people logins (OAuth) instead" $p }}
{{- end }}
{{- if not $v.admin.existingSecret }}
{{ printf "%sadmin.existingSecret: is required in staging and prod: the name of an existing Secret with admin-user and admin-password" $p }}
{{- end }}
{{- end }}
{{- $serverDatabase := has $v.database.type (list "postgres" "mysql") -}}
{{- if gt (int $v.replicas) 1 }}
{{- if not $serverDatabase }}
{{ printf "%sdatabase.type: must be postgres or mysql while %sreplicas is above 1: SQLite cannot be shared between replicas, and sessions live in the database" $p $p }}
{{- end }}
{{- if $v.persistence.enabled }}
{{ printf "%spersistence.enabled: must be false while %sreplicas is above 1: the volume holds SQLite for one replica, use the shared database" $p $p }}
{{- end }}
{{- end }}
{{- if $serverDatabase }}
{{- if not $v.database.host }}
{{ printf "%sdatabase.host: is required for postgres and mysql" $p }}
{{- end }}
{{- if not $v.database.existingSecret }}
{{ printf "%sdatabase.existingSecret: is required for postgres and mysql: the name of an existing Secret with the password" $p }}
{{- end }}
{{- end }}
{{- if $v.oauth.enabled }}
{{- range $key := list "authUrl" "tokenUrl" "apiUrl" }}
{{- if not (get $v.oauth $key) }}
{{ printf "%soauth.%s: is required when OAuth is enabled" $p $key }}
{{- end }}
{{- end }}
{{- if not $v.oauth.existingSecret }}
{{ printf "%soauth.existingSecret: is required when OAuth is enabled: the name of an existing Secret with the client id and secret" $p }}
{{- end }}
{{- end }}
{{- include "common.validate.pinnedImage" (dict "context" .context "prefix" $p "path" "image" "image" $v.image) }}
{{- end -}}
