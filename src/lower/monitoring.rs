//! Prometheus Operator: a ServiceMonitor for the metrics port, and SLO
//! alerts (multi-window error-budget burn, p99 latency) on Istio's request
//! metrics.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::meta::{object_meta, selector_labels};
use super::service::TRAFFIC_LABEL;
use crate::crd::monitoring::{
    AlertRule, Endpoint, PrometheusRule, PrometheusRuleSpec, RuleGroup, ServiceMonitor,
    ServiceMonitorSpec,
};
use crate::model::Service;

/// Scrapes the stable Service only: the canary Service selects the same pods
/// until Argo Rollouts narrows it, and would count them twice.
pub fn service_monitor(service: &Service) -> Option<ServiceMonitor> {
    let metrics = service.metrics.as_ref()?;
    let excluded = service.canary.as_ref().map(|_| LabelSelectorRequirement {
        key: TRAFFIC_LABEL.into(),
        operator: "NotIn".into(),
        values: Some(vec!["canary".into()]),
    });
    Some(ServiceMonitor {
        metadata: object_meta(service, &service.name),
        spec: ServiceMonitorSpec {
            selector: LabelSelector {
                match_labels: Some(selector_labels(service)),
                match_expressions: excluded.map(|e| vec![e]),
            },
            endpoints: vec![Endpoint {
                port: metrics.port.clone(),
                path: metrics.path.clone(),
                interval: metrics.interval.clone(),
            }],
        },
    })
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
const BURN_ALERTS: [(&str, &str, &str, f64, &str, &str); 2] = [
    ("ErrorBudgetFastBurn", "1h", "5m", 14.4, "2m", "critical"),
    ("ErrorBudgetSlowBurn", "6h", "30m", 6.0, "15m", "warning"),
];

pub fn prometheus_rule(service: &Service) -> Option<PrometheusRule> {
    let slo = service.slo.as_ref()?;
    let selector = format!(
        r#"reporter="destination",destination_service_namespace="{}",destination_service_name=~"{}(-canary)?""#,
        service.namespace, service.name
    );
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
        metadata: object_meta(service, &service.name),
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

/// A threshold without binary floating-point noise: 14.4 * 0.001 -> 0.0144.
fn number(value: f64) -> String {
    let text = format!("{value:.9}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_names_read_well() {
        assert_eq!(number(14.4 * (1.0 - 99.9 / 100.0)), "0.0144");
        assert_eq!(number(6.0 * 0.0005), "0.003");
        assert_eq!(pascal_case("order-worker"), "OrderWorker");
    }
}
