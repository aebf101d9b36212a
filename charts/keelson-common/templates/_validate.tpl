{{/*
Helm-native validation. Helm checks values.schema.json before it renders, but prints its own
generic wording and ignores a schema's errorMessage (helm/helm#12842), so the rules that compare
values (one value against another, or against the environment) are judged here, in the templates,
and nowhere else: `invoke check` reads the same messages out of helm's failure (keelson/
helmvalidation.py), so what an operator sees after a plain `helm install` and what the release tool
says cannot drift apart.

A chart's validator is a template taking (dict "context" <chart context> "prefix" <path prefix>)
that renders one message per broken rule, each on its own line: "<value path>: <what is wrong and
what is allowed>", the path as the user writes it (the prefix is "loki." under the umbrella, "" when
the chart is installed alone). A message never holds "; " (it joins them) and never a value that
could be secret. A validator never fails itself, so the render fails once, with every message.
*/}}

{{/*
Fail once with every message: the distinct lines of .messages, joined by "; " into one line (helm prints an
error on one line) after a lead that keelson/helmvalidation.py recognises. Nothing when there are none.
Usage: {{- include "common.validate" (dict "messages" (include "keelson.validate" .)) }}
*/}}
{{- define "common.validate" -}}
{{- $messages := list -}}
{{- range splitList "\n" .messages -}}
{{- if trim . -}}
{{- $messages = append $messages (trim .) -}}
{{- end -}}
{{- end -}}
{{- /* A rule on a global value is broken once, however many charts read it. */ -}}
{{- $messages = uniq $messages -}}
{{- if $messages -}}
{{- fail (printf "invalid values (%d): %s" (len $messages) (join "; " $messages)) -}}
{{- end -}}
{{- end -}}

{{/*
A chart's own validation, called once from the template of its workload. Under the keelson umbrella
the umbrella judges every chart in one go (keelson.validate, which reads each chart's values through
.Values.<chart>), because helm stops at the first template that fails: so here it renders nothing.
Installed alone, or under another parent, the chart fails with its own messages, the paths prefixed
with the chart names above it (from the template's base path, <root>/charts/<name>/templates).
Usage: {{- include "common.validate.chart" (dict "context" $ "validator" "loki.validate") }}
*/}}
{{- define "common.validate.chart" -}}
{{- $parts := splitList "/" .context.Template.BasePath -}}
{{- if not (and (eq (first $parts) "keelson") (eq (len $parts) 4)) -}}
{{- $prefix := "" -}}
{{- range $index, $part := $parts -}}
{{- if and $index (eq (index $parts (sub $index 1)) "charts") -}}
{{- $prefix = printf "%s%s." $prefix $part -}}
{{- end -}}
{{- end -}}
{{- include "common.validate" (dict "messages" (include .validator (dict "context" .context "prefix" $prefix))) -}}
{{- end -}}
{{- end -}}

{{/*
A ring whose replicationFactor is above its replicas: every write needs that many replicas, so it
could never succeed. "why" says what the program needs the copies for.
Usage: {{- include "common.validate.replicationFactor" (dict "context" .context "prefix" .prefix "why" "every write needs that many replicas") }}
*/}}
{{- define "common.validate.replicationFactor" -}}
{{- $v := .context.Values -}}
{{- if gt (int $v.replicationFactor) (int $v.replicas) }}
{{ printf "%sreplicationFactor: must be at most %sreplicas (%d), %s" .prefix .prefix (int $v.replicas) .why }}
{{- end }}
{{- end -}}

{{/*
The storage rules of a backend (Loki, Tempo, Mimir, Pyroscope), on the effective storage
(common.storage: the chart's own storage.*, else global.storage.*):
- filesystem lives on one pod's volume: one replica (and, with "replicationFactor" true, factor 1);
- s3 needs the backend's own bucket, an endpoint and the name of the Secret with the credentials;
- prod needs s3 (a prod gate: filesystem storage is not for production).
"program" names the backend in the bucket message.
Usage: {{- include "common.validate.storage" (dict "context" .context "prefix" .prefix "program" "Loki" "bucket" .context.Values.storage.s3.bucket "replicationFactor" true) }}
*/}}
{{- define "common.validate.storage" -}}
{{- $p := .prefix -}}
{{- $v := .context.Values -}}
{{- $storage := fromYaml (include "common.storage" (dict "context" .context "bucket" .bucket)) -}}
{{- $env := ($v.global | default dict).env -}}
{{- /* A chart with an empty storage.backend follows global.storage: a missing setting is the global one's. */ -}}
{{- $followsGlobal := not ($v.storage | default dict).backend -}}
{{- $secret := "the name of an existing Secret with the keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" -}}
{{- $endpoint := "the endpoint as host[:port], e.g. s3.eu-west-1.amazonaws.com" -}}
{{- if eq $storage.backend "s3" }}
{{- if not $storage.s3.bucket }}
{{ printf "%sstorage.s3.bucket: is required when the storage backend is s3: %s's own bucket, never shared with another backend" $p .program }}
{{- end }}
{{- if and (not $storage.s3.endpoint) $followsGlobal }}
{{ printf "global.storage.s3.endpoint: is required when global.storage.backend is s3: %s" $endpoint }}
{{- else if not $storage.s3.endpoint }}
{{ printf "%sstorage.s3.endpoint: is required when %sstorage.backend is s3 (or set global.storage.s3.endpoint): %s" $p $p $endpoint }}
{{- end }}
{{- if and (not $storage.s3.existingSecret) $followsGlobal }}
{{ printf "global.storage.s3.existingSecret: is required when global.storage.backend is s3: %s" $secret }}
{{- else if not $storage.s3.existingSecret }}
{{ printf "%sstorage.s3.existingSecret: is required when %sstorage.backend is s3 (or set global.storage.s3.existingSecret): %s" $p $p $secret }}
{{- end }}
{{- else }}
{{- if and (eq $env "prod") $followsGlobal }}
global.storage.backend: must be s3 in prod: filesystem storage is not for production
{{- else if eq $env "prod" }}
{{ printf "%sstorage.backend: must be s3 in prod, or empty to follow global.storage.backend: filesystem storage is not for production" $p }}
{{- end }}
{{- if gt (int $v.replicas) 1 }}
{{ printf "%sreplicas: must be 1 while the storage backend is filesystem (it is %d): more replicas need global.storage.backend s3 (or %sstorage.backend s3)" $p (int $v.replicas) $p }}
{{- end }}
{{- if and .replicationFactor (gt (int $v.replicationFactor) 1) }}
{{ printf "%sreplicationFactor: must be 1 while the storage backend is filesystem (it is %d): replication needs global.storage.backend s3 (or %sstorage.backend s3)" $p (int $v.replicationFactor) $p }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Every rule a storage backend shares: storage (common.validate.storage), a pinned image in prod and,
when "replication" says why copies are needed, a replicationFactor of at most replicas.
Usage: {{- include "common.validate.backend" (dict "context" .context "prefix" .prefix "program" "Tempo" "replication" "every span needs that many ingesters") }}
*/}}
{{- define "common.validate.backend" -}}
{{- $v := .context.Values -}}
{{- include "common.validate.storage" (dict "context" .context "prefix" .prefix "program" .program "bucket" $v.storage.s3.bucket "replicationFactor" (hasKey . "replication")) }}
{{- include "common.validate.pinnedImage" (dict "context" .context "prefix" .prefix "path" "image" "image" $v.image) }}
{{- if hasKey . "replication" }}
{{- include "common.validate.replicationFactor" (dict "context" .context "prefix" .prefix "why" .replication) }}
{{- end }}
{{- end -}}

{{/*
In prod an image is pinned: a semantic version tag (1.2.3, v1.2.3), or a digest with an empty tag
(a prod gate, KEEL001/KEEL002, judged here from the values). "path" is the image's value path
without the prefix (image, components.backend.image).
Usage: {{- include "common.validate.pinnedImage" (dict "context" .context "prefix" .prefix "path" "image" "image" .context.Values.image) }}
*/}}
{{- define "common.validate.pinnedImage" -}}
{{- $env := (.context.Values.global | default dict).env -}}
{{- $tag := toString ((.image | default dict).tag | default "") -}}
{{- if and (eq $env "prod") (not (regexMatch "^(v?[0-9]+\\.[0-9]+\\.[0-9]+([-+][0-9A-Za-z.-]+)?)?$" $tag)) }}
{{ printf "%s%s.tag: must be a semantic version such as 1.2.3 or v1.2.3 in prod, or empty with %s%s.digest set: 'latest' and moving tags are refused (gate KEEL001)" .prefix .path .prefix .path }}
{{- end }}
{{- end -}}
