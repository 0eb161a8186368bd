//! HorizontalPodAutoscaler (autoscaling/v2) and PodDisruptionBudget (policy/v1).

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::Deployment;

use super::meta::{object_meta, selector};
use crate::crd::Kind;
use crate::crd::argo::RolloutSpec;
use crate::model::{Disruption, IntOrPercent, Replicas, Service};

/// An HPA on CPU utilization, for a service whose replica count varies.
pub fn autoscaler(service: &Service) -> Option<HorizontalPodAutoscaler> {
    let Replicas::Auto {
        min,
        max,
        cpu_target,
    } = service.replicas
    else {
        return None;
    };
    Some(HorizontalPodAutoscaler {
        metadata: object_meta(service, &service.name),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: scale_target(service),
            min_replicas: Some(min),
            max_replicas: max,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(cpu_target),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            ..HorizontalPodAutoscalerSpec::default()
        },
        ..HorizontalPodAutoscaler::default()
    })
}

/// The Deployment, or the Rollout that replaces it for a canary.
fn scale_target(service: &Service) -> CrossVersionObjectReference {
    let (api_version, kind) = match service.canary {
        Some(_) => (RolloutSpec::API_VERSION, RolloutSpec::KIND),
        None => (Deployment::API_VERSION, Deployment::KIND),
    };
    CrossVersionObjectReference {
        api_version: Some(api_version.into()),
        kind: kind.into(),
        name: service.name.clone(),
    }
}

/// One budget over stable and canary pods alike: they share the selector.
pub fn disruption_budget(service: &Service) -> Option<PodDisruptionBudget> {
    let disruption = service.disruption.as_ref()?;
    let (min_available, max_unavailable) = match disruption {
        Disruption::MinAvailable(n) => (Some(int_or_string(n)), None),
        Disruption::MaxUnavailable(n) => (None, Some(int_or_string(n))),
    };
    Some(PodDisruptionBudget {
        metadata: object_meta(service, &service.name),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(selector(service)),
            min_available,
            max_unavailable,
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}

fn int_or_string(value: &IntOrPercent) -> IntOrString {
    match value {
        IntOrPercent::Int(n) => IntOrString::Int(*n),
        IntOrPercent::Percent(p) => IntOrString::String(p.clone()),
    }
}
