//! Argo Rollouts: argoproj.io/v1alpha1 Rollout and AnalysisTemplate.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;

use super::kind;

pub type Rollout = super::Custom<RolloutSpec>;
pub type AnalysisTemplate = super::Custom<AnalysisTemplateSpec>;

kind!(RolloutSpec, "argoproj.io/v1alpha1", "Rollout");
kind!(
    AnalysisTemplateSpec,
    "argoproj.io/v1alpha1",
    "AnalysisTemplate"
);

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RolloutSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    pub selector: LabelSelector,
    pub template: PodTemplateSpec,
    pub strategy: RolloutStrategy,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RolloutStrategy {
    pub canary: CanaryStrategy,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStrategy {
    pub canary_service: String,
    pub stable_service: String,
    pub traffic_routing: TrafficRouting,
    pub steps: Vec<CanaryStep>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<RolloutAnalysis>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficRouting {
    /// The routes `setHeaderRoute` steps add, in precedence order (upstream
    /// `MangedRoutes`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managed_routes: Vec<ManagedRoute>,
    pub istio: IstioRouting,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ManagedRoute {
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioRouting {
    pub virtual_services: Vec<VirtualServiceRef>,
}

/// `name` is `<name>` or `<name>.<namespace>` for a VirtualService in another namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VirtualServiceRef {
    pub name: String,
    pub routes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_weight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_header_route: Option<SetHeaderRoute>,
}

/// Route requests whose headers match to the canary, under a managed route.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SetHeaderRoute {
    pub name: String,
    #[serde(rename = "match")]
    pub matches: Vec<HeaderRoutingMatch>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderRoutingMatch {
    pub header_name: String,
    pub header_value: StringMatch,
}

/// Exactly one of the three (upstream `StringMatch`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StringMatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Pause {
    pub duration: String,
}

/// Background analysis (upstream `RolloutAnalysisBackground`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutAnalysis {
    pub templates: Vec<TemplateRef>,
    pub args: Vec<Arg>,
    /// The index of the step the analysis starts at (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_step: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    pub template_name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Arg {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AnalysisTemplateSpec {
    pub args: Vec<Arg>,
    pub metrics: Vec<Metric>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub name: String,
    pub interval: String,
    pub initial_delay: String,
    pub success_condition: String,
    pub failure_condition: String,
    pub failure_limit: i32,
    pub provider: MetricProvider,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricProvider {
    pub prometheus: PrometheusQuery,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PrometheusQuery {
    pub address: String,
    pub query: String,
}
