{{/* Chart name, overridable. */}}
{{- define "mcpfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name when it contains the chart name (release "mcpfleet" -> "mcpfleet"),
else "<release>-<chart>". Truncated so that "-operator-leader-election" still fits in 63.
*/}}
{{- define "mcpfleet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 38 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 38 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 38 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The operator's Deployment, ServiceAccount, (Cluster)Role and binding name. */}}
{{- define "mcpfleet.operatorName" -}}
{{- printf "%s-operator" (include "mcpfleet.fullname" .) }}
{{- end }}

{{- define "mcpfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mcpfleet.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mcpfleet.leaseName" -}}
{{- default (include "mcpfleet.operatorName" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "mcpfleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object, without a component. */}}
{{- define "mcpfleet.baseLabels" -}}
helm.sh/chart: {{ include "mcpfleet.chart" . }}
app.kubernetes.io/name: {{ include "mcpfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mcpfleet
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of the operator and the objects that serve it (RBAC, Service, PDB). */}}
{{- define "mcpfleet.labels" -}}
{{ include "mcpfleet.baseLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels of the monitoring objects (ServiceMonitor, PodMonitor, PrometheusRule, dashboard). */}}
{{- define "mcpfleet.monitoringLabels" -}}
{{ include "mcpfleet.baseLabels" . }}
app.kubernetes.io/component: monitoring
{{- end }}

{{/* The operator pods' immutable selector. */}}
{{- define "mcpfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcpfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* repository@digest, else repository:tag (tag default: appVersion). Call with (dict "image" ... "root" $). */}}
{{- define "mcpfleet.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/* The namespaces the operator watches, de-duplicated and sorted (empty: all). */}}
{{- define "mcpfleet.watchNamespaces" -}}
{{- .Values.watchNamespaces | uniq | sortAlpha | join "," }}
{{- end }}

{{/*
What the operator does to MCPServers and their children, cluster-wide or per watched namespace.
Derived from operator/src: informers (list, watch) on every kind below; server-side apply
(patch, and create when the object is new); update as the fallback when an apply cannot undo a
foreign edit; delete to replace immutable fields and prune children no longer wanted; a merge
patch of MCPServer status. RBAC forbids granting what one does not hold, so the operator also
holds exactly what the proxyrunners' Roles grant: pods get/list/watch and pods/attach (stdio),
endpointslices get/list/watch (backendReplicas).
*/}}
{{- define "mcpfleet.operatorRules" -}}
- apiGroups: [mcpfleet.dev]
  resources: [mcpservers]
  verbs: [get, list, watch]
- apiGroups: [mcpfleet.dev]
  resources: [mcpservers/status]
  verbs: [get, patch]
# Owner references with blockOwnerDeletion need it where OwnerReferencesPermissionEnforcement is on.
- apiGroups: [mcpfleet.dev]
  resources: [mcpservers/finalizers]
  verbs: [update]
# Config kinds MCPServers reference: read only; their status (Valid, configHash) is the operator's.
- apiGroups: [mcpfleet.dev]
  resources: [mcpoidcconfigs, mcpauthzconfigs, mcptelemetryconfigs, mcptoolconfigs]
  verbs: [get, list, watch]
- apiGroups: [mcpfleet.dev]
  resources: [mcpoidcconfigs/status, mcpauthzconfigs/status, mcptelemetryconfigs/status, mcptoolconfigs/status]
  verbs: [get, patch]
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, create, update, patch, delete]
# configmaps: the authorization and tool files rendered from an MCPAuthzConfig and an MCPToolConfig, one per MCPServer that uses each;
# read: the ConfigMaps MCPServers and configs name (authzConfig, caBundleRef), watched for changes.
- apiGroups: [""]
  resources: [services, serviceaccounts, configmaps]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# WebSocket attach is a GET upgrade; SPDY attach is a POST (create).
- apiGroups: [""]
  resources: [pods/attach]
  verbs: [create, get]
# Granted to the proxies of servers with backendReplicas (they discover the backend pods).
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
{{- end }}
