{{/*
Object storage of a storage backend (Loki, Tempo, Mimir, Pyroscope). The umbrella states the object
store once in global.storage; each chart's own storage.* wins key by key where it is set (non-empty;
a boolean for insecure and forcePathStyle), else global.storage.*, else the default (filesystem,
HTTPS, virtual-hosted addressing, the Secret keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). The
bucket and the prefix are never global: each backend passes its own. The result is YAML, read it
with fromYaml: {backend, s3: {endpoint, region, bucket, insecure, forcePathStyle, existingSecret,
accessKeyIdKey, secretAccessKeyKey}}, plus "prefix" when one is passed. Every template of a backend
reads this, never .Values.storage.backend or .Values.storage.s3 directly.
Usage: {{- $storage := fromYaml (include "common.storage" (dict "context" $ "bucket" .Values.storage.s3.bucket "prefix" .Values.storage.prefix)) }}
*/}}
{{- define "common.storage" -}}
{{- $own := .context.Values.storage | default dict -}}
{{- $ownS3 := $own.s3 | default dict -}}
{{- $global := (.context.Values.global | default dict).storage | default dict -}}
{{- $globalS3 := $global.s3 | default dict -}}
{{- $s3 := dict
      "endpoint" (coalesce $ownS3.endpoint $globalS3.endpoint | default "")
      "region" (coalesce $ownS3.region $globalS3.region | default "")
      "bucket" (.bucket | default "")
      "existingSecret" (coalesce $ownS3.existingSecret $globalS3.existingSecret | default "")
      "accessKeyIdKey" (coalesce $ownS3.accessKeyIdKey "AWS_ACCESS_KEY_ID")
      "secretAccessKeyKey" (coalesce $ownS3.secretAccessKeyKey "AWS_SECRET_ACCESS_KEY") -}}
{{- range $key := list "insecure" "forcePathStyle" -}}
{{- $value := false -}}
{{- if kindIs "bool" (get $ownS3 $key) -}}
{{- $value = get $ownS3 $key -}}
{{- else if kindIs "bool" (get $globalS3 $key) -}}
{{- $value = get $globalS3 $key -}}
{{- end -}}
{{- $_ := set $s3 $key $value -}}
{{- end -}}
{{- $storage := dict "backend" (coalesce $own.backend $global.backend "filesystem") "s3" $s3 -}}
{{- if hasKey . "prefix" -}}
{{- $_ := set $storage "prefix" (.prefix | default "") -}}
{{- end -}}
{{- toYaml $storage -}}
{{- end -}}

{{/*
The S3 credentials as container environment variables, from the existing Secret and never from
values: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, which the program's config references as
${AWS_*} (-config.expand-env=true). Nothing with filesystem storage. Renders list items.
Usage: {{- include "common.storage.credentialsEnv" (dict "storage" $storage) | nindent 12 }}
where $storage is the fromYaml of common.storage.
*/}}
{{- define "common.storage.credentialsEnv" -}}
{{- if eq .storage.backend "s3" -}}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .storage.s3.existingSecret }}
      key: {{ .storage.s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .storage.s3.existingSecret }}
      key: {{ .storage.s3.secretAccessKeyKey }}
{{- end }}
{{- end -}}

{{/*
The S3 block of a program's config, as YAML (read it with fromYaml), from the fromYaml of
common.storage: the endpoint (rendered with tpl, so a global endpoint may name the release), the
region, the bucket, insecure, and the credentials as references to the variables that
common.storage.credentialsEnv sets (${AWS_ACCESS_KEY_ID}, ${AWS_SECRET_ACCESS_KEY}; the program
expands them with -config.expand-env=true). Each program spells the keys its own way: "keys" maps
bucket, forcePathStyle, accessKeyId and secretAccessKey to its names (defaults: bucket_name, no
forcePathStyle key, access_key_id, secret_access_key). "optionalRegion" leaves an empty region out.
Usage: {{- $s3 := fromYaml (include "common.storage.s3Config" (dict "context" . "storage" $storage "keys" (dict "bucket" "bucketnames" "forcePathStyle" "s3forcepathstyle"))) -}}
*/}}
{{- define "common.storage.s3Config" -}}
{{- $s3 := .storage.s3 -}}
{{- $keys := .keys | default dict -}}
{{- $config := dict
      "endpoint" (tpl $s3.endpoint .context)
      (get $keys "bucket" | default "bucket_name") $s3.bucket
      "insecure" $s3.insecure
      (get $keys "accessKeyId" | default "access_key_id") "${AWS_ACCESS_KEY_ID}"
      (get $keys "secretAccessKey" | default "secret_access_key") "${AWS_SECRET_ACCESS_KEY}" -}}
{{- if or $s3.region (not .optionalRegion) -}}
{{- $_ := set $config "region" $s3.region -}}
{{- end -}}
{{- with get $keys "forcePathStyle" -}}
{{- $_ := set $config . $s3.forcePathStyle -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
