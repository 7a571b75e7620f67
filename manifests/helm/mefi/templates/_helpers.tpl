{{/* The base of every name: the release's (mefi by default, as in manifests/). */}}
{{- define "mefi.name" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "mefi.serviceAccount" -}}
{{- default (include "mefi.name" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "mefi.reader" -}}
{{- default (printf "%s-reader" (include "mefi.name" .)) .Values.reader.name -}}
{{- end -}}

{{- define "mefi.labels" -}}
app.kubernetes.io/name: mefi
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "mefi.selector" -}}
app.kubernetes.io/name: mefi
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The pod: the same for the Deployment and the CronJob. */}}
{{- define "mefi.pod" -}}
serviceAccountName: {{ include "mefi.serviceAccount" . }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: mefi
    image: "{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}"
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args:
      - sync
      - --config=/etc/mefi/config/mefi.yaml
      {{- if eq .Values.mode "watch" }}
      - --watch
      - --resync={{ .Values.resync }}
      {{- else if eq .Values.mode "interval" }}
      - --interval={{ .Values.interval }}
      {{- end }}
      {{- if ne .Values.mode "cronjob" }}
      - --metrics-addr=:{{ .Values.metrics.port }}
      {{- end }}
      - --log-format=json
      - --request-timeout=10s
      {{- range .Values.extraArgs }}
      - {{ . | quote }}
      {{- end }}
    {{- with .Values.extraEnv }}
    env:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if ne .Values.mode "cronjob" }}
    ports:
      - name: metrics
        containerPort: {{ .Values.metrics.port }}
    readinessProbe:
      httpGet:
        path: /readyz
        port: metrics
      periodSeconds: 5
    livenessProbe:
      # Fails when no run completed for 5 intervals or resyncs (--unhealthy-after).
      httpGet:
        path: /healthz
        port: metrics
      periodSeconds: 10
      failureThreshold: 3
    {{- end }}
    securityContext:
      {{- toYaml .Values.containerSecurityContext | nindent 6 }}
    resources:
      {{- toYaml .Values.resources | nindent 6 }}
    volumeMounts:
      - name: config
        mountPath: /etc/mefi/config
        readOnly: true
      - name: remotes
        mountPath: /etc/mefi/remotes
        readOnly: true
volumes:
  - name: config
    {{- if .Values.config.secret }}
    secret:
      secretName: {{ include "mefi.name" . }}-config
    {{- else }}
    configMap:
      name: {{ include "mefi.name" . }}-config
    {{- end }}
  - name: remotes
    secret:
      secretName: {{ .Values.remotesSecret }}
      defaultMode: 0440
      optional: true
{{- end -}}
