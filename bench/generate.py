#!/usr/bin/env python3
"""Generate a synthetic platform of N services, three times over: as slipway
blueprints and overlays, as one Helm chart with values per environment, and
as Kustomize bases with an overlay per environment. All three describe the
same objects per service: ServiceAccount, ConfigMap, Service, Deployment,
HorizontalPodAutoscaler, PodDisruptionBudget, DestinationRule,
AuthorizationPolicy, ServiceMonitor, PrometheusRule, plus the gateway route.

Usage: bench/generate.py N OUT_DIR [RENDERED_DIR]

The Kustomize bases are taken from a slipway render of the slipway variant
(RENDERED_DIR, written by `slipway render --env prod -o`); without it, only
slipway and Helm are generated.
"""
import json
import os
import sys

ENVS = {
    "dev": {"domain": "dev.example.com", "min": 1, "max": 3, "sampling": 100},
    "staging": {"domain": "staging.example.com", "min": 2, "max": 6, "sampling": 10},
    "prod": {"domain": "example.com", "min": 3, "max": 12, "sampling": 1},
}
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-1"]
TEAMS = 20
HOSTS = 10

CONFIG = """server:
  port: 8080
  shutdownGracePeriod: 20s
database:
  host: {name}-db.internal
  pool: {{min: 2, max: 20}}
cache:
  ttlSeconds: 60
features:
  fastCheckout: true
  newSearch: false
"""


def name(i):
    return f"svc-{i:05d}"


def team(i):
    return f"team-{i % TEAMS:02d}"


def service(i, n):
    """The facts of service i that every tool renders."""
    callers = sorted({name((i - 1) % n), name((i + 1) % n)} - {name(i)})
    return {
        "name": name(i),
        "team": team(i),
        "image": f"registry.example.com/{team(i)}/{name(i)}:1.{i % 7}.{i % 13}",
        "host": f"api-{i % HOSTS}",
        "prefix": f"/{name(i)}",
        "callers": callers,
        "config": CONFIG.format(name=name(i)),
    }


def blueprint(s):
    callers = ", ".join(s["callers"])
    config = "\n".join("          " + line for line in s["config"].splitlines())
    return f"""apiVersion: slipway.dev/v1alpha1
kind: Blueprint
metadata:
  name: {s['name']}
  team: {s['team']}
containers:
  app:
    image: {s['image']}
    args: [--port=8080, --config=/etc/app/config.yaml]
    variables: {{LOG_LEVEL: info, WORKERS: 4, FEATURE_X: no, REGION: "{{{{ region.name }}}}"}}
    secrets:
      DB_PASSWORD: {{secret: {s['name']}-db, key: password}}
    files:
      - target: /etc/app/config.yaml
        content: |
{config}
    resources:
      requests: {{cpu: 250m, memory: 256Mi}}
      limits: {{memory: 512Mi}}
    livenessProbe: {{httpGet: {{path: /healthz, port: http}}}}
    readinessProbe: {{httpGet: {{path: /ready, port: http}}}}
  proxy:
    image: registry.example.com/platform/proxy:2.1.0
    resources:
      requests: {{cpu: 50m, memory: 64Mi}}
      limits: {{memory: 128Mi}}
service:
  ports:
    http: {{port: 80, targetPort: 8080, protocol: HTTP}}
    grpc: {{port: 9090, targetPort: 9090, protocol: GRPC}}
placement: {{nodeGroup: application, spreadAcrossZones: true}}
scaling: {{minReplicas: 2, maxReplicas: 10, targetCPUUtilization: 70}}
availability: {{maxUnavailable: 1}}
routes:
  - host: "{s['host']}.{{{{ env.domain }}}}"
    pathPrefix: {s['prefix']}
    port: http
    timeout: 5s
    retries: {{attempts: 2, perTryTimeout: 2s, retryOn: "connect-failure,reset"}}
mesh:
  allowFrom: [{callers}]
  trafficPolicy:
    outlierDetection: {{consecutive5xxErrors: 5, interval: 30s, baseEjectionTime: 60s}}
monitoring:
  metrics: {{port: http, path: /metrics, interval: 30s}}
  slo: {{availability: 99.9, p99LatencyMs: 300}}
"""


def patched(i):
    """Every fifth service gets a per-environment patch."""
    return i % 5 == 0


def overlay(env, conf, n):
    regions = "\n".join(
        f"    - {{name: {r}, cluster: {env}-{r}{', primary: true' if k == 0 else ''}}}"
        for k, r in enumerate(REGIONS)
    )
    patches = "\n".join(
        f"  {name(i)}:\n    containers: {{app: {{image: registry.example.com/{team(i)}/{name(i)}:2.0.{i % 11}}}}}\n"
        f"    scaling: {{maxReplicas: {conf['max'] + 4}}}"
        for i in range(n)
        if patched(i)
    )
    return f"""apiVersion: slipway.dev/v1alpha1
kind: Overlay
metadata:
  name: {env}
environment:
  namespace: "{{{{ service.team }}}}-{env}"
  domain: {conf['domain']}
  gateway: istio-system/public-gateway
  tracing: {{samplingPercent: {conf['sampling']}, provider: jaeger}}
  # The objects the Helm chart renders: a ServiceMonitor with Istio's
  # certificates, and no PodMonitors (the mesh is scraped already).
  monitoring: {{scrape: istio-certs, meshScraped: true}}
  # Nor dashboards or NetworkPolicies, which the Helm chart does not render.
  dashboards: {{enabled: false}}
  networkPolicy: {{enabled: false}}
  argocd:
    repoURL: https://github.com/example/platform-gitops.git
    targetRevision: main
  regions:
{regions}
policy:
  prod-min-replicas: {{severity: "off", reason: synthetic benchmark}}
defaults:
  scaling: {{minReplicas: {conf['min']}, maxReplicas: {conf['max']}}}
services:
{patches}
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)




# --- Helm: one chart, the same objects from values per environment --------

HELM_LABELS = """{{- define "labels" -}}
app.kubernetes.io/instance: {{ .name }}
app.kubernetes.io/managed-by: helm
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: {{ .team }}
team: {{ .team }}
{{- end }}
"""

HELM_TEMPLATES = {
    "serviceaccount.yaml": """{{- range .Values.services }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end }}
""",
    "configmap.yaml": """{{- range .Values.services }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .name }}-{{ .config | sha256sum | trunc 10 }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
  annotations:
    argocd.argoproj.io/sync-wave: "-1"
immutable: true
data:
  etc_app_config.yaml: |
{{ .config | indent 4 }}
{{- end }}
""",
    "service.yaml": """{{- range .Values.services }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
spec:
  selector:
    app.kubernetes.io/name: {{ .name }}
  ports:
    - {name: grpc, port: 9090, targetPort: 9090, appProtocol: grpc}
    - {name: http, port: 80, targetPort: 8080, appProtocol: http}
{{- end }}
""",
    "deployment.yaml": """{{- range .Values.services }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .name }}
  template:
    metadata:
      labels: {{- include "labels" . | nindent 8 }}
        sidecar.istio.io/inject: "true"
    spec:
      serviceAccountName: {{ .name }}
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      nodeSelector: {eks.amazonaws.com/nodegroup: application}
      tolerations: [{key: dedicated, operator: Equal, value: application, effect: NoSchedule}]
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector: {matchLabels: {app.kubernetes.io/name: {{ .name }}}}
      containers:
        - name: app
          image: {{ .image }}
          args: [--port=8080, --config=/etc/app/config.yaml]
          env:
            - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: {{ .name }}-db, key: password}}}
            - {name: FEATURE_X, value: "no"}
            - {name: LOG_LEVEL, value: info}
            - {name: REGION, value: {{ $.Values.region }}}
            - {name: WORKERS, value: "4"}
          ports: [{name: grpc, containerPort: 9090}, {name: http, containerPort: 8080}]
          resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {memory: 512Mi}}
          livenessProbe: {httpGet: {path: /healthz, port: http}}
          readinessProbe: {httpGet: {path: /ready, port: http}}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            - {name: files, mountPath: /etc/app/config.yaml, subPath: etc_app_config.yaml, readOnly: true}
        - name: proxy
          image: registry.example.com/platform/proxy:2.1.0
          resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 128Mi}}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes:
        - {name: files, configMap: {name: {{ .name }}-{{ .config | sha256sum | trunc 10 }}}}
        - {name: tmp, emptyDir: {}}
{{- end }}
""",
    "hpa.yaml": """{{- range .Values.services }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: {{ .name }}}
  minReplicas: {{ .minReplicas }}
  maxReplicas: {{ .maxReplicas }}
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
{{- end }}
""",
    "pdb.yaml": """{{- range .Values.services }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/name: {{ .name }}}}
{{- end }}
""",
    "destinationrule.yaml": """{{- range .Values.services }}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
spec:
  host: {{ .name }}.{{ .namespace }}.svc.cluster.local
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    outlierDetection: {consecutive5xxErrors: 5, interval: 30s, baseEjectionTime: 60s}
{{- end }}
""",
    "authorizationpolicy.yaml": """{{- range .Values.services }}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: {{ .name }}}}
  rules:
    - from:
        - source:
            principals:
              {{- range .principals }}
              - {{ . }}
              {{- end }}
    - from: [{source: {principals: [cluster.local/ns/monitoring/sa/prometheus-k8s]}}]
      to: [{operation: {ports: ["8080"], paths: [/metrics]}}]
{{- end }}
""",
    "servicemonitor.yaml": """{{- range .Values.services }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: {{ .name }}}}
  endpoints:
    - port: http
      path: /metrics
      interval: 30s
      scheme: https
      tlsConfig:
        caFile: /etc/prom-certs/root-cert.pem
        certFile: /etc/prom-certs/cert-chain.pem
        keyFile: /etc/prom-certs/key.pem
        insecureSkipVerify: true
{{- end }}
""",
    "prometheusrule.yaml": """{{- range .Values.services }}
{{- $sel := printf "reporter=\\"destination\\",destination_service_namespace=\\"%s\\",destination_service_name=~\\"%s(-canary)?\\"" .namespace .name }}
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels: {{- include "labels" . | nindent 4 }}
spec:
  groups:
    - name: {{ .name }}.slo
      rules:
        {{- range $burn := list (list "FastBurn" "1h" "5m" "0.0144" "2m" "critical") (list "SlowBurn" "6h" "30m" "0.006" "15m" "warning") }}
        - alert: {{ $.Values.alertPrefix }}ErrorBudget{{ index $burn 0 }}
          expr: (sum(rate(istio_requests_total{ {{- $sel -}},response_code=~"5.."}[{{ index $burn 1 }}])) / sum(rate(istio_requests_total{ {{- $sel -}} }[{{ index $burn 1 }}]))) > {{ index $burn 3 }}
          for: {{ index $burn 4 }}
          labels: {severity: {{ index $burn 5 }}, service: {{ $.Values.alertPrefix }}}
        {{- end }}
        - alert: LatencyP99High
          expr: histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{ {{- $sel -}} }[5m]))) > 300
          for: 10m
          labels: {severity: warning}
{{- end }}
""",
    "namespaces.yaml": """{{- range .Values.namespaces }}
---
apiVersion: v1
kind: Namespace
metadata:
  name: {{ . }}
  labels: {app.kubernetes.io/managed-by: helm, istio-injection: enabled}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: {{ . }}}
spec: {mtls: {mode: STRICT}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: default, namespace: {{ . }}}
spec:
  tracing: [{providers: [{name: jaeger}], randomSamplingPercentage: {{ $.Values.sampling }}}]
{{- end }}
""",
    "virtualservice.yaml": """{{- range $host, $routes := .Values.hosts }}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {{ $host | replace "." "-" }}
  namespace: istio-system
spec:
  hosts: [{{ $host }}]
  gateways: [istio-system/public-gateway]
  http:
    {{- range $routes }}
    - name: {{ .name }}-0
      match: [{uri: {prefix: {{ .prefix }}}}]
      route: [{destination: {host: {{ .name }}.{{ .namespace }}.svc.cluster.local, port: {number: 80}}}]
      timeout: 5s
      retries: {attempts: 2, perTryTimeout: 2s, retryOn: "connect-failure,reset"}
    {{- end }}
{{- end }}
""",
}


def helm(services, out):
    chart = f"{out}/helm/chart"
    write(f"{chart}/Chart.yaml", "apiVersion: v2\nname: platform\nversion: 0.1.0\n")
    write(f"{chart}/templates/_helpers.tpl", HELM_LABELS)
    for file, text in HELM_TEMPLATES.items():
        write(f"{chart}/templates/{file}", text)
    for env, conf in ENVS.items():
        values = {"region": REGIONS[0], "alertPrefix": "Svc", "services": [], "hosts": {}, "sampling": conf["sampling"],
                  "namespaces": sorted({f"{s['team']}-{env}" for s in services})}
        for i, s in enumerate(services):
            namespace = f"{s['team']}-{env}"
            image = s["image"] if not patched(i) else f"registry.example.com/{s['team']}/{s['name']}:2.0.{i % 11}"
            values["services"].append({
                "name": s["name"], "team": s["team"], "namespace": namespace, "image": image,
                "minReplicas": conf["min"], "maxReplicas": conf["max"] + (4 if patched(i) else 0),
                "config": s["config"],
                "principals": [f"cluster.local/ns/{team(int(c[4:]))}-{env}/sa/{c}" for c in s["callers"]]
                + ["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"],
            })
            host = f"{s['host']}.{conf['domain']}"
            values["hosts"].setdefault(host, []).append({"name": s["name"], "namespace": namespace, "prefix": s["prefix"]})
        write(f"{out}/helm/values-{env}.yaml", json.dumps(values, indent=1))


# --- Kustomize: a base per service, an overlay per environment -------------

def kustomize(services, out, rendered):
    """Bases are the objects of one cluster as slipway rendered them (so the
    objects are the same); each environment's overlay lists every service
    and patches every fifth one, as the slipway overlays do."""
    for s in services:
        source = f"{rendered}/prod/us-east-1/{s['name']}"
        files = sorted(f for f in os.listdir(source) if f.endswith(".yaml"))
        for f in files:
            with open(f"{source}/{f}") as src:
                write(f"{out}/kustomize/base/{s['name']}/{f}", src.read())
        write(f"{out}/kustomize/base/{s['name']}/kustomization.yaml",
              "resources:\n" + "".join(f"  - {f}\n" for f in files))
    shared = []
    for folder in ["_gateway"] + [f"_namespaces/{ns}" for ns in sorted(os.listdir(f"{rendered}/prod/us-east-1/_namespaces"))]:
        files = sorted(os.listdir(f"{rendered}/prod/us-east-1/{folder}"))
        base = folder.replace("/", "-")
        for f in files:
            with open(f"{rendered}/prod/us-east-1/{folder}/{f}") as src:
                write(f"{out}/kustomize/base/{base}/{f}", src.read())
        write(f"{out}/kustomize/base/{base}/kustomization.yaml", "resources:\n" + "".join(f"  - {f}\n" for f in files))
        shared.append(base)
    for env, conf in ENVS.items():
        lines = ["resources:"] + [f"  - ../../base/{b}" for b in shared] + [f"  - ../../base/{s['name']}" for s in services]
        lines += ["images:"] + [
            f"  - name: registry.example.com/{s['team']}/{s['name']}\n    newTag: 2.0.{i % 11}"
            for i, s in enumerate(services) if patched(i)
        ]
        lines += ["patches:"] + [
            f"  - target: {{kind: HorizontalPodAutoscaler, name: {s['name']}}}\n"
            f"    patch: '[{{\"op\": \"replace\", \"path\": \"/spec/maxReplicas\", \"value\": {conf['max'] + 4}}}]'"
            for i, s in enumerate(services) if patched(i)
        ]
        write(f"{out}/kustomize/overlays/{env}/kustomization.yaml", "\n".join(lines) + "\n")


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    services = [service(i, n) for i in range(n)]
    for s in services:
        write(f"{out}/slipway/blueprints/{s['name']}.yaml", blueprint(s))
    for env, conf in ENVS.items():
        write(f"{out}/slipway/overlays/{env}.yaml", overlay(env, conf, n))
    helm(services, out)
    if len(sys.argv) > 3:
        kustomize(services, out, sys.argv[3])
    print(f"generated {n} services in {out}")


if __name__ == "__main__":
    main()
