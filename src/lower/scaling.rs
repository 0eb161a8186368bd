//! HorizontalPodAutoscaler (autoscaling/v2) and PodDisruptionBudget (policy/v1).

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{object_meta, selector};
use crate::input::IntOrPercent;
use crate::model::{Disruption, Replicas, Service};

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
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: service.name.clone(),
            },
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
