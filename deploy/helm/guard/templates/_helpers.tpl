{{- define "guard.labels" -}}
app.kubernetes.io/name: guard
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "guard.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}

{{- define "guard.dbSecret" -}}
{{ .Values.database.existingSecret | default (printf "%s-database" .Release.Name) }}
{{- end }}

{{- define "guard.commonEnv" -}}
- name: GUARD_HOME
  value: /var/lib/guard
- name: GUARD_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "guard.dbSecret" . }}
      key: url
{{- if .Values.rules.files }}
- name: GUARD_RULES
  value: /etc/guard/rules
{{- end }}
{{- end }}

{{- define "guard.rulesVolume" -}}
{{- if .Values.rules.files -}}
- name: rules
  configMap:
    name: {{ .Release.Name }}-rules
    items:
{{- range $path, $content := .Values.rules.files }}
      - key: {{ $path | replace "/" "__" }}
        path: {{ $path }}
{{- end }}
{{- end }}
{{- end }}

{{- define "guard.rulesMount" -}}
{{- if .Values.rules.files -}}
- name: rules
  mountPath: /etc/guard/rules
  readOnly: true
{{- end }}
{{- end }}
