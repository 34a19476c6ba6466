{{/* Names and labels. */}}
{{- define "attesta.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "attesta.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- if .participant }}
attesta.network/participant: {{ .participant }}
{{- end }}
{{- end -}}

{{- define "attesta.labels" -}}
{{ include "attesta.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "attesta.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "attesta.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "attesta.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- printf "%s%s%s:%s" .root.Values.image.registry .root.Values.image.prefix .image $tag -}}
{{- end -}}

{{- define "attesta.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s-nats:4222" (include "attesta.fullname" .) -}}
{{- else -}}
{{- .Values.externalNats.url -}}
{{- end -}}
{{- end -}}

{{/* Environment every Attesta service shares: the same names `make run` sets. */}}
{{- define "attesta.commonEnv" -}}
- name: ATTESTA_NATS_URL
  value: {{ include "attesta.natsUrl" . | quote }}
{{- if .Values.postgresql.enabled }}
# Kubernetes expands $(POSTGRES_PASSWORD) from the variable above it.
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.passwordSecret.name }}
      key: {{ .Values.postgresql.passwordSecret.key }}
- name: ATTESTA_DATABASE_URL
  value: {{ printf "postgresql://%s:$(POSTGRES_PASSWORD)@%s-postgresql:5432/%s" .Values.postgresql.username (include "attesta.fullname" .) .Values.postgresql.database | quote }}
{{- else }}
- name: ATTESTA_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalDatabase.urlSecret.name }}
      key: {{ .Values.externalDatabase.urlSecret.key }}
{{- end }}
- name: ATTESTA_GENESIS_PATH
  value: /etc/attesta/genesis/genesis.json
- name: ATTESTA_KEY_PATH
  value: /etc/attesta/keys/participant.key
- name: ATTESTA_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
{{- with .Values.config.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
One Attesta Deployment. Arguments (a dict):
  root         the chart context
  component    api-gateway, executor, validator, chain-writer, epoch-settler
  participant  instance name (executor-0...) or "" for a shared identity
  image        the image name after the prefix
  command      the console script
  cfg          the component's values (keySecret, env, resources, ...)
  replicas     number of replicas (omitted when an HPA owns it)
  strategy     RollingUpdate or Recreate
  extraEnv     list of {name, value} set by the chart
*/}}
{{- define "attesta.deployment" -}}
{{- $root := .root -}}
{{- $cfg := .cfg -}}
{{- $name := printf "%s-%s" (include "attesta.fullname" $root) (default .component .participant) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "attesta.labels" . | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .replicas) }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: {{ .strategy }}
    {{- if eq .strategy "RollingUpdate" }}
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
    {{- end }}
  selector:
    matchLabels:
      {{- include "attesta.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "attesta.labels" . | nindent 8 }}
      annotations:
        # Restart on a genesis change (the ConfigMap name is what the release knows).
        attesta.network/genesis-configmap: {{ $root.Values.genesis.configMap }}
    spec:
      serviceAccountName: {{ include "attesta.serviceAccountName" $root }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $cfg.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .component }}
          image: {{ include "attesta.image" (dict "root" $root "image" .image) }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: [{{ .command | quote }}]
          env:
            {{- include "attesta.commonEnv" $root | nindent 12 }}
            {{- if ne .component "api-gateway" }}
            - name: ATTESTA_OPS_HOST
              value: "0.0.0.0"
            - name: ATTESTA_OPS_PORT
              value: {{ $root.Values.ops.port | quote }}
            {{- end }}
            {{- range .extraEnv }}
            - name: {{ .name }}
              value: {{ .value | quote }}
            {{- end }}
            {{- range $key, $value := $cfg.env }}
            - name: {{ $key }}
              value: {{ $value | quote }}
            {{- end }}
            {{- if $cfg.canarySecret }}
            - name: ATTESTA_CANARY_KEY_PATH
              value: /etc/attesta/canary/canary.key
            {{- end }}
          {{- if eq .component "api-gateway" }}
          ports:
            - name: http
              containerPort: 8000
              protocol: TCP
          startupProbe:
            httpGet: {path: /health/live, port: http}
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet: {path: /health/live, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          # /health is 503 while NATS or Postgres is unreachable: no traffic then.
          readinessProbe:
            httpGet: {path: /health, port: http}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          lifecycle:
            preStop:
              exec:
                command: ["sleep", {{ $cfg.preStopSleepSeconds | quote }}]
          {{- else }}
          # The ops endpoints (attesta_common.ops_server). /health/live answers while the
          # event loop turns, from before the model loads, and never depends on NATS or
          # Postgres; /health/ready is 503 (with the reason) until the engine is loaded,
          # the broker is connected and the loops run.
          ports:
            - name: ops
              containerPort: {{ $root.Values.ops.port }}
              protocol: TCP
          startupProbe:
            httpGet: {path: /health/live, port: ops}
            periodSeconds: 5
            {{- if has .component (list "executor" "validator") }}
            # Generous: loading the model (vLLM: also CUDA graphs) on a cold node.
            failureThreshold: {{ div $root.Values.ops.modelStartupSeconds 5 }}
            {{- else }}
            failureThreshold: 24
            {{- end }}
          livenessProbe:
            httpGet: {path: /health/live, port: ops}
            periodSeconds: 15
            timeoutSeconds: 5
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /health/ready, port: ops}
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          {{- end }}
          resources:
            {{- toYaml $cfg.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - {name: key, mountPath: /etc/attesta/keys, readOnly: true}
            {{- if $cfg.canarySecret }}
            - {name: canary-key, mountPath: /etc/attesta/canary, readOnly: true}
            {{- end }}
            - {name: genesis, mountPath: /etc/attesta/genesis, readOnly: true}
            - {name: tmp, mountPath: /tmp}
            {{- if and $cfg.gpu $cfg.gpu.enabled }}
            - {name: dshm, mountPath: /dev/shm}
            {{- end }}
      volumes:
        - name: key
          secret:
            secretName: {{ $cfg.keySecret.name }}
            defaultMode: 0440
            items:
              - {key: {{ $cfg.keySecret.key }}, path: participant.key}
        {{- with $cfg.canarySecret }}
        - name: canary-key
          secret:
            secretName: {{ .name }}
            defaultMode: 0440
            items:
              - {key: {{ .key }}, path: canary.key}
        {{- end }}
        - name: genesis
          configMap:
            name: {{ $root.Values.genesis.configMap }}
            items:
              - {key: {{ $root.Values.genesis.key }}, path: genesis.json}
        - name: tmp
          emptyDir: {}
        {{- if and $cfg.gpu $cfg.gpu.enabled }}
        # vLLM needs more shared memory than the container default.
        - name: dshm
          emptyDir: {medium: Memory, sizeLimit: 8Gi}
        {{- end }}
      {{- with $cfg.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $cfg.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $cfg.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget for one workload (same arguments as attesta.deployment). */}}
{{- define "attesta.pdb" -}}
{{- if .cfg.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ printf "%s-%s" (include "attesta.fullname" .root) (default .component .participant) }}
  labels:
    {{- include "attesta.labels" . | nindent 4 }}
spec:
  {{- if hasKey .cfg.pdb "minAvailable" }}
  minAvailable: {{ .cfg.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .cfg.pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "attesta.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}


{{/*
A headless Service exposing one workload's ops port (same arguments as
attesta.deployment): the ServiceMonitor finds the pods through it.
*/}}
{{- define "attesta.opsService" -}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ printf "%s-%s-ops" (include "attesta.fullname" .root) (default .component .participant) }}
  labels:
    {{- include "attesta.labels" . | nindent 4 }}
    attesta.network/metrics: "true"
spec:
  clusterIP: None
  selector:
    {{- include "attesta.selectorLabels" . | nindent 4 }}
  ports:
    - name: ops
      port: {{ .root.Values.ops.port }}
      targetPort: ops
      protocol: TCP
{{- end -}}
