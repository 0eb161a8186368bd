//! Istio: networking.istio.io/v1, security.istio.io/v1, telemetry.istio.io/v1.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kind;

pub type VirtualService = super::Custom<VirtualServiceSpec>;
pub type DestinationRule = super::Custom<DestinationRuleSpec>;
pub type AuthorizationPolicy = super::Custom<AuthorizationPolicySpec>;
pub type PeerAuthentication = super::Custom<PeerAuthenticationSpec>;
pub type Telemetry = super::Custom<TelemetrySpec>;

kind!(
    VirtualServiceSpec,
    "networking.istio.io/v1",
    "VirtualService"
);
kind!(
    DestinationRuleSpec,
    "networking.istio.io/v1",
    "DestinationRule"
);
kind!(
    AuthorizationPolicySpec,
    "security.istio.io/v1",
    "AuthorizationPolicy"
);
kind!(
    PeerAuthenticationSpec,
    "security.istio.io/v1",
    "PeerAuthentication"
);
kind!(TelemetrySpec, "telemetry.istio.io/v1", "Telemetry");

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VirtualServiceSpec {
    pub hosts: Vec<String>,
    /// Empty means the mesh (Istio's default).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    pub http: Vec<HttpRoute>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HttpRoute {
    pub name: String,
    #[serde(rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HttpMatch>,
    pub route: Vec<RouteDestination>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HttpMatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<StringMatch>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, StringMatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Regex(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteDestination {
    pub destination: Destination,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Destination {
    pub host: String,
    pub port: PortSelector,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PortSelector {
    pub number: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retries {
    pub attempts: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Fault {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort: Option<Abort>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delay {
    pub percentage: Percentage,
    pub fixed_delay: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Abort {
    pub percentage: Percentage,
    pub http_status: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Percentage {
    pub value: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRuleSpec {
    pub host: String,
    pub traffic_policy: TrafficPolicy,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficPolicy {
    pub tls: Tls,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Tls {
    pub mode: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutlierDetection {
    #[serde(
        rename = "consecutive5xxErrors",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_5xx_errors: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_ejection_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ConnectionPool {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpPool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpPool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpPool {
    #[serde(
        rename = "http1MaxPendingRequests",
        skip_serializing_if = "Option::is_none"
    )]
    pub http1_max_pending_requests: Option<u32>,
    #[serde(rename = "http2MaxRequests", skip_serializing_if = "Option::is_none")]
    pub http2_max_requests: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_requests_per_connection: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpPool {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<String>,
}

/// `action` is left out: ALLOW is the default. A policy without rules
/// allows nothing: deny by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AuthorizationPolicySpec {
    pub selector: WorkloadSelector,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<AuthorizationRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AuthorizationRule {
    pub from: Vec<RuleFrom>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<RuleTo>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleFrom {
    pub source: Source,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Source {
    pub principals: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleTo {
    pub operation: Operation,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Operation {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(rename = "notPaths", skip_serializing_if = "Vec::is_empty")]
    pub not_paths: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PeerAuthenticationSpec {
    pub mtls: Mtls,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Mtls {
    pub mode: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TelemetrySpec {
    pub tracing: Vec<Tracing>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracing {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<Provider>,
    pub random_sampling_percentage: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Provider {
    pub name: String,
}
