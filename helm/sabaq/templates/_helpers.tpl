{{- define "sabaq.labels" -}}
app.kubernetes.io/name: sabaq
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "sabaq.secretName" -}}
{{- if .Values.secrets.name }}{{ .Values.secrets.name }}{{ else }}sabaq-secrets{{ end -}}
{{- end -}}

{{- define "sabaq.image" -}}
{{ .root.Values.image.registry }}/{{ .name }}:{{ .root.Values.image.tag }}
{{- end -}}

{{/* The environment every sabaq container gets: settings file and secrets. */}}
{{- define "sabaq.env" -}}
- name: SABAQ_CONFIG
  value: /usr/local/etc/sabaq/sabaq.toml
- name: SABAQ_DATA
  value: /tmp/sabaq
- name: SABAQ_DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ include "sabaq.secretName" . }}, key: database-url}}
- name: SABAQ_SERVICE_API_TOKEN
  valueFrom: {secretKeyRef: {name: {{ include "sabaq.secretName" . }}, key: service-api-token}}
- name: SABAQ_SERVICE_COOKIE_SECRET
  valueFrom: {secretKeyRef: {name: {{ include "sabaq.secretName" . }}, key: service-cookie-secret}}
- name: SABAQ_WORKER_TOKEN
  valueFrom: {secretKeyRef: {name: {{ include "sabaq.secretName" . }}, key: worker-token}}
- name: JUPYTERHUB_API_URL
  value: http://hub:8081/hub/api
- name: SABAQ_SERVICE_URL
  value: http://sabaq:{{ .Values.service.port }}
{{- with include "sabaq.subdomainHost" . }}
# users' servers have addresses of their own: sabaq's session cookie must be one they cannot set
- name: SABAQ_HUB_HOST
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The hub's subdomain_host (jupyterhub.hub.config.JupyterHub.subdomain_host), "" without one. */}}
{{- define "sabaq.subdomainHost" -}}
{{- dig "hub" "config" "JupyterHub" "subdomain_host" "" (.Values.jupyterhub | default dict) -}}
{{- end -}}

{{- define "sabaq.securityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
