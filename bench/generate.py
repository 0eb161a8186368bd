#!/usr/bin/env python3
"""Generate a synthetic platform of N services, three times over: as slipway
blueprints and overlays, as one Helm chart with values per environment, and
as Kustomize bases with an overlay per environment. All three describe the
same objects per service: ServiceAccount, ConfigMap, Service, Deployment,
HorizontalPodAutoscaler, PodDisruptionBudget, DestinationRule,
AuthorizationPolicy, ServiceMonitor, PrometheusRule, plus the gateway route.

Usage: bench/generate.py N OUT_DIR
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


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    services = [service(i, n) for i in range(n)]
    for s in services:
        write(f"{out}/slipway/blueprints/{s['name']}.yaml", blueprint(s))
    for env, conf in ENVS.items():
        write(f"{out}/slipway/overlays/{env}.yaml", overlay(env, conf, n))
    print(f"generated {n} services in {out}")


if __name__ == "__main__":
    main()
