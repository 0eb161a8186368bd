//! Canary delivery: an Argo Rollout in place of the Deployment, shifting the
//! Istio weights of every route of the service, watched by an
//! AnalysisTemplate over Istio's standard request metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::PodTemplateSpec;

use super::mesh::{gateway_route_name, route_name};
use super::meta::{object_meta, selector, sync_before_workloads, workload_labels};
use super::monitoring::failed_requests;
use super::service::canary_name;
use super::workload::fixed_replicas;
use crate::crd::argo::{
    AnalysisTemplate, AnalysisTemplateSpec, Arg, CanaryStep, CanaryStrategy, HeaderRoutingMatch,
    IstioRouting, ManagedRoute, Metric, MetricProvider, Pause, PrometheusQuery, Rollout,
    RolloutAnalysis, RolloutSpec, RolloutStrategy, SetHeaderRoute, StringMatch, TemplateRef,
    TrafficRouting, VirtualServiceRef,
};
use crate::model::{self, Canary, Environment, HeaderMatch, HeaderRoute, Service, is_http};

/// Failed measurements a metric tolerates. Argo Rollouts fails a metric when
/// its failures exceed the limit (`result.Failed > failureLimit`,
/// argo-rollouts `analysis/analysis.go`), so the fourth failed measurement
/// aborts the canary; failures count over the whole run, not in a row.
const FAILURE_LIMIT: i32 = 3;
/// Scrapes a query window holds at least: `rate()` drops a series with fewer
/// than two samples in its window, and four leave room for a late or missed
/// scrape (the usual rule, "at least 4x the scrape interval").
const SCRAPES_PER_WINDOW: u32 = 4;

pub fn rollout(service: &Service, canary: &Canary, template: PodTemplateSpec) -> Rollout {
    let mut metadata = object_meta(service, &service.name);
    metadata.labels = Some(workload_labels(service));
    Rollout {
        metadata,
        spec: RolloutSpec {
            replicas: fixed_replicas(service),
            selector: selector(service),
            template,
            strategy: RolloutStrategy {
                canary: CanaryStrategy {
                    canary_service: canary_name(service),
                    stable_service: service.name.clone(),
                    traffic_routing: TrafficRouting {
                        managed_routes: canary
                            .header_route
                            .iter()
                            .map(|route| ManagedRoute {
                                name: route.name.clone(),
                            })
                            .collect(),
                        istio: IstioRouting {
                            virtual_services: virtual_services(service),
                        },
                    },
                    steps: steps(canary),
                    analysis: canary
                        .analysis
                        .as_ref()
                        .map(|_| analysis_of(service, canary)),
                },
            },
        },
    }
}

/// Every VirtualService that routes to the service, with the routes whose
/// weights the Rollout shifts: one per gateway host, and the in-mesh one.
fn virtual_services(service: &Service) -> Vec<VirtualServiceRef> {
    let mut by_host: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (index, route) in service.routes.iter().enumerate() {
        by_host
            .entry(&route.host)
            .or_default()
            .push(route_name(service, index));
    }
    let mut refs: Vec<VirtualServiceRef> = by_host
        .into_iter()
        .map(|(host, routes)| {
            let name = gateway_route_name(host);
            let name = if service.gateway.namespace == service.namespace {
                name
            } else {
                format!("{name}.{}", service.gateway.namespace)
            };
            VirtualServiceRef { name, routes }
        })
        .collect();
    refs.push(VirtualServiceRef {
        name: service.name.clone(),
        routes: service
            .ports
            .iter()
            .filter(|p| is_http(p.protocol))
            .map(|p| p.name.clone())
            .collect(),
    });
    refs
}

/// The blueprint's steps, and a header route's `setHeaderRoute` right
/// after the first `setWeight` above 0: from then on the canary has pods
/// (Argo Rollouts scales it with its weight). Argo Rollouts removes the
/// managed route when the rollout is promoted or aborted
/// (`RemoveManagedRoutes`, argo-rollouts `rollout/trafficrouting.go`).
fn steps(canary: &Canary) -> Vec<CanaryStep> {
    let mut steps: Vec<CanaryStep> = canary.steps.iter().map(step).collect();
    if let (Some(route), Some(first)) = (&canary.header_route, first_weighted(canary)) {
        steps.insert(
            first + 1,
            CanaryStep {
                set_header_route: Some(set_header_route(route)),
                ..CanaryStep::default()
            },
        );
    }
    steps
}

/// The index of the first step that gives the canary traffic.
fn first_weighted(canary: &Canary) -> Option<usize> {
    canary
        .steps
        .iter()
        .position(|s| matches!(s, model::CanaryStep::SetWeight(w) if *w > 0))
}

fn set_header_route(route: &HeaderRoute) -> SetHeaderRoute {
    let mut value = StringMatch::default();
    match &route.value {
        HeaderMatch::Exact(text) => value.exact = Some(text.clone()),
        HeaderMatch::Prefix(text) => value.prefix = Some(text.clone()),
        HeaderMatch::Regex(text) => value.regex = Some(text.clone()),
    }
    SetHeaderRoute {
        name: route.name.clone(),
        matches: vec![HeaderRoutingMatch {
            header_name: route.header.clone(),
            header_value: value,
        }],
    }
}

fn step(step: &model::CanaryStep) -> CanaryStep {
    match step {
        model::CanaryStep::SetWeight(weight) => CanaryStep {
            set_weight: Some(*weight),
            ..CanaryStep::default()
        },
        model::CanaryStep::Pause(duration) => CanaryStep {
            pause: Some(Pause {
                duration: duration.clone(),
            }),
            ..CanaryStep::default()
        },
    }
}

/// Background analysis measuring the canary Service, from the step after
/// the first that gives the canary traffic to the end of the rollout: before
/// that there is nothing to measure, and no traffic is Inconclusive, which
/// would pause every rollout at its start. A canary that never gets traffic
/// is analysed from the start, and pauses.
fn analysis_of(service: &Service, canary: &Canary) -> RolloutAnalysis {
    let starting_step = first_weighted(canary).and_then(|index| i32::try_from(index + 1).ok());
    RolloutAnalysis {
        templates: vec![TemplateRef {
            template_name: service.name.clone(),
        }],
        args: vec![
            Arg {
                name: "service".into(),
                value: Some(canary_name(service)),
            },
            Arg {
                name: "namespace".into(),
                value: Some(service.namespace.clone()),
            },
        ],
        starting_step,
    }
}

/// Success rate and p99 latency of the canary, from Istio's request metrics
/// as reported by the receiving sidecars, over a window of at least
/// `interval` and four scrapes. Each query returns one value when the
/// canary served requests in the window and nothing otherwise; each metric
/// sets both conditions, so Argo Rollouts evaluates (argo-rollouts
/// `utils/evaluate/evaluate.go`, `EvaluateResult`):
///
/// - a value that meets the objective: Successful;
/// - a value that misses it: Failed (every request failing gives 0);
/// - no value, no traffic: neither condition holds, Inconclusive, and an
///   Inconclusive run pauses the Rollout for a human to promote or abort
///   (`rollout/analysis.go`). `len(result) == 1` comes first so that
///   `result[0]` is never read from an empty result, which would be an
///   Error instead.
///
/// The first measurement waits one window (`initialDelay`), so that the
/// window holds only time in which the canary had traffic. The model
/// guarantees an analysis measures at least one of the two.
pub fn analysis_template(
    service: &Service,
    canary: &Canary,
    env: &Environment,
) -> Option<AnalysisTemplate> {
    let analysis = canary.analysis.as_ref()?;
    let window = promql_duration(
        analysis.interval_length.max(
            analysis
                .scrape_interval
                .checked_mul(SCRAPES_PER_WINDOW)
                .unwrap_or(Duration::MAX),
        ),
    );
    let selector = r#"reporter="destination",destination_service_namespace="{{args.namespace}}",destination_service_name="{{args.service}}""#;
    let metric = |name: &str, [success, failure]: [String; 2], query: String| Metric {
        name: name.into(),
        interval: analysis.interval.clone(),
        initial_delay: window.clone(),
        success_condition: format!("len(result) == 1 && {success}"),
        failure_condition: format!("len(result) == 1 && {failure}"),
        failure_limit: FAILURE_LIMIT,
        provider: MetricProvider {
            prometheus: PrometheusQuery {
                address: env.prometheus_url.clone(),
                query,
            },
        },
    };
    let mut metrics = Vec::new();
    if let Some(rate) = analysis.success_rate {
        // No failed request leaves the numerator without series: `or
        // vector(0)` makes it 0. No request leaves the denominator 0 or
        // without series: `> 0` drops it, and the result is empty.
        metrics.push(metric(
            "success-rate",
            [format!("result[0] >= {rate}"), format!("result[0] < {rate}")],
            format!(
                "1 - (sum({}) or vector(0)) / (sum(rate(istio_requests_total{{{selector}}}[{window}])) > 0)",
                failed_requests(selector, &window)
            ),
        ));
    }
    if let Some(p99) = analysis.p99_latency_ms {
        // `histogram_quantile` of buckets that did not grow is NaN: keep it
        // only when the `+Inf` bucket, every request, grew.
        let buckets = format!("istio_request_duration_milliseconds_bucket{{{selector}");
        metrics.push(metric(
            "latency-p99",
            [format!("result[0] <= {p99}"), format!("result[0] > {p99}")],
            format!(
                r#"histogram_quantile(0.99, sum by (le) (rate({buckets}}}[{window}]))) and on() (sum(rate({buckets},le="+Inf"}}[{window}])) > 0)"#
            ),
        ));
    }
    let mut metadata = object_meta(service, &service.name);
    sync_before_workloads(&mut metadata);
    Some(AnalysisTemplate {
        metadata,
        spec: AnalysisTemplateSpec {
            args: vec![
                Arg {
                    name: "service".into(),
                    value: None,
                },
                Arg {
                    name: "namespace".into(),
                    value: None,
                },
            ],
            metrics,
        },
    })
}

/// A duration as PromQL and Go both read it: `2m`, `1m30s`, `1s500ms`.
fn promql_duration(length: Duration) -> String {
    let mut millis = length.as_millis();
    if millis == 0 {
        return "0s".into();
    }
    let mut text = String::new();
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if millis >= size {
            text.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_as_promql_durations() {
        let text = |ms| promql_duration(Duration::from_millis(ms));
        assert_eq!(text(120_000), "2m");
        assert_eq!(text(90_000), "1m30s");
        assert_eq!(text(3_600_000), "1h");
        assert_eq!(text(5_430_500), "1h30m30s500ms");
        assert_eq!(text(0), "0s");
    }
}
