{{/* Names are truncated to 63 characters, the DNS label limit. */}}
{{- define "bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The name of one component's objects. A StatefulSet's pods carry a
controller-revision-hash label of its name plus 11 characters, so names stay
within 52 characters.
*/}}
{{- define "bridge.componentName" -}}
{{- $root := index . 0 }}{{ $component := index . 1 }}
{{- printf "%s-%s" (include "bridge.fullname" $root | trunc 40 | trimSuffix "-") $component | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bridge.version" -}}
{{- default .Chart.AppVersion .Values.image.tag | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; "bridge.labels" takes (list $ "component"). */}}
{{- define "bridge.labels" -}}
{{- $root := index . 0 }}{{ $component := index . 1 -}}
helm.sh/chart: {{ include "bridge.chart" $root }}
{{ include "bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ include "bridge.version" $root | quote }}
app.kubernetes.io/part-of: bridge
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- end }}

{{- define "bridge.selectorLabels" -}}
{{- $root := index . 0 }}{{ $component := index . 1 -}}
app.kubernetes.io/name: {{ include "bridge.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ $component }}
{{- end }}

{{/* Selects every pod of the release, whatever its component. */}}
{{- define "bridge.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The component the Service and Ingress point at. */}}
{{- define "bridge.gatewayComponent" -}}
{{- if eq .Values.mode "allInOne" }}all-in-one{{ else }}webhook-gateway{{ end }}
{{- end }}

{{- define "bridge.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where the NATS .creds file is mounted in split mode. */}}
{{- define "bridge.natsCredsPath" -}}
/etc/bridge/nats/{{ .Values.nats.credentialsSecret.key }}
{{- end }}

{{/*
The bridge's config file: the user's `config` with the keys the chart owns
set from mode, nats and vault. Checks what the schema cannot express.
*/}}
{{- define "bridge.config" -}}
{{- if and (eq .Values.mode "split") (not .Values.nats.url) }}
{{- fail "nats.url is required in split mode: the services meet on an external NATS (e.g. the official NATS chart)" }}
{{- end }}
{{- if and (eq .Values.mode "allInOne") .Values.nats.url }}
{{- fail "nats.url is for split mode: allInOne runs its own embedded NATS" }}
{{- end }}
{{- if and .Values.vault.address .Values.secrets.existingSecret }}
{{- fail "set vault.address or secrets.existingSecret, not both: with Vault, BRIDGE_SECRET_* variables are not read" }}
{{- end }}
{{- if and .Values.vault.address (not .Values.vault.role) }}
{{- fail "vault.role is required with vault.address (Vault Kubernetes auth)" }}
{{- end }}
{{- $cfg := deepCopy .Values.config }}
{{- $_ := set $cfg "listen" ":8080" }}
{{- $nats := deepCopy (default dict $cfg.nats) }}
{{- if eq .Values.mode "allInOne" }}
{{- $_ := set $nats "data_dir" "/data/jetstream" }}
{{- else }}
{{- $_ := set $nats "url" .Values.nats.url }}
{{- if .Values.nats.credentialsSecret.name }}
{{- $_ := set $nats "credentials" (include "bridge.natsCredsPath" .) }}
{{- end }}
{{- end }}
{{- $_ := set $cfg "nats" $nats }}
{{- if .Values.vault.address }}
{{- $vault := deepCopy (default dict $cfg.vault) }}
{{- $_ := set $vault "address" .Values.vault.address }}
{{- $_ := set $vault "auth" (dict "method" .Values.vault.authMethod "role" .Values.vault.role "mount" .Values.vault.authMount) }}
{{- $_ := set $cfg "vault" $vault }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
The pod template shared by the all-in-one StatefulSet and the split
Deployments; takes (dict "root" $ "component" "x" "binary" "y" "resources" {...}).
*/}}
{{- define "bridge.podTemplate" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
metadata:
  labels:
    {{- include "bridge.labels" (list $root .component) | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "bridge.config" $root | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "bridge.serviceAccountName" $root }}
  {{- /* The token is mounted only for Vault's Kubernetes auth, which reads it. */}}
  automountServiceAccountToken: {{ if and $v.vault.address (eq $v.vault.authMethod "kubernetes") }}true{{ else }}false{{ end }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: {{ .component }}
      image: {{ include "bridge.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command:
        - /usr/local/bin/{{ .binary }}
      args:
        - --config=/etc/bridge/config.yaml
        {{- range .extraArgs }}
        - {{ . | quote }}
        {{- end }}
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
      {{- with $v.secrets.existingSecret }}
      envFrom:
        - secretRef:
            name: {{ . }}
      {{- end }}
      {{- with $v.extraEnv }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: 5
        failureThreshold: {{ $v.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ $v.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ $v.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: {{ $v.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ $v.probes.readiness.failureThreshold }}
      resources:
        {{- toYaml .resources | nindent 8 }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        privileged: false
        capabilities:
          drop:
            - ALL
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: config
          mountPath: /etc/bridge/config.yaml
          subPath: config.yaml
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if eq $v.mode "allInOne" }}
        - name: data
          mountPath: /data
        {{- else if $v.nats.credentialsSecret.name }}
        - name: nats-credentials
          mountPath: /etc/bridge/nats
          readOnly: true
        {{- end }}
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "bridge.fullname" $root }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if and (eq $v.mode "split") $v.nats.credentialsSecret.name }}
    - name: nats-credentials
      secret:
        secretName: {{ $v.nats.credentialsSecret.name }}
        items:
          - key: {{ $v.nats.credentialsSecret.key }}
            path: {{ $v.nats.credentialsSecret.key }}
    {{- end }}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
