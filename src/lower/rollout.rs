//! Canary delivery: an Argo Rollout in place of the Deployment, shifting the
//! Istio weights of every route of the service, watched by an
//! AnalysisTemplate over Istio's standard request metrics.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;

use super::mesh::{gateway_route_name, route_name};
use super::meta::{object_meta, selector, sync_before_workloads, workload_labels};
use super::service::canary_name;
use super::workload::fixed_replicas;
use crate::crd::argo::{
    AnalysisTemplate, AnalysisTemplateSpec, Arg, CanaryStep, CanaryStrategy, IstioRouting, Metric,
    MetricProvider, Pause, PrometheusQuery, Rollout, RolloutAnalysis, RolloutSpec, RolloutStrategy,
    TemplateRef, TrafficRouting, VirtualServiceRef,
};
use crate::model::{self, Canary, Environment, Service, is_http};

/// Consecutive failed measurements that abort a canary.
const FAILURE_LIMIT: i32 = 3;

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
                        istio: IstioRouting {
                            virtual_services: virtual_services(service),
                        },
                    },
                    steps: canary.steps.iter().map(step).collect(),
                    analysis: canary.analysis.as_ref().map(|_| analysis_of(service)),
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

fn step(step: &model::CanaryStep) -> CanaryStep {
    match step {
        model::CanaryStep::SetWeight(weight) => CanaryStep {
            set_weight: Some(*weight),
            pause: None,
        },
        model::CanaryStep::Pause(duration) => CanaryStep {
            set_weight: None,
            pause: Some(Pause {
                duration: duration.clone(),
            }),
        },
    }
}

/// Background analysis over the whole rollout, measuring the canary Service.
fn analysis_of(service: &Service) -> RolloutAnalysis {
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
    }
}

/// Success rate and p99 latency of the canary, from Istio's request metrics
/// as reported by the receiving sidecars. No traffic yet counts as passing.
/// The model guarantees an analysis measures at least one of the two.
pub fn analysis_template(
    service: &Service,
    canary: &Canary,
    env: &Environment,
) -> Option<AnalysisTemplate> {
    let analysis = canary.analysis.as_ref()?;
    let window = &analysis.interval;
    let selector = r#"reporter="destination",destination_service_namespace="{{args.namespace}}",destination_service_name="{{args.service}}""#;
    let metric = |name: &str, condition: String, query: String| Metric {
        name: name.into(),
        interval: window.clone(),
        success_condition: format!("len(result) == 0 || isNaN(result[0]) || {condition}"),
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
        metrics.push(metric(
            "success-rate",
            format!("result[0] >= {rate}"),
            format!(
                r#"sum(rate(istio_requests_total{{{selector},response_code!~"5.."}}[{window}])) / sum(rate(istio_requests_total{{{selector}}}[{window}]))"#
            ),
        ));
    }
    if let Some(p99) = analysis.p99_latency_ms {
        metrics.push(metric(
            "latency-p99",
            format!("result[0] <= {p99}"),
            format!(
                "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[{window}])))"
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
