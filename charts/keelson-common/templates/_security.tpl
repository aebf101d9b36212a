{{/*
Security contexts that meet the Kubernetes "restricted" Pod Security Standard: non-root, no privilege
escalation, every capability dropped, the RuntimeDefault seccomp profile, and a read-only root
filesystem (write paths come from emptyDir volumes). A chart may merge overrides on top, e.g. a
node agent that must read host logs; such an override needs a comment that says why.
*/}}

{{/* Usage: include "common.securityContext.pod" (dict "context" $ "override" .Values.podSecurityContext) */}}
{{- define "common.securityContext.pod" -}}
{{- $global := .context.Values.global | default dict -}}
{{- $ids := $global.podSecurity | default dict -}}
{{- $base := dict
      "runAsNonRoot" true
      "runAsUser" ($ids.runAsUser | default 10001)
      "runAsGroup" ($ids.runAsGroup | default 10001)
      "fsGroup" ($ids.fsGroup | default 10001)
      "fsGroupChangePolicy" "OnRootMismatch"
      "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $base (deepCopy (.override | default dict))) -}}
{{- end -}}

{{/* Usage: include "common.securityContext.container" (dict "context" $ "override" .Values.securityContext) */}}
{{- define "common.securityContext.container" -}}
{{- $global := .context.Values.global | default dict -}}
{{- $ids := $global.podSecurity | default dict -}}
{{- $base := dict
      "runAsNonRoot" true
      "runAsUser" ($ids.runAsUser | default 10001)
      "runAsGroup" ($ids.runAsGroup | default 10001)
      "allowPrivilegeEscalation" false
      "privileged" false
      "readOnlyRootFilesystem" true
      "capabilities" (dict "drop" (list "ALL"))
      "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $base (deepCopy (.override | default dict))) -}}
{{- end -}}
