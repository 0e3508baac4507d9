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

{{/*
What values.schema.json cannot check about `profiles` and `registries[].name`, failed early with the value
named (the daemon checks the same at start and exits 2). Renders nothing.
*/}}
{{- define "ecr-daemon.validateProfiles" -}}
{{- $registryNames := list -}}
{{- range $i, $r := .Values.registries -}}
{{- with $r.name -}}
{{- if has . $registryNames -}}
{{- fail (printf "registries[%d].name %q is used by another entry of registries too; registry names must be unique" $i .) -}}
{{- end -}}
{{- $registryNames = append $registryNames . -}}
{{- end -}}
{{- end -}}
{{- if .Values.profiles -}}
{{- if not .Values.registries -}}
{{- fail "profiles need named entries in registries (each profile's registries name them); registries is empty" -}}
{{- end -}}
{{- range $i, $r := .Values.registries -}}
{{- if not $r.name -}}
{{- fail (printf "registries[%d] has no name; with profiles every registry needs one" $i) -}}
{{- end -}}
{{- end -}}
{{- $profileNames := dict -}}
{{- $secretNames := dict -}}
{{- $used := list -}}
{{- range $i, $p := .Values.profiles -}}
{{- if hasKey $profileNames $p.name -}}
{{- fail (printf "profiles[%d].name %q is used by profiles[%s] too; profile names must be unique" $i $p.name (get $profileNames $p.name)) -}}
{{- end -}}
{{- $_ := set $profileNames $p.name (toString $i) -}}
{{- if hasKey $secretNames $p.secretName -}}
{{- fail (printf "profiles[%d].secretName %q is used by profiles[%s] too; each profile needs its own secret name" $i $p.secretName (get $secretNames $p.secretName)) -}}
{{- end -}}
{{- $_ := set $secretNames $p.secretName (toString $i) -}}
{{- if and (eq ($p.format | default "DockerConfigJson") "ArgoCdRepositoryCredentials") $p.serviceAccounts -}}
{{- fail (printf "profiles[%d].serviceAccounts is set, but its format ArgoCdRepositoryCredentials patches no ServiceAccount; leave serviceAccounts out" $i) -}}
{{- end -}}
{{- range $j, $name := $p.registries -}}
{{- if not (has $name $registryNames) -}}
{{- fail (printf "profiles[%d].registries[%d] %q is not the name of any entry in registries (%s)" $i $j $name (join ", " $registryNames)) -}}
{{- end -}}
{{- $used = append $used $name -}}
{{- end -}}
{{- end -}}
{{- range $i, $name := $registryNames -}}
{{- if not (has $name $used) -}}
{{- fail (printf "registries[%d].name %q is used by no profile; list it in a profile's registries or remove it" $i $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The pull secrets' names, as a JSON list: every profile's secretName, or config.secretName without profiles.
One source for the ClusterRole's resourceNames and the admission policy's secretNames.
*/}}
{{- define "ecr-daemon.secretNames" -}}
{{- include "ecr-daemon.validateProfiles" . -}}
{{- if .Values.profiles -}}
{{- $names := list -}}
{{- range .Values.profiles }}
{{- if eq (.format | default "DockerConfigJson") "ArgoCdRepositoryCredentials" }}
{{- $secretName := .secretName }}
{{- range (.registries | uniq) }}{{ $names = append $names (printf "%s-%s" $secretName .) }}{{ end }}
{{- else }}
{{- $names = append $names .secretName }}
{{- end }}
{{- end -}}
{{- toJson $names -}}
{{- else -}}
{{- toJson (list .Values.config.secretName) -}}
{{- end -}}
{{- end -}}

{{/* The names of the Argo CD repository credential secrets (type Opaque), a subset of ecr-daemon.secretNames, as a JSON list. */}}
{{- define "ecr-daemon.argoSecretNames" -}}
{{- $names := list -}}
{{- range .Values.profiles }}
{{- if eq (.format | default "DockerConfigJson") "ArgoCdRepositoryCredentials" }}
{{- $secretName := .secretName }}
{{- range (.registries | uniq) }}{{ $names = append $names (printf "%s-%s" $secretName .) }}{{ end }}
{{- end }}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* A list of strings as environment variables Prefix__0, Prefix__1, ...; an empty list as Prefix = "" (the daemon reads an empty list). */}}
{{- define "ecr-daemon.envList" -}}
{{- $prefix := index . 0 -}}
{{- $items := index . 1 -}}
{{- if $items }}
{{- range $i, $item := $items }}
- name: {{ $prefix }}__{{ $i }}
  value: {{ $item | toString | quote }}
{{- end }}
{{- else }}
- name: {{ $prefix }}
  value: ""
{{- end }}
{{- end -}}

{{/* The daemon's configuration as environment variables (EcrDaemon__Key), one source for the Deployment and its checksum. */}}
{{- define "ecr-daemon.configEnv" -}}
{{- include "ecr-daemon.validateProfiles" . -}}
{{- $c := .Values.config -}}
{{- if .Values.profiles }}
{{- range $i, $p := .Values.profiles }}
- name: EcrDaemon__Profiles__{{ $i }}__Name
  value: {{ $p.name | quote }}
- name: EcrDaemon__Profiles__{{ $i }}__NamespaceSelector
  value: {{ $p.namespaceSelector | quote }}
- name: EcrDaemon__Profiles__{{ $i }}__SecretName
  value: {{ $p.secretName | quote }}
{{- include "ecr-daemon.envList" (list (printf "EcrDaemon__Profiles__%d__Registries" $i) $p.registries) }}
{{- if hasKey $p "serviceAccounts" }}
{{- include "ecr-daemon.envList" (list (printf "EcrDaemon__Profiles__%d__ServiceAccounts" $i) $p.serviceAccounts) }}
{{- end }}
{{- range $j, $ns := $p.excludedNamespaces }}
- name: EcrDaemon__Profiles__{{ $i }}__ExcludedNamespaces__{{ $j }}
  value: {{ $ns | quote }}
{{- end }}
{{- with $p.format }}
- name: EcrDaemon__Profiles__{{ $i }}__Format
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- else }}
- name: EcrDaemon__NamespaceSelector
  value: {{ $c.namespaceSelector | quote }}
- name: EcrDaemon__SecretName
  value: {{ $c.secretName | quote }}
{{- include "ecr-daemon.envList" (list "EcrDaemon__ServiceAccounts" $c.serviceAccounts) }}
{{- end }}
{{- include "ecr-daemon.envList" (list "EcrDaemon__ExcludedNamespaces" $c.excludedNamespaces) }}
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
{{- range $key, $name := dict "name" "Name" "region" "Region" "accountId" "AccountId" "roleArn" "RoleArn" "externalId" "ExternalId" "endpoint" "Endpoint" }}
{{- with index $r $key }}
- name: EcrDaemon__Registries__{{ $i }}__{{ $name }}
  value: {{ . | toString | quote }}
{{- end }}
{{- end }}
{{- if $r.dualStack }}
- name: EcrDaemon__Registries__{{ $i }}__DualStack
  value: "true"
{{- end }}
{{- range $j, $alias := $r.aliases }}
- name: EcrDaemon__Registries__{{ $i }}__Aliases__{{ $j }}
  value: {{ $alias | toString | quote }}
{{- end }}
{{- if index $r "public" }}
- name: EcrDaemon__Registries__{{ $i }}__Public
  value: "true"
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

{{/*
Fails when an extraEnv entry names a variable the chart renders itself (compared without case: .NET reads
configuration keys without case, and https_proxy before HTTPS_PROXY). Kubernetes would keep both and the
container would run with the last, silently replacing the chart's: an EcrDaemon__ key would differ from the
configuration the ClusterRole and admission policy are rendered from. Renders nothing.
*/}}
{{- define "ecr-daemon.validateExtraEnv" -}}
{{- $rendered := list "aspnetcore_http_ports" "dotnet_running_in_container" "pod_name" "pod_namespace" -}}
{{- range (include "ecr-daemon.configEnv" . | fromYamlArray) }}{{ $rendered = append $rendered (lower .name) }}{{ end -}}
{{- with .Values.proxy -}}
{{- if or .https .http -}}
{{- if .https }}{{ $rendered = concat $rendered (list "https_proxy") }}{{ end -}}
{{- if .http }}{{ $rendered = concat $rendered (list "http_proxy") }}{{ end -}}
{{- if .noProxy }}{{ $rendered = concat $rendered (list "no_proxy") }}{{ end -}}
{{- end -}}
{{- end -}}
{{- range $i, $e := .Values.extraEnv -}}
{{- if has (lower $e.name) $rendered -}}
{{- fail (printf "extraEnv[%d] %s names a variable the chart sets itself (the container would run with only one of them); set it through the chart's values instead (an EcrDaemon__ key must match what the ClusterRole and admission policy are rendered from; proxy variables: proxy.* or, to read them from a Secret, leave proxy.https/proxy.http empty)" $i $e.name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
