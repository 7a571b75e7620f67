{{/* The base of every name: the release's (mefi by default, as in manifests/). */}}
{{- define "mefi.name" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* Where the chart's objects go: the release's namespace, or the original chart's namespaceOverride. */}}
{{- define "mefi.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
{{- end -}}

{{/* The image: the original chart's image.registry (a whole repository path) wins when set. */}}
{{- define "mefi.image" -}}
{{- default .Values.image.repository .Values.image.registry }}:{{ default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/* The metrics port: the original chart's serverPort wins when set. */}}
{{- define "mefi.metricsPort" -}}
{{- default .Values.metrics.port .Values.serverPort -}}
{{- end -}}

{{- define "mefi.serviceAccount" -}}
{{- default (include "mefi.name" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "mefi.reader" -}}
{{- default (printf "%s-reader" (include "mefi.name" .)) .Values.reader.name -}}
{{- end -}}

{{/* The loop's replicas: 2 unless set (one writes, the other stands by: leaderElect); a CronJob's runs are one at a time. */}}
{{- define "mefi.replicas" -}}
{{- if not (kindIs "invalid" .Values.replicas) }}{{ int .Values.replicas }}{{ else if eq .Values.mode "cronjob" }}1{{ else }}2{{ end -}}
{{- end -}}

{{- define "mefi.labels" -}}
app.kubernetes.io/name: {{ default "mefi" .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* nameOverride as the original chart: it is in the Deployment's selector, which an upgrade cannot change. */}}
{{- define "mefi.selector" -}}
app.kubernetes.io/name: {{ default "mefi" .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The original chart's annotations, on every object but the ServiceAccounts (those take serviceAccount.annotations). */}}
{{- define "mefi.annotations" -}}
{{- with .Values.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}

{{/* The pod: the same for the Deployment and the CronJob. */}}
{{- define "mefi.pod" -}}
serviceAccountName: {{ include "mefi.serviceAccount" . }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.hostAliases }}
hostAliases:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .Values.hostNetwork }}
hostNetwork: true
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.initContainer }}
initContainers:
  {{- toYaml . | nindent 2 }}
{{- end }}
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
{{- else }}
{{- if and (ne .Values.mode "cronjob") (gt (int (include "mefi.replicas" .)) 1) }}
# The replicas on different nodes, where there are several.
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "mefi.selector" . | nindent 14 }}
{{- end }}
{{- end }}
containers:
  - name: mefi
    image: {{ include "mefi.image" . | quote }}
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
      - --metrics-addr=:{{ include "mefi.metricsPort" . }}
      {{- end }}
      - --log-format=json
      - --request-timeout=10s
      {{- if and (ne .Values.mode "cronjob") .Values.leaderElect }}
      - --leader-elect
      - --leader-elect-lease-name={{ include "mefi.name" . }}-leader
      {{- end }}
      {{- if .Values.mcs.enabled }}
      - --mode=mcs
      {{- end }}
      {{- range .Values.extraArgs }}
      - {{ . | quote }}
      {{- end }}
    {{- if or .Values.extraEnv (and (ne .Values.mode "cronjob") .Values.leaderElect) }}
    env:
      {{- if and (ne .Values.mode "cronjob") .Values.leaderElect }}
      # The Lease names the pod that holds it.
      - name: MEFI_LEADER_ELECT_IDENTITY
        valueFrom:
          fieldRef:
            fieldPath: metadata.name
      {{- end }}
      {{- with .Values.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- end }}
    {{- with .Values.extraEnvFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if ne .Values.mode "cronjob" }}
    ports:
      - name: metrics
        containerPort: {{ include "mefi.metricsPort" . }}
    readinessProbe:
      {{- if .Values.readinessProbe }}
      {{- tpl (toYaml .Values.readinessProbe) $ | nindent 6 }}
      {{- else }}
      httpGet:
        path: /readyz
        port: metrics
      periodSeconds: 5
      {{- end }}
    livenessProbe:
      {{- if .Values.livenessProbe }}
      {{- tpl (toYaml .Values.livenessProbe) $ | nindent 6 }}
      {{- else }}
      # Fails when no run completed for 5 intervals or resyncs (--unhealthy-after).
      httpGet:
        path: /healthz
        port: metrics
      periodSeconds: 10
      failureThreshold: 3
      {{- end }}
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
      {{- with .Values.extraVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
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
{{- with .Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
