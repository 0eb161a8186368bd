use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::node::de::Spanned;

/// A service blueprint, after merging (see `schemas/blueprint.schema.json`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Blueprint {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub containers: IndexMap<String, Container>,
    pub service: Option<ServiceSpec>,
    pub placement: Option<Placement>,
    pub scaling: Option<Scaling>,
    pub availability: Option<Availability>,
    #[serde(default)]
    pub routes: Vec<Spanned<Route>>,
    pub mesh: Option<Mesh>,
    pub delivery: Option<Delivery>,
    pub monitoring: Option<Monitoring>,
    pub logging: Option<Logging>,
    #[serde(default)]
    pub dependencies: BTreeMap<String, Spanned<Dependency>>,
}

/// A data store the service needs (Score's `resources`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Dependency {
    #[serde(rename = "type")]
    pub kind: Spanned<StoreKind>,
    pub data_store: Option<Spanned<String>>,
    pub writes: Option<Spanned<Writes>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Postgres,
    Redis,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Writes {
    Primary,
    Local,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    pub name: Spanned<String>,
    pub team: Option<Spanned<String>>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Container {
    pub image: Spanned<String>,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub variables: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub secrets: BTreeMap<String, Spanned<SecretRef>>,
    #[serde(default)]
    pub files: Vec<Spanned<File>>,
    #[serde(default)]
    pub volumes: Vec<Spanned<Volume>>,
    pub resources: Option<Resources>,
    pub liveness_probe: Option<Spanned<Probe>>,
    pub readiness_probe: Option<Spanned<Probe>>,
}

/// A Kubernetes Secret's key (`secret`, `key`) or a secret of the cloud's
/// store (`store`, `property`, `version`); which form it is, and that it is
/// one, the model decides on the merged value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub secret: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    pub store: Option<Spanned<String>>,
    pub property: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
}

/// A file: text (`content`) or bytes (`binaryContent`, base64), one of the
/// two, which the model checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct File {
    pub target: Spanned<String>,
    pub content: Option<String>,
    pub binary_content: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
}

/// A scratch volume: an emptyDir of its own, mounted at `target`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Volume {
    pub target: Spanned<String>,
    pub sub_path: Option<Spanned<String>>,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub requests: Option<ResourceList>,
    pub limits: Option<ResourceList>,
}

/// Quantities keep their text: `cpu: 0.5` stays "0.5".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceList {
    pub cpu: Option<Spanned<String>>,
    pub memory: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Probe {
    pub http_get: Option<Spanned<HttpGet>>,
    pub grpc: Option<Spanned<GrpcProbe>>,
    pub tcp_socket: Option<Spanned<TcpSocket>>,
    pub exec: Option<Spanned<Exec>>,
    pub initial_delay_seconds: Option<i32>,
    pub period_seconds: Option<i32>,
    pub timeout_seconds: Option<i32>,
    pub failure_threshold: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGet {
    pub path: String,
    pub port: Spanned<PortRef>,
    pub scheme: Option<String>,
    #[serde(default, rename = "httpHeaders")]
    pub http_headers: Vec<HttpHeader>,
}

/// A header an HTTP probe sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcProbe {
    pub port: Spanned<PortRef>,
    pub service: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpSocket {
    pub port: Spanned<PortRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exec {
    pub command: Vec<String>,
}

/// A port named by its service port name, or a container port number.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default)]
    pub ports: BTreeMap<String, Port>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Port {
    pub port: Spanned<u16>,
    pub target_port: Option<Spanned<u16>>,
    pub protocol: Option<Protocol>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Http,
    Http2,
    Grpc,
    Tcp,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Placement {
    pub node_group: Option<NodeGroup>,
    pub spread_across_zones: Option<bool>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NodeGroup {
    System,
    Application,
    Compute,
    Memory,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scaling {
    pub min_replicas: Option<Spanned<i32>>,
    pub max_replicas: Option<Spanned<i32>>,
    #[serde(rename = "targetCPUUtilization")]
    pub target_cpu_utilization: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Availability {
    pub min_available: Option<Spanned<IntOrPercent>>,
    pub max_unavailable: Option<Spanned<IntOrPercent>>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum IntOrPercent {
    Int(i32),
    Percent(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Route {
    pub host: Spanned<String>,
    pub path_prefix: Option<String>,
    pub port: Option<Spanned<String>>,
    pub timeout: Option<String>,
    pub retries: Option<Spanned<Retries>>,
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderMatch>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Retries {
    pub attempts: i32,
    pub per_try_timeout: Option<String>,
    pub retry_on: Option<Spanned<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub regex: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mesh {
    #[serde(default)]
    pub allow_from: Vec<Spanned<String>>,
    pub fault_injection: Option<Spanned<FaultInjection>>,
    pub traffic_policy: Option<TrafficPolicy>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultInjection {
    pub delay: Option<FaultDelay>,
    pub abort: Option<FaultAbort>,
    #[serde(default)]
    pub at_gateway: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultDelay {
    pub percent: Spanned<f64>,
    pub fixed_delay: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultAbort {
    pub percent: Spanned<f64>,
    pub http_status: i32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrafficPolicy {
    pub outlier_detection: Option<OutlierDetection>,
    pub connection_pool: Option<ConnectionPool>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutlierDetection {
    #[serde(rename = "consecutive5xxErrors")]
    pub consecutive_5xx_errors: Option<u32>,
    pub interval: Option<String>,
    pub base_ejection_time: Option<String>,
    pub max_ejection_percent: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPool {
    pub http: Option<HttpPool>,
    pub tcp: Option<TcpPool>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpPool {
    #[serde(rename = "http1MaxPendingRequests")]
    pub http1_max_pending_requests: Option<u32>,
    #[serde(rename = "http2MaxRequests")]
    pub http2_max_requests: Option<u32>,
    pub max_requests_per_connection: Option<u32>,
    pub max_retries: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TcpPool {
    pub max_connections: Option<u32>,
    pub connect_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub strategy: Option<Spanned<Strategy>>,
    pub canary: Option<Spanned<Canary>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Rolling,
    Canary,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Canary {
    #[serde(default)]
    pub steps: Vec<CanaryStep>,
    pub analysis: Option<Analysis>,
    pub header_route: Option<Spanned<HeaderRoute>>,
}

/// Requests that go to the canary during a rollout, by one header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRoute {
    pub name: Spanned<String>,
    pub headers: BTreeMap<String, HeaderMatch>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CanaryStep {
    pub set_weight: Option<u32>,
    pub pause: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Analysis {
    pub success_rate: Option<f64>,
    pub p99_latency_ms: Option<u32>,
    pub interval: Option<Spanned<String>>,
    pub scrape_interval: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    pub metrics: Option<Metrics>,
    pub slo: Option<Spanned<Slo>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub port: Spanned<String>,
    pub path: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Slo {
    pub availability: Option<f64>,
    pub p99_latency_ms: Option<u32>,
}

/// How Filebeat reads the service's logs (its hints-based autodiscover).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    pub enabled: Option<bool>,
    pub format: Option<LogFormat>,
    pub multiline: Option<Multiline>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Multiline {
    pub pattern: Spanned<String>,
    pub negate: Option<bool>,
    #[serde(rename = "match")]
    pub match_: MultilineMatch,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MultilineMatch {
    After,
    Before,
}
