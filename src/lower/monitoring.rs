//! Prometheus Operator: how Prometheus scrapes a service and its sidecar
//! through STRICT mTLS, and SLO alerts (multi-window error-budget burn, p99
//! latency) on Istio's request metrics.
//!
//! The environment's [`ScrapeMode`] picks one of the two ways Istio
//! documents:
//!
//! - `merged`: the pods' `prometheus.io/*` annotations tell Istio's agent
//!   where the app's metrics are; the agent serves them with Envoy's on its
//!   status port (15020), which inbound capture leaves out. One PodMonitor
//!   scrapes that endpoint on every pod: app and sidecar metrics in one
//!   scrape, plain HTTP, no AuthorizationPolicy rule.
//! - `istio-certs`: a ServiceMonitor scrapes the metrics port over HTTPS
//!   with the certificate Prometheus' own sidecar writes for it (only a
//!   ServiceMonitor's TLS can name files), through the inbound listener
//!   where mTLS and the AuthorizationPolicy apply; a PodMonitor scrapes
//!   Envoy's own stats port (15090), outside capture.
//!
//! Either way the canary's pods are scraped during a rollout as well as
//! the stable ones, and every pod once.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::{NAME_LABEL, object_meta, selector};
use super::service::canary_name;
use crate::crd::monitoring::{
    AlertRule, Endpoint, PodMetricsEndpoint, PodMonitor, PodMonitorSpec, PrometheusRule,
    PrometheusRuleSpec, Relabeling, RuleGroup, ServiceMonitor, ServiceMonitorSpec, TlsConfig,
};
use crate::model::{Environment, ScrapeMode, Service};

/// The container Istio injects.
pub const SIDECAR_CONTAINER: &str = "istio-proxy";
/// The injected sidecar's port for Envoy's own metrics (15090).
pub const SIDECAR_STATS_PORT: &str = "http-envoy-prom";
/// Its number, as Istio's injection template declares it.
pub const ENVOY_STATS_PORT: i32 = 15090;
/// The agent's status port, where merged metrics are served and rewritten
/// probes go (Istio's default `statusPort`).
pub const AGENT_PORT: i32 = 15020;
/// Where Envoy (15090) and, merged, the agent (15020) serve metrics.
pub const SIDECAR_STATS_PATH: &str = "/stats/prometheus";
/// The pod annotation that tells Istio's agent which port to merge
/// metrics from (the injector then points it at the agent).
pub const PORT_ANNOTATION: &str = "prometheus.io/port";
const SCRAPE_ANNOTATION: &str = "prometheus.io/scrape";
const PATH_ANNOTATION: &str = "prometheus.io/path";
/// Where Prometheus' container mounts the certificates its Istio sidecar
/// writes (`OUTPUT_CERTS`), as Istio's Prometheus integration docs do.
pub const PROMETHEUS_CERTS: &str = "/etc/prom-certs";

/// Metadata of a monitor or rule: the service's, plus the labels the
/// cluster's Prometheus selects by.
fn monitor_meta(service: &Service, env: &Environment) -> ObjectMeta {
    let mut meta = object_meta(service, &service.name);
    let labels = meta.labels.get_or_insert_default();
    labels.extend(env.monitoring.labels.clone());
    meta
}

/// `merged`: the annotations on the pod template that make Istio's agent
/// fetch the app's metrics from `localhost:<port><path>` and merge them
/// into its own endpoint. The injector rewrites them on the pod (to 15020
/// and `/stats/prometheus`), not on the workload, so Argo CD sees no drift.
pub fn annotate_pods(service: &Service, env: &Environment, template: &mut PodTemplateSpec) {
    if env.monitoring.scrape != ScrapeMode::Merged {
        return;
    }
    let (Some(metrics), Some(port)) = (&service.metrics, service.metrics_port()) else {
        return;
    };
    let mut annotations = BTreeMap::from([
        (SCRAPE_ANNOTATION.to_owned(), "true".to_owned()),
        (PORT_ANNOTATION.to_owned(), port.target_port.to_string()),
    ]);
    // Without a path the agent asks for `/metrics`, as Prometheus would.
    if let Some(path) = &metrics.path {
        annotations.insert(PATH_ANNOTATION.into(), path.clone());
    }
    template
        .metadata
        .get_or_insert_default()
        .annotations
        .get_or_insert_default()
        .extend(annotations);
}

/// `istio-certs`: the metrics port over HTTPS, as Prometheus' own mesh
/// identity. It selects the Service and, for a canary, the canary Service
/// too: Argo Rollouts pins each to one ReplicaSet during a rollout, so the
/// canary's pods are found through the canary Service. Between rollouts
/// both select the same pods; the job comes from `app.kubernetes.io/name`
/// and `service` is set to the service's name, so both Services give each
/// pod the very same target, which Prometheus scrapes once.
pub fn service_monitor(service: &Service, env: &Environment) -> Option<ServiceMonitor> {
    if env.monitoring.scrape != ScrapeMode::IstioCerts {
        return None;
    }
    let metrics = service.metrics.as_ref()?;
    let canary = service.canary.is_some();
    let one_target = Relabeling {
        action: Some("replace".into()),
        target_label: Some("service".into()),
        replacement: Some(service.name.clone()),
        ..Relabeling::default()
    };
    Some(ServiceMonitor {
        metadata: monitor_meta(service, env),
        spec: ServiceMonitorSpec {
            job_label: canary.then(|| NAME_LABEL.to_owned()),
            selector: selector(service),
            endpoints: vec![Endpoint {
                port: metrics.port.clone(),
                path: metrics.path.clone(),
                interval: metrics.interval.clone(),
                scheme: Some("https".into()),
                tls_config: Some(istio_certs()),
                relabelings: if canary { vec![one_target] } else { Vec::new() },
            }],
        },
    })
}

/// The files an istio-proxy with `OUTPUT_CERTS` writes. The target's
/// certificate carries only its SPIFFE identity, no name Prometheus could
/// check against the pod's address, so the server is not verified; the
/// client certificate is still presented, and the target's sidecar
/// authenticates and authorizes Prometheus by it.
fn istio_certs() -> TlsConfig {
    TlsConfig {
        ca_file: format!("{PROMETHEUS_CERTS}/root-cert.pem"),
        cert_file: format!("{PROMETHEUS_CERTS}/cert-chain.pem"),
        key_file: format!("{PROMETHEUS_CERTS}/key.pem"),
        insecure_skip_verify: true,
    }
}

/// The sidecar's metrics, where `istio_requests_total` and
/// `istio_request_duration_milliseconds_bucket` come from, for every pod of
/// the service (stable and canary), unless the cluster already scrapes
/// every sidecar. `merged`: the agent's endpoint, which carries the app's
/// metrics too; `istio-certs`: Envoy's own port, without them.
pub fn pod_monitor(service: &Service, env: &Environment) -> Option<PodMonitor> {
    if env.monitoring.mesh_scraped {
        return None;
    }
    let interval = service.metrics.as_ref().and_then(|m| m.interval.clone());
    let endpoint = match env.monitoring.scrape {
        ScrapeMode::Merged => PodMetricsEndpoint {
            port: None,
            path: Some(SIDECAR_STATS_PATH.into()),
            interval,
            relabelings: merged_endpoint(),
        },
        ScrapeMode::IstioCerts => PodMetricsEndpoint {
            port: Some(SIDECAR_STATS_PORT.into()),
            path: Some(SIDECAR_STATS_PATH.into()),
            interval,
            relabelings: Vec::new(),
        },
    };
    Some(PodMonitor {
        metadata: monitor_meta(service, env),
        spec: PodMonitorSpec {
            selector: selector(service),
            pod_metrics_endpoints: vec![endpoint],
        },
    })
}

/// The relabelings of Istio's Prometheus Operator sample
/// (`samples/addons/extras/prometheus-operator.yaml`): keep the sidecar's
/// target and send it to the port the injector wrote into
/// `prometheus.io/port` (the agent's, 15020), IPv6 or IPv4. The sample's
/// `keep` on that annotation is left out: without it (merging turned off
/// mesh-wide, and no metrics of the app's own) the target stays on Envoy's
/// port 15090, so the sidecar's metrics are still scraped. The sample's
/// `namespace` and `pod` labels are ones the operator sets itself.
fn merged_endpoint() -> Vec<Relabeling> {
    let address = |regex: &str, replacement: &str| Relabeling {
        action: Some("replace".into()),
        source_labels: vec![
            "__meta_kubernetes_pod_annotation_prometheus_io_port".into(),
            "__meta_kubernetes_pod_ip".into(),
        ],
        regex: Some(regex.into()),
        replacement: Some(replacement.into()),
        target_label: Some("__address__".into()),
    };
    vec![
        Relabeling {
            action: Some("keep".into()),
            source_labels: vec!["__meta_kubernetes_pod_container_name".into()],
            regex: Some(SIDECAR_CONTAINER.into()),
            ..Relabeling::default()
        },
        address(
            r"(\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})",
            "[$2]:$1",
        ),
        address(r"(\d+);((([0-9]+?)(\.|$)){4})", "$2:$1"),
    ]
}

/// Istio's request metrics of the requests that failed, per series, over
/// `window`: a 5xx response, or a gRPC status other than 0 (OK). gRPC calls
/// fail with HTTP 200 and their status in `grpc_response_status`, which Istio
/// leaves empty for requests that are not gRPC (istio/proxy,
/// `source/extensions/filters/http/istio_stats/istio_stats.cc`,
/// `onStreamComplete`). `or` joins the two without counting a request twice:
/// a series in both is the same series. The SLO alerts and the canary
/// analysis count errors the same way.
pub(super) fn failed_requests(selector: &str, window: &str) -> String {
    format!(
        r#"rate(istio_requests_total{{{selector},response_code=~"5.."}}[{window}]) or rate(istio_requests_total{{{selector},grpc_response_status!~"|0"}}[{window}])"#
    )
}

/// Burn-rate windows (long, short), the factor over the budget, how long it
/// must hold, and the severity: the fast burn pages, the slow one tickets.
/// The factors are those of a 30-day budget (Google's SRE workbook,
/// "Alerting on SLOs": 2% of the budget in an hour, 5% in six).
pub(super) const BURN_ALERTS: [(&str, &str, &str, f64, &str, &str); 2] = [
    ("ErrorBudgetFastBurn", "1h", "5m", 14.4, "2m", "critical"),
    ("ErrorBudgetSlowBurn", "6h", "30m", 6.0, "15m", "warning"),
];

/// The service's requests in Istio's request metrics, as its own sidecars
/// report them, and its canary Service's during a rollout (that name may be
/// shortened, so it is named, not patterned). The SLO alerts and the
/// dashboards select by it.
pub(super) fn requests_selector(service: &Service) -> String {
    let names = match &service.canary {
        Some(_) => format!("{}|{}", service.name, canary_name(service)),
        None => service.name.clone(),
    };
    format!(
        r#"reporter="destination",destination_service_namespace="{}",destination_service_name=~"{names}""#,
        service.namespace
    )
}

/// The error ratio of the service's requests over `window`, from 0 to 1.
/// No failed request leaves the numerator without series: `or vector(0)`
/// makes it 0. No request at all leaves no result.
pub(super) fn error_ratio(selector: &str, window: &str) -> String {
    format!(
        "((sum({}) or vector(0)) / sum(rate(istio_requests_total{{{selector}}}[{window}])))",
        failed_requests(selector, window)
    )
}

pub fn prometheus_rule(service: &Service, env: &Environment) -> Option<PrometheusRule> {
    let slo = service.slo.as_ref()?;
    let selector = requests_selector(service);
    let mut rules = Vec::new();
    if let Some(availability) = slo.availability {
        let budget = 1.0 - availability / 100.0;
        for (name, long, short, factor, hold, severity) in BURN_ALERTS {
            let ratio = |window: &str| {
                format!(
                    "(sum({}) / sum(rate(istio_requests_total{{{selector}}}[{window}])))",
                    failed_requests(&selector, window)
                )
            };
            let threshold = number(factor * budget);
            rules.push(alert(
                service,
                name,
                format!("{} > {threshold} and {} > {threshold}", ratio(long), ratio(short)),
                hold,
                severity,
                format!("{} is burning its error budget {factor}x too fast", service.name),
                format!(
                    "The error ratio (5xx responses and failed gRPC calls) of {} in {} over {long} and {short} is above {threshold}, {factor} times the budget of a {availability}% availability objective.",
                    service.name, service.namespace
                ),
            ));
        }
    }
    if let Some(p99) = slo.p99_latency_ms {
        rules.push(alert(
            service,
            "LatencyP99High",
            format!(
                "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[5m]))) > {p99}"
            ),
            "10m",
            "warning",
            format!("{} p99 latency is above {p99}ms", service.name),
            format!("The 99th percentile request latency of {} in {} has been above its {p99}ms objective for 10 minutes.", service.name, service.namespace),
        ));
    }
    Some(PrometheusRule {
        metadata: monitor_meta(service, env),
        spec: PrometheusRuleSpec {
            groups: vec![RuleGroup {
                name: format!("{}.slo", service.name),
                rules,
            }],
        },
    })
}

fn alert(
    service: &Service,
    name: &str,
    expr: String,
    hold: &str,
    severity: &str,
    summary: String,
    description: String,
) -> AlertRule {
    AlertRule {
        alert: format!("{}{name}", pascal_case(&service.name)),
        expr,
        for_: hold.into(),
        labels: BTreeMap::from([
            ("severity".into(), severity.into()),
            ("service".into(), service.name.clone()),
            ("namespace".into(), service.namespace.clone()),
            ("team".into(), service.team.clone()),
        ]),
        annotations: BTreeMap::from([
            ("summary".into(), summary),
            ("description".into(), description),
        ]),
    }
}

/// `order-worker` -> `OrderWorker`.
fn pascal_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A number for PromQL: six significant digits, however small. Float noise
/// (`1 - 0.99999999999` is `1.0000000827e-11`) goes, and a tight SLO's
/// budget never rounds to 0, which would make an alert fire on any error.
pub(super) fn number(value: f64) -> String {
    let rounded: f64 = format!("{value:.5e}").parse().unwrap_or(value);
    rounded.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostic;
    use crate::lower::Object;

    const BLUEPRINT: &str = "apiVersion: slipway.dev/v1alpha1
kind: Blueprint
metadata: {name: shop, team: web}
containers:
  app: {image: registry.example.com/shop:1.0}
service:
  ports:
    http: {port: 80, targetPort: 8080, protocol: HTTP}
    raw: {port: 9000, targetPort: 9000, protocol: TCP}
";

    /// The objects of one service rendered with `monitoring` as the
    /// overlay's `environment.monitoring` and `metrics` as the blueprint's.
    fn render(monitoring: &str, metrics: &str) -> (Vec<Object>, Vec<Diagnostic>) {
        crate::lower::testing::render(
            &format!("{BLUEPRINT}monitoring: {{metrics: {metrics}}}\n"),
            &format!("  monitoring: {monitoring}\n"),
        )
    }

    fn pod_annotations(objects: &[Object]) -> BTreeMap<String, String> {
        objects
            .iter()
            .find_map(|o| match o {
                Object::Deployment(d) => d.spec.template.metadata.clone(),
                _ => None,
            })
            .and_then(|m| m.annotations)
            .unwrap_or_default()
    }

    #[test]
    fn merged_annotates_the_pods_and_scrapes_the_agent_with_istios_relabelings() {
        let (objects, diags) = render("{}", "{port: http}");
        assert!(diags.is_empty(), "{diags:?}");
        // No path: the agent asks for `/metrics`, so none is written.
        assert_eq!(
            pod_annotations(&objects),
            BTreeMap::from([
                ("prometheus.io/port".to_owned(), "8080".to_owned()),
                ("prometheus.io/scrape".to_owned(), "true".to_owned()),
            ])
        );
        assert!(
            !objects
                .iter()
                .any(|o| matches!(o, Object::ServiceMonitor(_)))
        );
        let monitor = objects
            .iter()
            .find_map(|o| match o {
                Object::PodMonitor(m) => Some(m),
                _ => None,
            })
            .expect("a PodMonitor");
        let endpoint = &monitor.spec.pod_metrics_endpoints[0];
        assert_eq!(endpoint.port, None);
        assert_eq!(endpoint.path.as_deref(), Some(SIDECAR_STATS_PATH));
        assert_eq!(endpoint.relabelings.len(), 3);
        assert_eq!(
            endpoint.relabelings[0].regex.as_deref(),
            Some(SIDECAR_CONTAINER)
        );
        for address in &endpoint.relabelings[1..] {
            assert_eq!(address.target_label.as_deref(), Some("__address__"));
            assert_eq!(
                address.source_labels[0],
                "__meta_kubernetes_pod_annotation_prometheus_io_port"
            );
        }
    }

    #[test]
    fn istio_certs_scrapes_over_https_and_envoy_on_its_own_port() {
        let (objects, diags) = render(
            "{scrape: istio-certs, labels: {release: prom}}",
            "{port: http, path: /stats, interval: 15s}",
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert!(pod_annotations(&objects).is_empty());
        let mut kinds = 0;
        for object in &objects {
            let labels = match object {
                Object::ServiceMonitor(m) => {
                    let endpoint = &m.spec.endpoints[0];
                    assert_eq!(endpoint.scheme.as_deref(), Some("https"));
                    let tls = endpoint.tls_config.as_ref().expect("TLS");
                    assert_eq!(tls.cert_file, "/etc/prom-certs/cert-chain.pem");
                    assert!(tls.insecure_skip_verify);
                    // Not a canary: one Service, no relabeling needed.
                    assert_eq!(m.spec.job_label, None);
                    assert!(endpoint.relabelings.is_empty());
                    &m.metadata.labels
                }
                Object::PodMonitor(m) => {
                    let endpoint = &m.spec.pod_metrics_endpoints[0];
                    assert_eq!(endpoint.port.as_deref(), Some(SIDECAR_STATS_PORT));
                    assert_eq!(endpoint.interval.as_deref(), Some("15s"));
                    assert!(endpoint.relabelings.is_empty());
                    &m.metadata.labels
                }
                Object::AuthorizationPolicy(p) => {
                    let to = &p.spec.rules[0].to[0].operation;
                    assert_eq!(to.ports, ["8080"]);
                    assert_eq!(to.paths, ["/stats"]);
                    continue;
                }
                _ => continue,
            };
            kinds += 1;
            let labels = labels.as_ref().expect("labels");
            assert_eq!(labels["release"], "prom");
            // Every label of slipway's own is one an overlay may not set.
            for key in labels.keys().filter(|k| *k != "release") {
                assert!(crate::validate::OWN_LABELS.contains(&key.as_str()), "{key}");
            }
        }
        assert_eq!(kinds, 2);
    }

    #[test]
    fn a_tcp_metrics_port_is_allowed_without_a_path() {
        let (objects, diags) = render("{scrape: istio-certs}", "{port: raw, path: /metrics}");
        assert!(diags.is_empty(), "{diags:?}");
        let policy = objects
            .iter()
            .find_map(|o| match o {
                Object::AuthorizationPolicy(p) => Some(p),
                _ => None,
            })
            .expect("a policy");
        let to = &policy.spec.rules[0].to[0].operation;
        assert_eq!(to.ports, ["9000"]);
        assert!(
            to.paths.is_empty(),
            "Istio would drop the rule on a TCP port"
        );
    }

    #[test]
    fn a_mesh_scraped_already_gets_no_pod_monitor_but_keeps_merging() {
        let (objects, diags) = render("{meshScraped: true}", "{port: http, path: /m}");
        assert!(diags.is_empty(), "{diags:?}");
        assert!(!objects.iter().any(|o| matches!(o, Object::PodMonitor(_))));
        assert_eq!(pod_annotations(&objects)["prometheus.io/path"], "/m");
    }

    #[test]
    fn monitoring_labels_must_be_valid_and_not_slipways_own() {
        let (_, diags) = render(
            "{labels: {team: x, \"Bad Key\": y, release: -x}}",
            "{port: http}",
        );
        let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(
            codes,
            ["reserved-label", "invalid-name", "invalid-name"],
            "{diags:?}"
        );
    }

    #[test]
    fn thresholds_and_names_read_well() {
        assert_eq!(number(14.4 * (1.0 - 99.9 / 100.0)), "0.0144");
        assert_eq!(number(6.0 * 0.0005), "0.003");
        assert_eq!(
            number(14.4 * (1.0 - 99.999999999 / 100.0)),
            "0.000000000144"
        );
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(2.0), "2");
        assert_eq!(pascal_case("order-worker"), "OrderWorker");
    }
}
