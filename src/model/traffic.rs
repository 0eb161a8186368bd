//! Ports, routes, the mesh and canary delivery.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::Diagnostic;
use crate::input::{self, Protocol};
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

pub(super) fn ports(raw: &input::Blueprint, diags: &mut Vec<Diagnostic>) -> Vec<Port> {
    let Some(service) = &raw.service else {
        return Vec::new();
    };
    if !service.ports.is_empty() {
        if let Err(reason) = names::dns1035_label(&raw.metadata.name.value, 63) {
            diags.push(Diagnostic::error(
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
            port: i32::from(p.port),
            target_port: i32::from(p.target_port.unwrap_or(p.port)),
            protocol: p.protocol.unwrap_or(Protocol::Tcp),
        })
        .collect()
}

pub(super) fn unknown_port(span: Span, name: &str, ports: &[Port]) -> Diagnostic {
    let diag = Diagnostic::error(span, format!("unknown port `{name}`"));
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
    pub retries: Option<input::Retries>,
    pub headers: BTreeMap<String, input::HeaderMatch>,
}

/// The environment's Istio gateway, `<namespace>/<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gateway {
    pub namespace: String,
    pub name: String,
}

impl Gateway {
    pub fn parse(text: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<Gateway> {
        let parsed = text.value.split_once('/').filter(|(ns, name)| {
            names::dns1123_label(ns, 63).is_ok() && names::dns1123_label(name, 253).is_ok()
        });
        if parsed.is_none() {
            diags.push(
                Diagnostic::error(
                    text.span,
                    format!("gateway `{}` is not `<namespace>/<name>`", text.value),
                )
                .with_hint(
                    "name the Istio Gateway with its namespace, e.g. `istio-system/public-gateway`",
                ),
            );
        }
        parsed.map(|(namespace, name)| Gateway {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
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
    pub fault: Option<Spanned<input::FaultInjection>>,
    pub traffic_policy: Option<input::TrafficPolicy>,
}

/// Canary delivery: an Argo Rollout shifting Istio weights.
#[derive(Debug)]
pub struct Canary {
    pub steps: Vec<input::CanaryStep>,
    pub analysis: Option<Analysis>,
}

#[derive(Debug)]
pub struct Analysis {
    pub success_rate: Option<f64>,
    pub p99_latency_ms: Option<u32>,
    pub interval: String,
}

/// Default canary steps when a blueprint names the strategy but no steps.
const DEFAULT_STEPS: [(u32, &str); 3] = [(20, "5m"), (50, "5m"), (80, "5m")];
/// Default analysis interval.
pub const DEFAULT_ANALYSIS_INTERVAL: &str = "1m";

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
            Diagnostic::error(host.span, format!("route host `{}` {reason}", host.value))
                .with_hint("a host is a lowercase DNS name, e.g. `api.{{ env.domain }}`"),
        );
    }
    if let Some(prefix) = raw.path_prefix.as_ref().filter(|p| !p.starts_with('/')) {
        diags.push(Diagnostic::error(
            spanned.span,
            format!("`pathPrefix` `{prefix}` must start with `/`"),
        ));
    }
    for name in raw.headers.keys() {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            diags.push(
                Diagnostic::error(
                    spanned.span,
                    format!("header `{name}` must be lowercase letters, digits and `-`"),
                )
                .with_hint("Istio matches header names in lowercase"),
            );
        }
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
        retries: raw.retries.clone(),
        headers: raw.headers.clone(),
    })
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
                Diagnostic::error(route.span, "route does not say which port it targets")
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
    Mesh {
        allow_from: mesh.allow_from.iter().map(|c| c.value.clone()).collect(),
        fault: mesh.fault_injection.clone(),
        traffic_policy: mesh.traffic_policy.clone(),
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
                Diagnostic::warning(section.span, "`delivery.canary` is ignored: the strategy is not `canary`")
                    .with_hint("set `delivery.strategy: canary`, or remove the section (`canary: null` in an overlay)"),
            );
        }
        return None;
    }
    if !ports.iter().any(|p| is_http(p.protocol)) {
        let span = strategy.map_or(raw.metadata.name.span, |s| s.span);
        diags.push(
            Diagnostic::error(
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
        .map(|s| s.value.steps.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(default_steps);
    let raw_analysis = section.and_then(|s| s.value.analysis.as_ref());
    if let (Some(section), Some(a)) = (section, raw_analysis) {
        if a.success_rate.is_none() && a.p99_latency_ms.is_none() {
            diags.push(
                Diagnostic::error(section.span, "canary `analysis` measures nothing")
                    .with_hint("set `successRate`, `p99LatencyMs`, or both"),
            );
        }
    }
    let analysis = raw_analysis.map(|a| Analysis {
        success_rate: a.success_rate,
        p99_latency_ms: a.p99_latency_ms,
        interval: a
            .interval
            .clone()
            .unwrap_or_else(|| DEFAULT_ANALYSIS_INTERVAL.to_owned()),
    });
    Some(Canary { steps, analysis })
}

fn default_steps() -> Vec<input::CanaryStep> {
    DEFAULT_STEPS
        .iter()
        .flat_map(|(weight, pause)| {
            [
                input::CanaryStep {
                    set_weight: Some(*weight),
                    pause: None,
                },
                input::CanaryStep {
                    set_weight: None,
                    pause: Some((*pause).to_owned()),
                },
            ]
        })
        .collect()
}

/// Two routes that match exactly the same requests on the same host: one of
/// them could never be reached, so both are refused.
pub fn route_conflicts(services: &[super::Service]) -> Vec<Diagnostic> {
    type Key<'a> = (String, &'a str, &'a str, Vec<(&'a String, String)>);
    let mut seen: BTreeMap<Key<'_>, (&str, Span)> = BTreeMap::new();
    let mut diags = Vec::new();
    for service in services {
        for route in &service.routes {
            let headers = route
                .headers
                .iter()
                .map(|(name, m)| (name, format!("{m:?}")))
                .collect();
            let key = (
                service.gateway.reference(),
                route.host.as_str(),
                route.path_prefix.as_deref().unwrap_or(""),
                headers,
            );
            match seen.get(&key) {
                Some((owner, first)) => diags.push(
                    Diagnostic::error(
                        route.span,
                        format!(
                            "`{}` and `{owner}` both route `{}{}` with the same match",
                            service.name,
                            route.host,
                            route.path_prefix.as_deref().unwrap_or("")
                        ),
                    )
                    .with_related(*first, "claimed here first")
                    .with_hint("give one of them a longer `pathPrefix` or a header match"),
                ),
                None => {
                    seen.insert(key, (service.name.as_str(), route.span));
                }
            }
        }
    }
    diags
}
