//! Ports, routes, the mesh and canary delivery.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::diag::{Code, Diagnostic};
use crate::go_regexp;
use crate::input;
use crate::names;
use crate::node::de::Spanned;
use crate::source::Span;
use crate::suggest::did_you_mean;

#[derive(Debug)]
pub struct Port {
    pub name: String,
    pub port: i32,
    pub target_port: i32,
    pub protocol: Protocol,
}

/// What a port carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Http2,
    Grpc,
    Tcp,
}

impl From<input::Protocol> for Protocol {
    fn from(raw: input::Protocol) -> Self {
        match raw {
            input::Protocol::Http => Protocol::Http,
            input::Protocol::Http2 => Protocol::Http2,
            input::Protocol::Grpc => Protocol::Grpc,
            input::Protocol::Tcp => Protocol::Tcp,
        }
    }
}

pub(super) fn ports(raw: &input::Blueprint, diags: &mut Vec<Diagnostic>) -> Vec<Port> {
    let Some(service) = &raw.service else {
        return Vec::new();
    };
    unique_port_numbers(&service.ports, diags);
    service
        .ports
        .iter()
        .for_each(|(name, port)| not_a_sidecar_port(name, port, diags));
    if !service.ports.is_empty() {
        if let Err(reason) = names::dns1035_label(&raw.metadata.name.value, 63) {
            diags.push(Diagnostic::error(
                Code::INVALID_NAME,
                raw.metadata.name.span,
                format!(
                    "service name `{}` cannot name a Kubernetes Service: it {reason}",
                    raw.metadata.name.value
                ),
            ));
        }
    }
    service
        .ports
        .iter()
        .map(|(name, p)| Port {
            name: name.clone(),
            port: i32::from(p.port.value),
            target_port: i32::from(p.target_port.as_ref().unwrap_or(&p.port).value),
            protocol: p.protocol.map_or(Protocol::Tcp, Protocol::from),
        })
        .collect()
}

/// Two ports of a Service with the same number (and protocol, which the
/// Service ports here always share: TCP) are refused by the API server
/// (kubernetes `pkg/apis/core/validation` `ValidateService`: `spec.ports`,
/// "Duplicate value").
fn unique_port_numbers(ports: &BTreeMap<String, input::Port>, diags: &mut Vec<Diagnostic>) {
    let mut in_file_order: Vec<(&String, &input::Port)> = ports.iter().collect();
    in_file_order.sort_by_key(|(_, p)| p.port.span.start);
    let mut seen: BTreeMap<u16, (&str, Span)> = BTreeMap::new();
    for (name, port) in in_file_order {
        match seen.get(&port.port.value) {
            Some((first, span)) => diags.push(
                Diagnostic::error(
                    Code::INVALID_PORT,
                    port.port.span,
                    format!(
                        "ports `{first}` and `{name}` both use port {}; a Service's ports must differ",
                        port.port.value
                    ),
                )
                .with_related(*span, "first used here")
                .with_hint("give each service port its own number; two ports may share a `targetPort`"),
            ),
            None => {
                seen.insert(port.port.value, (name.as_str(), port.port.span));
            }
        }
    }
}

/// The ports the Istio sidecar (Envoy and pilot-agent) listens on inside
/// every pod it is injected into, with what listens there ("Ports used by
/// Istio", https://istio.io/latest/docs/ops/deployment/application-requirements/).
/// The app shares the pod's network namespace, so it cannot listen there too.
const SIDECAR_PORTS: [(u16, &str); 10] = [
    (15000, "Envoy's admin port"),
    (15001, "Envoy's outbound listener"),
    (15004, "the sidecar's debug port"),
    (15006, "Envoy's inbound listener"),
    (15008, "the HBONE mTLS tunnel"),
    (15009, "the HBONE port for secure networks"),
    (15020, "the merged Prometheus telemetry"),
    (15021, "the sidecar's health checks"),
    (15053, "the sidecar's DNS proxy"),
    (15090, "Envoy's Prometheus telemetry"),
];

/// A port the app listens on (the target port) must not be the sidecar's.
fn not_a_sidecar_port(name: &str, port: &input::Port, diags: &mut Vec<Diagnostic>) {
    let target = port.target_port.as_ref().unwrap_or(&port.port);
    let Some((number, what)) = SIDECAR_PORTS.iter().find(|(n, _)| *n == target.value) else {
        return;
    };
    diags.push(
        Diagnostic::error(
            Code::INVALID_PORT,
            target.span,
            format!(
                "port `{name}` sends traffic to port {number}, where the Istio sidecar of every pod listens ({what}); the app cannot listen there too"
            ),
        )
        .with_hint("have the app listen on another port (Istio's own use 15000-15090), such as 8080, and set `targetPort` to it"),
    );
}

pub(super) fn unknown_port(span: Span, name: &str, ports: &[Port]) -> Diagnostic {
    let diag = Diagnostic::error(Code::UNKNOWN_PORT, span, format!("unknown port `{name}`"));
    match did_you_mean(name, ports.iter().map(|p| p.name.as_str())) {
        Some(hint) => diag.with_hint(hint),
        None if ports.is_empty() => diag.with_hint("this service has no `service.ports`"),
        None => diag.with_hint(format!(
            "ports of this service: {}",
            ports
                .iter()
                .map(|p| format!("`{}`", p.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A route on the environment's gateway.
#[derive(Debug)]
pub struct Route {
    pub host: String,
    pub host_span: Span,
    /// The whole route entry in its blueprint or overlay.
    pub span: Span,
    pub path_prefix: Option<String>,
    /// The service port number the route targets.
    pub port: i32,
    pub timeout: Option<String>,
    pub retries: Option<Retries>,
    pub headers: BTreeMap<String, HeaderMatch>,
}

impl Route {
    /// The path prefix the route matches: `/` (every path) without one.
    pub fn effective_prefix(&self) -> &str {
        self.path_prefix.as_deref().unwrap_or("/")
    }
}

/// How the gateway retries a route's requests.
#[derive(Debug)]
pub struct Retries {
    pub attempts: i32,
    pub per_try_timeout: Option<String>,
    pub retry_on: Option<String>,
}

impl From<&input::Retries> for Retries {
    fn from(raw: &input::Retries) -> Self {
        Retries {
            attempts: raw.attempts,
            per_try_timeout: raw.per_try_timeout.clone(),
            retry_on: raw.retry_on.as_ref().map(|r| r.value.clone()),
        }
    }
}

/// How a route matches the value of one request header.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HeaderMatch {
    Exact(String),
    Prefix(String),
    Regex(String),
}

impl HeaderMatch {
    /// The one condition of a raw match (the schema allows exactly one);
    /// `exact` before `prefix` before `regex`.
    fn from_raw(raw: &input::HeaderMatch) -> Option<HeaderMatch> {
        let input::HeaderMatch {
            exact,
            prefix,
            regex,
        } = raw.clone();
        exact
            .map(HeaderMatch::Exact)
            .or(prefix.map(HeaderMatch::Prefix))
            .or(regex.map(|r| HeaderMatch::Regex(r.value)))
    }
}

/// The environment's Istio gateway, `<namespace>/<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gateway {
    pub namespace: String,
    pub name: String,
}

impl Gateway {
    pub fn parse(text: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<Gateway> {
        // Istio's `validateGatewayNames`: `<namespace>/<name>`, both parts
        // DNS-1123 labels.
        let problem = match text.value.split_once('/') {
            None => "is not `<namespace>/<name>`".to_owned(),
            Some((namespace, name)) => match (
                names::dns1123_label(namespace, 63),
                names::dns1123_label(name, 63),
            ) {
                (Ok(()), Ok(())) => {
                    return Some(Gateway {
                        namespace: namespace.to_owned(),
                        name: name.to_owned(),
                    });
                }
                (Err(reason), _) => format!("has a namespace that {reason}"),
                (_, Err(reason)) => format!("has a name that {reason}"),
            },
        };
        diags.push(
            Diagnostic::error(
                Code::INVALID_GATEWAY,
                text.span,
                format!("gateway `{}` {problem}", text.value),
            )
            .with_hint(
                "name the Istio Gateway with its namespace, e.g. `istio-system/public-gateway`: two DNS-1123 labels",
            ),
        );
        None
    }

    pub fn reference(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Istio settings of a service.
#[derive(Debug, Default)]
pub struct Mesh {
    /// Services whose identities may call this one.
    pub allow_from: Vec<String>,
    /// Faults injected into the service's HTTP traffic, and where they were set.
    pub fault: Option<Spanned<Fault>>,
    pub traffic_policy: Option<TrafficPolicy>,
}

/// Faults the mesh injects into a share of the requests.
#[derive(Debug)]
pub struct Fault {
    pub delay: Option<Delay>,
    pub abort: Option<Abort>,
    /// On the public gateway routes too, not only for callers in the mesh.
    pub at_gateway: bool,
}

/// Delay a percentage of the requests by a fixed duration.
#[derive(Debug)]
pub struct Delay {
    pub percent: f64,
    pub fixed_delay: String,
}

/// Answer a percentage of the requests with an HTTP status.
#[derive(Debug)]
pub struct Abort {
    pub percent: f64,
    pub http_status: i32,
}

impl From<&input::FaultInjection> for Fault {
    fn from(raw: &input::FaultInjection) -> Self {
        Fault {
            delay: raw.delay.as_ref().map(|d| Delay {
                percent: d.percent.value,
                fixed_delay: d.fixed_delay.clone(),
            }),
            abort: raw.abort.as_ref().map(|a| Abort {
                percent: a.percent.value,
                http_status: a.http_status,
            }),
            at_gateway: raw.at_gateway,
        }
    }
}

/// How callers treat the service's endpoints.
#[derive(Debug)]
pub struct TrafficPolicy {
    pub outlier_detection: Option<OutlierDetection>,
    pub connection_pool: Option<ConnectionPool>,
}

/// When callers eject an endpoint that keeps failing.
#[derive(Debug)]
pub struct OutlierDetection {
    pub consecutive_5xx_errors: Option<u32>,
    pub interval: Option<String>,
    pub base_ejection_time: Option<String>,
    pub max_ejection_percent: Option<u32>,
}

/// Limits on the connections and requests of callers.
#[derive(Debug)]
pub struct ConnectionPool {
    pub http: Option<HttpPool>,
    pub tcp: Option<TcpPool>,
}

/// Per-connection and pending-request limits on HTTP.
#[derive(Debug)]
pub struct HttpPool {
    pub http1_max_pending_requests: Option<u32>,
    pub http2_max_requests: Option<u32>,
    pub max_requests_per_connection: Option<u32>,
    pub max_retries: Option<u32>,
}

/// Connection limits on TCP.
#[derive(Debug)]
pub struct TcpPool {
    pub max_connections: Option<u32>,
    pub connect_timeout: Option<String>,
}

impl From<&input::TrafficPolicy> for TrafficPolicy {
    fn from(raw: &input::TrafficPolicy) -> Self {
        TrafficPolicy {
            outlier_detection: raw.outlier_detection.as_ref().map(OutlierDetection::from),
            connection_pool: raw.connection_pool.as_ref().map(ConnectionPool::from),
        }
    }
}

impl From<&input::OutlierDetection> for OutlierDetection {
    fn from(raw: &input::OutlierDetection) -> Self {
        OutlierDetection {
            consecutive_5xx_errors: raw.consecutive_5xx_errors,
            interval: raw.interval.clone(),
            base_ejection_time: raw.base_ejection_time.clone(),
            max_ejection_percent: raw.max_ejection_percent,
        }
    }
}

impl From<&input::ConnectionPool> for ConnectionPool {
    fn from(raw: &input::ConnectionPool) -> Self {
        ConnectionPool {
            http: raw.http.as_ref().map(|h| HttpPool {
                http1_max_pending_requests: h.http1_max_pending_requests,
                http2_max_requests: h.http2_max_requests,
                max_requests_per_connection: h.max_requests_per_connection,
                max_retries: h.max_retries,
            }),
            tcp: raw.tcp.as_ref().map(|t| TcpPool {
                max_connections: t.max_connections,
                connect_timeout: t.connect_timeout.clone(),
            }),
        }
    }
}

/// Canary delivery: an Argo Rollout shifting Istio weights.
#[derive(Debug)]
pub struct Canary {
    pub steps: Vec<CanaryStep>,
    pub analysis: Option<Analysis>,
    pub header_route: Option<HeaderRoute>,
}

/// Requests with one header go to the canary during a rollout: an Argo
/// Rollouts managed route, set by a `setHeaderRoute` step.
#[derive(Debug)]
pub struct HeaderRoute {
    /// The managed route's name in the VirtualServices the Rollout edits.
    pub name: String,
    pub header: String,
    pub value: HeaderMatch,
    /// The `headerRoute` entry.
    pub span: Span,
}

/// One step of a canary rollout.
#[derive(Debug)]
pub enum CanaryStep {
    /// Send this percentage of the traffic to the canary.
    SetWeight(u32),
    /// Wait this long (a duration such as `5m`) before the next step.
    Pause(String),
}

impl CanaryStep {
    /// The one action of a raw step (the schema allows exactly one).
    fn from_raw(raw: &input::CanaryStep) -> Option<CanaryStep> {
        raw.set_weight
            .map(CanaryStep::SetWeight)
            .or_else(|| raw.pause.clone().map(CanaryStep::Pause))
    }
}

#[derive(Debug)]
pub struct Analysis {
    pub success_rate: Option<f64>,
    pub p99_latency_ms: Option<u32>,
    /// How often Argo Rollouts measures, as written (a Go duration).
    pub interval: String,
    /// `interval` as a length of time.
    pub interval_length: Duration,
    /// How often Prometheus scrapes the Istio metrics of the service's pods.
    pub scrape_interval: Duration,
}

/// Default canary steps when a blueprint names the strategy but no steps.
const DEFAULT_STEPS: [(u32, &str); 3] = [(20, "5m"), (50, "5m"), (80, "5m")];
/// Default analysis interval.
pub const DEFAULT_ANALYSIS_INTERVAL: &str = "1m";
/// Default scrape interval of the Istio metrics: the Prometheus Operator's
/// default `scrapeInterval`.
pub const DEFAULT_SCRAPE_INTERVAL: &str = "30s";

/// Does a port carry HTTP, so the mesh can route, retry and split it?
pub fn is_http(protocol: Protocol) -> bool {
    matches!(protocol, Protocol::Http | Protocol::Http2 | Protocol::Grpc)
}

pub(super) fn routes(
    raw: &input::Blueprint,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Route> {
    raw.routes
        .iter()
        .filter_map(|route| self::route(route, ports, diags))
        .collect()
}

fn route(
    spanned: &Spanned<input::Route>,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Option<Route> {
    let raw = &spanned.value;
    let before = diags.len();
    let host = &raw.host;
    if let Err(reason) = host_name(&host.value) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_ROUTE,
                host.span,
                format!("route host `{}` {reason}", host.value),
            )
            .with_hint("a host is a lowercase DNS name, e.g. `api.{{ env.domain }}`"),
        );
    }
    if let Some(prefix) = raw.path_prefix.as_ref().filter(|p| !p.starts_with('/')) {
        diags.push(Diagnostic::error(
            Code::INVALID_ROUTE,
            spanned.span,
            format!("`pathPrefix` `{prefix}` must start with `/`"),
        ));
    }
    for name in raw.headers.keys() {
        check_header_name(name, Code::INVALID_ROUTE, spanned.span, diags);
    }
    if let Some(retries) = &raw.retries {
        check_retries(retries, diags);
    }
    for regex in raw.headers.values().filter_map(|m| m.regex.as_ref()) {
        check_header_regex(regex, diags);
    }
    let port = route_port(spanned, ports, diags);
    (diags.len() == before).then_some(())?;
    Some(Route {
        host: host.value.clone(),
        host_span: host.span,
        span: spanned.span,
        path_prefix: raw.path_prefix.clone(),
        port: port?.port,
        timeout: raw.timeout.clone(),
        retries: raw.retries.as_ref().map(|r| Retries::from(&r.value)),
        headers: raw
            .headers
            .iter()
            .filter_map(|(name, m)| Some((name.clone(), HeaderMatch::from_raw(m)?)))
            .collect(),
    })
}

/// What Envoy retries on, as Istio's webhook accepts it
/// (`supportedRetryOnPolicies` in istio `pkg/config/validation/validation.go`,
/// Envoy's `x-envoy-retry-on` and `x-envoy-retry-grpc-on` values); a number
/// must be an HTTP status code Go knows (`http.StatusText`).
const RETRY_ON: [&str; 16] = [
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// The HTTP status codes Go's `net/http` names (`http.StatusText`).
fn is_http_status(code: u16) -> bool {
    matches!(code, 100..=103 | 200..=208 | 226 | 300..=308 | 400..=418 | 421..=426 | 428 | 429 | 431 | 451 | 500..=508 | 510 | 511)
        && code != 306
}

/// Istio's `validateHTTPRetry`: every comma-separated `retryOn` policy is
/// one Envoy knows, split without trimming (`5xx, reset` has ` reset`);
/// with `attempts: 0` (retries off) nothing else may be set.
fn check_retries(retries: &Spanned<input::Retries>, diags: &mut Vec<Diagnostic>) {
    let raw = &retries.value;
    if let Some(retry_on) = &raw.retry_on {
        let unknown: Vec<&str> = retry_on
            .value
            .split(',')
            .filter(|p| !RETRY_ON.contains(p) && !p.parse().is_ok_and(is_http_status))
            .collect();
        if let Some(first) = unknown.first() {
            let hint = match did_you_mean(first.trim(), RETRY_ON) {
                Some(_) if first.trim() != *first => {
                    "remove the spaces: Istio splits `retryOn` at commas only".to_owned()
                }
                Some(hint) => hint,
                None => format!(
                    "policies Istio accepts: {} or an HTTP status code",
                    RETRY_ON.join(", ")
                ),
            };
            diags.push(
                Diagnostic::error(
                    Code::INVALID_ROUTE,
                    retry_on.span,
                    format!("`retryOn` policy `{first}` is not one Istio accepts"),
                )
                .with_hint(hint),
            );
        }
    }
    if raw.attempts == 0 && (raw.retry_on.is_some() || raw.per_try_timeout.is_some()) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_ROUTE,
                retries.span,
                "`retries` with `attempts: 0` turns retries off, and Istio then refuses `retryOn` and `perTryTimeout`",
            )
            .with_hint("set `attempts` to 1 or more, or remove `retryOn` and `perTryTimeout`"),
        );
    }
}

/// A header name Istio matches: lowercase letters, digits and `-`.
fn check_header_name(name: &str, code: Code, span: Span, diags: &mut Vec<Diagnostic>) {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        diags.push(
            Diagnostic::error(
                code,
                span,
                format!("header `{name}` must be lowercase letters, digits and `-`"),
            )
            .with_hint("Istio matches header names in lowercase"),
        );
    }
}

/// Istio's `validateStringMatchRegexp`: a header regex is not empty, at
/// most 1024 bytes, and compiles as Go's `regexp` does.
fn check_header_regex(regex: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    let text = &regex.value;
    let problem = if text.is_empty() {
        Some("is empty".to_owned())
    } else if text.len() > 1024 {
        Some(format!(
            "is {} bytes long; Istio takes at most 1024",
            text.len()
        ))
    } else {
        go_regexp::check(text).err()
    };
    if let Some(problem) = problem {
        diags.push(
            Diagnostic::error(Code::INVALID_ROUTE, regex.span, format!("header regex {problem}"))
                .with_hint("Istio matches headers with RE2 (https://github.com/google/re2/wiki/Syntax); use `exact` or `prefix` for plain text"),
        );
    }
}

fn route_port<'a>(
    route: &Spanned<input::Route>,
    ports: &'a [Port],
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a Port> {
    let port = match &route.value.port {
        Some(name) => {
            let found = ports.iter().find(|p| p.name == name.value);
            if found.is_none() {
                diags.push(unknown_port(name.span, &name.value, ports));
            }
            found?
        }
        None if ports.len() == 1 => &ports[0],
        None => {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_ROUTE,
                    route.span,
                    "route does not say which port it targets",
                )
                .with_hint(if ports.is_empty() {
                    "routes need `service.ports`"
                } else {
                    "add `port: <name>` to the route"
                }),
            );
            return None;
        }
    };
    if !is_http(port.protocol) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_ROUTE,
                route.span,
                format!("route targets port `{}`, which is not HTTP", port.name),
            )
            .with_hint(
                "gateway routes carry HTTP: set the port's `protocol` to HTTP, HTTP2 or GRPC",
            ),
        );
        return None;
    }
    Some(port)
}

/// A DNS name, optionally with a leading `*.` wildcard.
fn host_name(host: &str) -> Result<(), String> {
    let name = host.strip_prefix("*.").unwrap_or(host);
    if name.len() > 253 {
        return Err("is longer than 253 characters".into());
    }
    if !name.contains('.') {
        return Err("is not a fully qualified name".into());
    }
    name.split('.').try_for_each(|label| {
        names::dns1123_label(label, 63).map_err(|reason| format!("has a label that {reason}"))
    })
}

pub(super) fn mesh(
    raw: &input::Blueprint,
    services: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> Mesh {
    let Some(mesh) = &raw.mesh else {
        return Mesh::default();
    };
    for caller in &mesh.allow_from {
        if !services.contains(&caller.value) {
            let diag = Diagnostic::error(
                Code::UNKNOWN_CALLER,
                caller.span,
                format!("`allowFrom` names unknown service `{}`", caller.value),
            );
            diags.push(
                match did_you_mean(&caller.value, services.iter().map(String::as_str)) {
                    Some(hint) => diag.with_hint(hint),
                    None => diag.with_hint("list services that have a blueprint"),
                },
            );
        }
    }
    if let Some(fault) = &mesh.fault_injection {
        check_fault(fault, diags);
    }
    Mesh {
        allow_from: mesh.allow_from.iter().map(|c| c.value.clone()).collect(),
        fault: mesh.fault_injection.as_ref().map(|f| Spanned {
            span: f.span,
            value: Fault::from(&f.value),
        }),
        traffic_policy: mesh.traffic_policy.as_ref().map(TrafficPolicy::from),
    }
}

/// Istio's `validateHTTPFaultInjection`: a fault has an abort, a delay or
/// both ("HTTP fault injection must have an abort and/or a delay"), and
/// `validatePercentage` takes 0 or 0.0001 to 100 (Envoy counts faults in
/// millionths).
fn check_fault(fault: &Spanned<input::FaultInjection>, diags: &mut Vec<Diagnostic>) {
    let raw = &fault.value;
    if raw.delay.is_none() && raw.abort.is_none() {
        diags.push(
            Diagnostic::error(
                Code::INVALID_VALUE,
                fault.span,
                "`faultInjection` injects nothing: Istio needs a `delay`, an `abort` or both",
            )
            .with_hint("add `delay: {percent, fixedDelay}` or `abort: {percent, httpStatus}`, or remove `faultInjection`"),
        );
    }
    let percents = [
        raw.delay.as_ref().map(|d| &d.percent),
        raw.abort.as_ref().map(|a| &a.percent),
    ];
    for percent in percents.into_iter().flatten() {
        if percent.value > 0.0 && percent.value < 0.0001 {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_VALUE,
                    percent.span,
                    format!(
                        "`percent` {} is below 0.0001, the smallest share Istio injects a fault into",
                        percent.value
                    ),
                )
                .with_hint("write 0 (no requests) or a percent from 0.0001 to 100"),
            );
        }
    }
}

pub(super) fn canary(
    raw: &input::Blueprint,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Option<Canary> {
    let delivery = raw.delivery.as_ref()?;
    let strategy = delivery.strategy.as_ref();
    let section = delivery.canary.as_ref();
    if strategy.is_none_or(|s| s.value != input::Strategy::Canary) {
        if let Some(section) = section {
            diags.push(
                Diagnostic::warning(Code::CANARY_IGNORED, section.span, "`delivery.canary` is ignored: the strategy is not `canary`")
                    .with_hint("set `delivery.strategy: canary`, or remove the section (`canary: null` in an overlay)"),
            );
        }
        return None;
    }
    if !ports.iter().any(|p| is_http(p.protocol)) {
        let span = strategy.map_or(raw.metadata.name.span, |s| s.span);
        diags.push(
            Diagnostic::error(
                Code::CANARY_WITHOUT_HTTP,
                span,
                "canary delivery shifts HTTP traffic, but this service has no HTTP port",
            )
            .with_hint(
                "add a port with `protocol: HTTP`, `HTTP2` or `GRPC`, or use `strategy: rolling`",
            ),
        );
        return None;
    }
    let steps = section
        .map(|s| {
            s.value
                .steps
                .iter()
                .filter_map(CanaryStep::from_raw)
                .collect()
        })
        .filter(|s: &Vec<CanaryStep>| !s.is_empty())
        .unwrap_or_else(default_steps);
    let raw_analysis = section.and_then(|s| s.value.analysis.as_ref());
    if let (Some(section), Some(a)) = (section, raw_analysis) {
        if a.success_rate.is_none() && a.p99_latency_ms.is_none() {
            diags.push(
                Diagnostic::error(
                    Code::ANALYSIS_MEASURES_NOTHING,
                    section.span,
                    "canary `analysis` measures nothing",
                )
                .with_hint("set `successRate`, `p99LatencyMs`, or both"),
            );
        }
    }
    let analysis = raw_analysis.map(|a| {
        let interval = a
            .interval
            .as_ref()
            .map_or(DEFAULT_ANALYSIS_INTERVAL, |i| i.value.as_str());
        // slipway's PodMonitor scrapes the sidecars at the service's metrics
        // interval, so that is the default when the blueprint names one.
        let metrics_interval = raw
            .monitoring
            .as_ref()
            .and_then(|m| m.metrics.as_ref())
            .and_then(|m| m.interval.as_ref())
            .map(|i| i.value.as_str())
            // Prometheus reads a zero interval as its global one.
            .filter(|i| !length(i).is_zero());
        let scrape_interval = a
            .scrape_interval
            .as_ref()
            .map(|i| i.value.as_str())
            .or(metrics_interval)
            .unwrap_or(DEFAULT_SCRAPE_INTERVAL);
        Analysis {
            success_rate: a.success_rate,
            p99_latency_ms: a.p99_latency_ms,
            interval: interval.to_owned(),
            interval_length: length(interval),
            scrape_interval: length(scrape_interval),
        }
    });
    let header_route = section
        .and_then(|s| s.value.header_route.as_ref())
        .and_then(|raw_route| header_route(raw_route, raw, ports, &steps, diags));
    Some(Canary {
        steps,
        analysis,
        header_route,
    })
}

/// A canary's header route, as Argo Rollouts writes it into the
/// VirtualServices (argo-rollouts `rollout/trafficrouting/istio/istio.go`,
/// `createHeaderRoute`): a route of that name, first in each
/// VirtualService the Rollout names (`orderRoutes` puts `managedRoutes`
/// above the others), matching only the header, with one destination: the
/// canary Service on the port of the first route the Rollout shifts.
fn header_route(
    spanned: &Spanned<input::HeaderRoute>,
    raw: &input::Blueprint,
    ports: &[Port],
    steps: &[CanaryStep],
    diags: &mut Vec<Diagnostic>,
) -> Option<HeaderRoute> {
    let route = &spanned.value;
    let before = diags.len();
    let name = &route.name;
    let invalid =
        |message: String, span: Span| Diagnostic::error(Code::INVALID_HEADER_ROUTE, span, message);
    if let Err(reason) = names::dns1123_label(&name.value, 63) {
        diags.push(
            invalid(
                format!("header route name `{}` {reason}", name.value),
                name.span,
            )
            .with_hint("name the managed route with a DNS-1123 label, e.g. `beta`"),
        );
    }
    // Argo Rollouts finds, removes and orders routes by name (`removeRoute`,
    // `orderRoutes`): a managed route named like one of slipway's would
    // delete it at the end of every rollout.
    let own = ports
        .iter()
        .filter(|p| is_http(p.protocol))
        .map(|p| p.name.clone())
        .chain((0..raw.routes.len()).map(|i| format!("{}-{i}", raw.metadata.name.value)));
    if let Some(clash) = own.into_iter().find(|n| *n == name.value) {
        diags.push(
            invalid(
                format!("header route name `{clash}` is the name of one of the service's own routes, which Argo Rollouts would remove with it"),
                name.span,
            )
            .with_hint("give the header route another name; the service's routes are named after its HTTP ports and `<service>-<index>`"),
        );
    }
    let (header, value) = route.headers.iter().next()?;
    check_header_name(header, Code::INVALID_HEADER_ROUTE, spanned.span, diags);
    if let Some(regex) = &value.regex {
        check_header_regex(regex, diags);
    }
    // Go's `omitempty` drops an empty `exact` or `regex` of Argo Rollouts'
    // `StringMatch`, and the route would match every value of the header.
    if value.exact.as_deref() == Some("")
        || value.regex.as_ref().is_some_and(|r| r.value.is_empty())
    {
        diags.push(
            invalid(format!("header route `{}` matches an empty value of `{header}`", name.value), spanned.span)
                .with_hint("Argo Rollouts leaves an empty value out, and the route would then match any value: give a value"),
        );
    }
    // The managed route matches the header on every port of the service's
    // host and sends it to one port: with two HTTP ports, requests with the
    // header on the other one would reach the wrong port of the canary.
    let http: Vec<&str> = ports
        .iter()
        .filter(|p| is_http(p.protocol))
        .map(|p| p.name.as_str())
        .collect();
    if http.len() > 1 {
        diags.push(
            invalid(
                format!(
                    "a header route sends every request with the header to one port of the canary, but `{}` has {} HTTP ports ({})",
                    raw.metadata.name.value,
                    http.len(),
                    http.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                ),
                spanned.span,
            )
            .with_hint("use a header route on a service with one HTTP, HTTP2 or GRPC port"),
        );
    }
    // Argo Rollouts scales the canary with its weight: before a `setWeight`
    // above 0 it has no pods to send the header's requests to.
    if !steps
        .iter()
        .any(|s| matches!(s, CanaryStep::SetWeight(w) if *w > 0))
    {
        diags.push(
            invalid(format!("header route `{}` would send requests to a canary without pods: no step sets a weight above 0", name.value), spanned.span)
                .with_hint("add a `setWeight` step above 0; the header route starts after the first one"),
        );
    }
    (diags.len() == before).then_some(())?;
    Some(HeaderRoute {
        name: name.value.clone(),
        header: header.clone(),
        value: HeaderMatch::from_raw(value)?,
        span: spanned.span,
    })
}

/// Where a header route would reach, checked across the cluster. Argo
/// Rollouts adds it to every VirtualService the Rollout names, the gateway
/// hosts' included, with the canary Service's name as its destination
/// (`createHeaderRoute` takes `canaryService` as written: `<service>-canary`),
/// and Istio reads a short name in the namespace of the VirtualService
/// ("Istio will interpret the short name based on the namespace of the
/// rule", https://istio.io/latest/docs/reference/config/networking/virtual-service/#Destination):
/// in a gateway namespace of its own the route names no Service. And the
/// route matches the header alone: on a host where another service routes
/// too, it would take that service's requests with the header.
pub fn header_route_reach(services: &[super::Service]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for service in services {
        let Some(route) = service
            .canary
            .as_ref()
            .and_then(|c| c.header_route.as_ref())
        else {
            continue;
        };
        let Some(first) = service.routes.first() else {
            continue;
        };
        if service.gateway.namespace != service.namespace {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_HEADER_ROUTE,
                    route.span,
                    format!(
                        "header route `{}` cannot reach the canary from the gateway: Argo Rollouts would write `{}-canary` into the VirtualService of `{}` in namespace `{}`, where Istio reads it as a Service of that namespace",
                        route.name,
                        service.name,
                        first.host,
                        service.gateway.namespace
                    ),
                )
                .with_related(first.span, "a gateway route of the service")
                .with_hint("header routes work for callers inside the mesh: use one on a service without `routes`"),
            );
            continue;
        }
        let hosts: BTreeSet<&str> = service.routes.iter().map(|r| r.host.as_str()).collect();
        for host in hosts {
            let other = services.iter().find(|o| {
                o.name != service.name
                    && o.gateway == service.gateway
                    && o.routes.iter().any(|r| r.host == host)
            });
            if let Some(other) = other {
                let shared = other
                    .routes
                    .iter()
                    .find(|r| r.host == host)
                    .map_or(other.origin, |r| r.span);
                diags.push(
                    Diagnostic::error(
                        Code::INVALID_HEADER_ROUTE,
                        route.span,
                        format!(
                            "header route `{}` of `{}` would catch `{}`'s requests with the header on `{host}`",
                            route.name, service.name, other.name
                        ),
                    )
                    .with_related(shared, format!("`{}` routes on `{host}` too", other.name))
                    .with_hint("Argo Rollouts' header route matches the header alone, on the whole host: give the service a host of its own"),
                );
            }
        }
    }
    diags
}

/// The length of an analysis duration. The schema's `duration-analysis`
/// format has refused what is not a duration of a millisecond or more
/// (templates expanded); the defaults are such durations.
fn length(text: &str) -> Duration {
    crate::duration::parse(text).unwrap_or_default()
}

fn default_steps() -> Vec<CanaryStep> {
    DEFAULT_STEPS
        .iter()
        .flat_map(|(weight, pause)| {
            [
                CanaryStep::SetWeight(*weight),
                CanaryStep::Pause((*pause).to_owned()),
            ]
        })
        .collect()
}

/// A call of one service to another that its templates name with
/// `endpoint(service, port)`, or `endpoint(service)` for its host.
#[derive(Debug)]
pub struct Call {
    pub service: String,
    pub port: Option<String>,
    /// The string whose template calls it.
    pub span: Span,
}

impl From<&crate::template::Reference> for Call {
    fn from(raw: &crate::template::Reference) -> Self {
        Call {
            service: raw.service.clone(),
            port: raw.port.clone(),
            span: raw.span,
        }
    }
}

/// A call through `endpoint()` is a declared dependency: the called
/// service's `mesh.allowFrom` must list the caller, or its
/// AuthorizationPolicy (Istio denies what no ALLOW policy matches, "Allow
/// nothing", https://istio.io/latest/docs/reference/config/security/authorization-policy/)
/// and NetworkPolicy refuse the connection. slipway does not add the caller
/// itself: who may call a service stays written in its blueprint.
pub(super) fn unadmitted_calls(cluster: &super::Cluster) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for caller in &cluster.services {
        for call in &caller.calls {
            // A called service that did not resolve has its own errors.
            let Some(called) = cluster.service(&call.service) else {
                continue;
            };
            if called.mesh.allow_from.contains(&caller.name) {
                continue;
            }
            diags.push(
                Diagnostic::error(
                    Code::CALLER_NOT_ADMITTED,
                    call.span,
                    format!(
                        "`{}` does not admit `{}`: add `{}` to {}'s `mesh.allowFrom`",
                        called.name, caller.name, caller.name, called.name
                    ),
                )
                .with_label(match &call.port {
                    Some(port) => format!(
                        "`{}` calls `{}` on port `{port}` here",
                        caller.name, called.name
                    ),
                    None => format!("`{}` calls `{}` here", caller.name, called.name),
                })
                .with_related(called.origin, format!("`{}` is defined here", called.name))
                .with_hint(format!(
                    "`{}`'s AuthorizationPolicy and NetworkPolicy admit only the services in its `mesh.allowFrom`",
                    called.name
                )),
            );
        }
    }
    diags
}

/// Two routes that match exactly the same requests on the same host: one of
/// them could never be reached, so both are refused. No `pathPrefix` and
/// `pathPrefix: /` match the same paths (all of them).
pub fn route_conflicts(services: &[super::Service]) -> Vec<Diagnostic> {
    type Key<'a> = (String, &'a str, &'a str, Vec<(&'a String, &'a HeaderMatch)>);
    let mut seen: BTreeMap<Key<'_>, (&str, Span)> = BTreeMap::new();
    let mut diags = Vec::new();
    for service in services {
        for route in &service.routes {
            let headers = route.headers.iter().collect();
            let prefix = route.effective_prefix();
            let key = (
                service.gateway.reference(),
                route.host.as_str(),
                prefix,
                headers,
            );
            match seen.get(&key) {
                Some((owner, first)) => {
                    let who = if *owner == service.name {
                        format!("`{owner}` routes `{}{prefix}` twice", route.host)
                    } else {
                        format!(
                            "`{}` and `{owner}` both route `{}{prefix}`",
                            service.name, route.host
                        )
                    };
                    diags.push(
                        Diagnostic::error(
                            Code::ROUTE_CONFLICT,
                            route.span,
                            format!("{who} with the same match: the gateway uses only the first"),
                        )
                        .with_related(*first, "claimed here first")
                        .with_hint("give one of them a longer `pathPrefix` or a header match"),
                    );
                }
                None => {
                    seen.insert(key, (service.name.as_str(), route.span));
                }
            }
        }
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_the_ones_go_names() {
        for known in [100, 200, 226, 308, 418, 429, 451, 503, 511] {
            assert!(is_http_status(known), "{known}");
        }
        for unknown in [0, 99, 209, 306, 309, 419, 430, 509, 512, 600] {
            assert!(!is_http_status(unknown), "{unknown}");
        }
    }

    #[test]
    fn default_durations_are_lengths() {
        assert_eq!(length(DEFAULT_ANALYSIS_INTERVAL).as_secs(), 60);
        assert_eq!(length(DEFAULT_SCRAPE_INTERVAL).as_secs(), 30);
    }
}
