{{/* The release's full name, at most 63 characters. */}}
{{- define "ecr-daemon.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ecr-daemon.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ecr-daemon.labels" -}}
{{ include "ecr-daemon.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ecr-daemon.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ecr-daemon.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Leader election is on when asked for, and always with more than one replica. */}}
{{- define "ecr-daemon.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) -}}true{{- end -}}
{{- end -}}

{{/* A duration like 15s as a .NET TimeSpan (00:00:15). */}}
{{- define "ecr-daemon.timespan" -}}
{{- $s := int (trimSuffix "s" .) -}}
{{- printf "%02d:%02d:%02d" (div $s 3600) (mod (div $s 60) 60) (mod $s 60) -}}
{{- end -}}

{{/* The Secret holding AWS keys, if any: the chart's own, or an existing one. */}}
{{- define "ecr-daemon.awsSecretName" -}}
{{- if .Values.aws.existingSecret -}}
{{- .Values.aws.existingSecret -}}
{{- else if .Values.aws.staticCredentials.create -}}
{{- printf "%s-aws" (include "ecr-daemon.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The daemon's configuration as environment variables (EcrDaemon__Key), one source for the Deployment and its checksum. */}}
{{- define "ecr-daemon.configEnv" -}}
{{- $c := .Values.config -}}
- name: EcrDaemon__NamespaceSelector
  value: {{ $c.namespaceSelector | quote }}
- name: EcrDaemon__SecretName
  value: {{ $c.secretName | quote }}
{{- range $i, $sa := $c.serviceAccounts }}
- name: EcrDaemon__ServiceAccounts__{{ $i }}
  value: {{ $sa | quote }}
{{- end }}
{{- range $i, $ns := $c.excludedNamespaces }}
- name: EcrDaemon__ExcludedNamespaces__{{ $i }}
  value: {{ $ns | quote }}
{{- end }}
- name: EcrDaemon__RefreshAt
  value: {{ $c.refreshAt | toString | quote }}
- name: EcrDaemon__CleanupOnOptOut
  value: {{ $c.cleanupOnOptOut | toString | quote }}
- name: EcrDaemon__AdoptUnmanagedSecrets
  value: {{ $c.adoptUnmanagedSecrets | toString | quote }}
- name: EcrDaemon__Concurrency
  value: {{ $c.concurrency | toString | quote }}
- name: EcrDaemon__KubernetesQps
  value: {{ $c.kubernetesQps | toString | quote }}
- name: EcrDaemon__KubernetesBurst
  value: {{ $c.kubernetesBurst | toString | quote }}
- name: EcrDaemon__Events
  value: {{ $c.events | toString | quote }}
- name: Logging__LogLevel__EcrDaemon
  value: {{ $c.logLevel | quote }}
{{- range $i, $r := .Values.registries }}
{{- range $key, $name := dict "region" "Region" "accountId" "AccountId" "roleArn" "RoleArn" "externalId" "ExternalId" "endpoint" "Endpoint" }}
{{- with index $r $key }}
- name: EcrDaemon__Registries__{{ $i }}__{{ $name }}
  value: {{ . | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if include "ecr-daemon.leaderElection" . }}
- name: EcrDaemon__LeaderElection__Enabled
  value: "true"
- name: EcrDaemon__LeaderElection__LeaseName
  value: {{ .Values.leaderElection.leaseName | quote }}
- name: EcrDaemon__LeaderElection__LeaseDuration
  value: {{ include "ecr-daemon.timespan" .Values.leaderElection.leaseDuration | quote }}
- name: EcrDaemon__LeaderElection__RenewDeadline
  value: {{ include "ecr-daemon.timespan" .Values.leaderElection.renewDeadline | quote }}
- name: EcrDaemon__LeaderElection__RetryPeriod
  value: {{ include "ecr-daemon.timespan" .Values.leaderElection.retryPeriod | quote }}
{{- end }}
{{- with .Values.aws.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.aws.account }}
- name: AWS_ACCOUNT
  value: {{ . | toString | quote }}
{{- end }}
{{- end -}}

{{/* A list of strings as the elements of a CEL list literal: 'a', 'b'. */}}
{{- define "ecr-daemon.celStrings" -}}
{{- $quoted := list -}}
{{- range . }}{{ $quoted = append $quoted (printf "'%s'" .) }}{{ end -}}
{{- join ", " $quoted -}}
{{- end -}}
