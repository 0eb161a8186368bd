//! The resolved model of one service in one (environment, region): defaults
//! applied, references resolved, every rule checked. Lowering reads only this.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::Diagnostic;
use crate::input::{self, IntOrPercent, NodeGroup, PortRef, Protocol};
use crate::names;
use crate::node::de::Spanned;
use crate::source::{Sources, Span};
use crate::suggest::did_you_mean;

/// HPA CPU target when a blueprint scales but sets none.
pub const DEFAULT_CPU_TARGET: i32 = 80;

#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub team: String,
    pub namespace: String,
    /// Where the service is defined: `metadata.name` of its blueprint.
    pub origin: Span,
    pub annotations: BTreeMap<String, String>,
    /// Image tag of the main container, when it is a valid label value.
    pub version: Option<String>,
    /// The first container is the main one: it carries the ports.
    pub containers: Vec<Container>,
    pub ports: Vec<Port>,
    pub node_group: NodeGroup,
    pub spread_across_zones: bool,
    pub replicas: Replicas,
    pub disruption: Option<Disruption>,
    /// Files of all containers, served from one content-addressed ConfigMap.
    pub files: Vec<MountedFile>,
}

#[derive(Debug)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub env: Vec<EnvVar>,
    pub requests: Quantities,
    pub limits: Quantities,
    pub liveness: Option<Probe>,
    pub readiness: Option<Probe>,
}

#[derive(Debug, Default)]
pub struct Quantities {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

#[derive(Debug)]
pub struct EnvVar {
    pub name: String,
    pub value: EnvValue,
}

#[derive(Debug)]
pub enum EnvValue {
    Text(String),
    Secret { secret: String, key: String },
}

#[derive(Debug)]
pub struct Probe {
    pub action: ProbeAction,
    pub initial_delay_seconds: Option<i32>,
    pub period_seconds: Option<i32>,
    pub timeout_seconds: Option<i32>,
    pub failure_threshold: Option<i32>,
}

#[derive(Debug)]
pub enum ProbeAction {
    Http {
        path: String,
        port: PortRef,
        scheme: Option<String>,
    },
    Grpc {
        port: i32,
        service: Option<String>,
    },
    Tcp {
        port: PortRef,
    },
    Exec {
        command: Vec<String>,
    },
}

#[derive(Debug)]
pub struct Port {
    pub name: String,
    pub port: i32,
    pub target_port: i32,
    pub protocol: Protocol,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Replicas {
    Fixed(i32),
    Auto { min: i32, max: i32, cpu_target: i32 },
}

#[derive(Debug)]
pub enum Disruption {
    MinAvailable(IntOrPercent),
    MaxUnavailable(IntOrPercent),
}

#[derive(Debug)]
pub struct MountedFile {
    pub container: String,
    /// Key in the ConfigMap, derived from the target path.
    pub key: String,
    pub target: String,
    pub content: String,
}

/// What a service is resolved against.
pub struct Context<'a> {
    pub sources: &'a Sources,
    pub namespace: Spanned<String>,
    pub services: &'a BTreeSet<String>,
}

impl Service {
    /// Resolve a merged, template-expanded blueprint. The service is `None`
    /// when any diagnostic is an error; warnings come back either way.
    pub fn resolve(raw: &input::Blueprint, cx: &Context<'_>) -> (Option<Service>, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let name = raw.metadata.name.value.clone();
        let team = raw
            .metadata
            .team
            .as_ref()
            .map_or_else(|| name.clone(), |t| t.value.clone());
        check_namespace(&cx.namespace, &mut diags);
        let ports = ports(raw, &mut diags);
        let containers: Vec<Container> = raw
            .containers
            .iter()
            .enumerate()
            .map(|(i, (cname, c))| container(cname, c, i == 0, &ports, &mut diags))
            .collect();
        let replicas = replicas(raw, cx.sources, &mut diags);
        check_cpu_requests(raw, &replicas, &mut diags);
        let disruption = disruption(raw, &replicas, &mut diags);
        let files = files(raw, &mut diags);
        check_references(raw, &ports, cx.services, &mut diags);
        let service = Service {
            version: version_of(&containers[0].image),
            namespace: cx.namespace.value.clone(),
            origin: raw.metadata.name.span,
            annotations: raw.metadata.annotations.clone(),
            node_group: raw
                .placement
                .as_ref()
                .and_then(|p| p.node_group)
                .unwrap_or(NodeGroup::Application),
            spread_across_zones: raw
                .placement
                .as_ref()
                .and_then(|p| p.spread_across_zones)
                .unwrap_or(false),
            name,
            team,
            containers,
            ports,
            replicas,
            disruption,
            files,
        };
        let ok = !diags.iter().any(Diagnostic::is_error);
        (ok.then_some(service), diags)
    }
}

fn check_namespace(namespace: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    if let Err(reason) = names::dns1123_label(&namespace.value, 63) {
        diags.push(
            Diagnostic::error(namespace.span, format!("namespace `{}` {reason}", namespace.value))
                .with_label("the namespace template renders an invalid name")
                .with_hint("a namespace is a DNS-1123 label: lowercase letters, digits and `-`, at most 63 characters"),
        );
    }
}

fn ports(raw: &input::Blueprint, diags: &mut Vec<Diagnostic>) -> Vec<Port> {
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

fn container(
    name: &str,
    raw: &input::Container,
    main: bool,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Container {
    let env = raw
        .variables
        .iter()
        .map(|(k, v)| EnvVar {
            name: k.clone(),
            value: EnvValue::Text(v.clone()),
        })
        .chain(raw.secrets.iter().map(|(k, s)| EnvVar {
            name: k.clone(),
            value: EnvValue::Secret {
                secret: s.secret.clone(),
                key: s.key.clone(),
            },
        }));
    let mut env: Vec<EnvVar> = env.collect();
    env.sort_by(|a, b| a.name.cmp(&b.name));
    let resources = raw.resources.as_ref();
    Container {
        name: name.to_owned(),
        image: raw.image.value.clone(),
        command: raw.command.clone(),
        args: raw.args.clone(),
        env,
        requests: quantities(resources.and_then(|r| r.requests.as_ref()), diags),
        limits: quantities(resources.and_then(|r| r.limits.as_ref()), diags),
        liveness: raw
            .liveness_probe
            .as_ref()
            .and_then(|p| probe(p, main, ports, diags)),
        readiness: raw
            .readiness_probe
            .as_ref()
            .and_then(|p| probe(p, main, ports, diags)),
    }
}

fn quantities(list: Option<&input::ResourceList>, diags: &mut Vec<Diagnostic>) -> Quantities {
    let Some(list) = list else {
        return Quantities::default();
    };
    let mut check = |q: &Option<Spanned<String>>| {
        q.as_ref().map(|q| {
            if !is_quantity(&q.value) {
                diags.push(
                    Diagnostic::error(
                        q.span,
                        format!("`{}` is not a Kubernetes quantity", q.value),
                    )
                    .with_hint("write e.g. `250m` or `0.5` for CPU, `512Mi` or `2Gi` for memory"),
                );
            }
            q.value.clone()
        })
    };
    Quantities {
        cpu: check(&list.cpu),
        memory: check(&list.memory),
    }
}

/// The Kubernetes quantity grammar: a decimal number and an optional suffix.
pub fn is_quantity(text: &str) -> bool {
    const SUFFIXES: [&str; 14] = [
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P",
    ];
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let number = SUFFIXES
        .iter()
        .find_map(|s| body.strip_suffix(s))
        .or_else(|| body.strip_suffix('E'))
        .unwrap_or(body);
    let number = match number.split_once(['e', 'E']) {
        Some((n, e))
            if !e.is_empty()
                && e.trim_start_matches(['+', '-'])
                    .bytes()
                    .all(|b| b.is_ascii_digit()) =>
        {
            n
        }
        Some(_) => return false,
        None => number,
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !(int.is_empty() && frac.is_empty()) && digits(int) && digits(frac)
}

fn probe(
    raw: &input::Probe,
    main: bool,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Option<Probe> {
    let mut port_ref = |port: &Spanned<PortRef>| check_port_ref(port, main, ports, diags);
    let action = if let Some(http) = &raw.http_get {
        ProbeAction::Http {
            path: http.path.clone(),
            port: port_ref(&http.port)?,
            scheme: http.scheme.clone(),
        }
    } else if let Some(grpc) = &raw.grpc {
        let port = match port_ref(&grpc.port)? {
            PortRef::Number(n) => i32::from(n),
            PortRef::Name(name) => ports
                .iter()
                .find(|p| p.name == name)
                .map_or(0, |p| p.target_port),
        };
        ProbeAction::Grpc {
            port,
            service: grpc.service.clone(),
        }
    } else if let Some(tcp) = &raw.tcp_socket {
        ProbeAction::Tcp {
            port: port_ref(&tcp.port)?,
        }
    } else {
        ProbeAction::Exec {
            command: raw.exec.as_ref()?.command.clone(),
        }
    };
    Some(Probe {
        action,
        initial_delay_seconds: raw.initial_delay_seconds,
        period_seconds: raw.period_seconds,
        timeout_seconds: raw.timeout_seconds,
        failure_threshold: raw.failure_threshold,
    })
}

/// A probe's named port must be one of the main container's ports.
fn check_port_ref(
    port: &Spanned<PortRef>,
    main: bool,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Option<PortRef> {
    let PortRef::Name(name) = &port.value else {
        return Some(port.value.clone());
    };
    if !main {
        diags.push(
            Diagnostic::error(
                port.span,
                format!("port `{name}` is a service port of the main container"),
            )
            .with_hint("probes of other containers name their port by number"),
        );
        return None;
    }
    if ports.iter().any(|p| &p.name == name) {
        return Some(port.value.clone());
    }
    diags.push(unknown_port(port.span, name, ports));
    None
}

fn unknown_port(span: Span, name: &str, ports: &[Port]) -> Diagnostic {
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

fn replicas(raw: &input::Blueprint, sources: &Sources, diags: &mut Vec<Diagnostic>) -> Replicas {
    let scaling = raw.scaling.as_ref();
    let min = scaling.and_then(|s| s.min_replicas);
    let max = scaling.and_then(|s| s.max_replicas);
    let cpu_target = scaling
        .and_then(|s| s.target_cpu_utilization)
        .unwrap_or(DEFAULT_CPU_TARGET);
    match (min, max) {
        (Some(min), Some(max)) if min.value > max.value => {
            diags.push(
                Diagnostic::error(
                    min.span,
                    format!(
                        "minReplicas ({}, from {}) is greater than maxReplicas ({}, from {})",
                        min.value,
                        sources.locate(min.span),
                        max.value,
                        sources.locate(max.span)
                    ),
                )
                .with_label("minReplicas set here")
                .with_related(max.span, "maxReplicas set here")
                .with_hint("raise maxReplicas or lower minReplicas in the overlay that sets it"),
            );
            Replicas::Fixed(min.value)
        }
        (Some(min), Some(max)) if min.value < max.value => Replicas::Auto {
            min: min.value,
            max: max.value,
            cpu_target,
        },
        (None, Some(max)) if max.value > 1 => Replicas::Auto {
            min: 1,
            max: max.value,
            cpu_target,
        },
        (Some(n), _) | (None, Some(n)) => Replicas::Fixed(n.value),
        (None, None) => Replicas::Fixed(1),
    }
}

/// CPU-utilization autoscaling is blind without CPU requests on every container.
fn check_cpu_requests(raw: &input::Blueprint, replicas: &Replicas, diags: &mut Vec<Diagnostic>) {
    if !matches!(replicas, Replicas::Auto { .. }) {
        return;
    }
    for (name, container) in &raw.containers {
        let has_cpu = container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .is_some_and(|r| r.cpu.is_some());
        if !has_cpu {
            diags.push(
                Diagnostic::error(container.image.span, format!("container `{name}` has no CPU request, but the service autoscales on CPU"))
                    .with_hint("set `resources.requests.cpu` on every container, or make the service fixed-size (minReplicas == maxReplicas)"),
            );
        }
    }
}

fn disruption(
    raw: &input::Blueprint,
    replicas: &Replicas,
    diags: &mut Vec<Diagnostic>,
) -> Option<Disruption> {
    let availability = raw.availability.as_ref()?;
    match (&availability.min_available, &availability.max_unavailable) {
        (Some(min), Some(max)) => {
            diags.push(
                Diagnostic::error(
                    min.span,
                    "`availability` sets both `minAvailable` and `maxUnavailable` after merging",
                )
                .with_related(max.span, "maxUnavailable set here")
                .with_hint(
                    "set the one you do not want to `null` in the overlay that adds the other",
                ),
            );
            None
        }
        (Some(min), None) => {
            let lowest = match replicas {
                Replicas::Fixed(n) | Replicas::Auto { min: n, .. } => *n,
            };
            let blocks = match &min.value {
                IntOrPercent::Int(m) => *m >= lowest,
                IntOrPercent::Percent(p) => p == "100%",
            };
            if blocks {
                diags.push(
                    Diagnostic::warning(min.span, format!("`minAvailable` leaves no pod to evict at {lowest} replica(s): node drains will block"))
                    .with_hint(if lowest > 1 {
                        format!("lower `minAvailable` below {lowest}, or use `maxUnavailable: 1`")
                    } else {
                        "one replica cannot be both protected and evicted: run 2 or more, or use `maxUnavailable: 1`".to_owned()
                    }),
                );
            }
            Some(Disruption::MinAvailable(min.value.clone()))
        }
        (None, Some(max)) => Some(Disruption::MaxUnavailable(max.value.clone())),
        (None, None) => None,
    }
}

fn files(raw: &input::Blueprint, diags: &mut Vec<Diagnostic>) -> Vec<MountedFile> {
    let mut out: Vec<MountedFile> = Vec::new();
    let mut seen: BTreeMap<String, (Span, &str)> = BTreeMap::new();
    for (container, c) in &raw.containers {
        for file in &c.files {
            let target = &file.value.target;
            if let Err(reason) = check_target(&target.value) {
                diags.push(Diagnostic::error(
                    target.span,
                    format!("invalid file target `{}`: {reason}", target.value),
                ));
                continue;
            }
            let key = config_key(&target.value);
            if let Some((first, content)) =
                seen.insert(key.clone(), (target.span, &file.value.content))
            {
                if content != file.value.content
                    || out
                        .iter()
                        .any(|f| f.key == key && &f.container == container)
                {
                    diags.push(
                        Diagnostic::error(target.span, format!("two different files target `{}`", target.value))
                            .with_related(first, "first file")
                            .with_hint("files of one service share a ConfigMap; give them distinct target paths"),
                    );
                    continue;
                }
            }
            out.push(MountedFile {
                container: container.clone(),
                key,
                target: target.value.clone(),
                content: file.value.content.clone(),
            });
        }
    }
    out
}

fn check_target(target: &str) -> Result<(), &'static str> {
    if !target.starts_with('/') {
        return Err("must be an absolute path");
    }
    if target.ends_with('/') {
        return Err("must name a file, not a folder");
    }
    if target.split('/').any(|part| part == ".." || part == ".") {
        return Err("must not contain `.` or `..`");
    }
    if target.contains("//") || target.chars().any(char::is_control) {
        return Err("must be a clean path");
    }
    Ok(())
}

/// ConfigMap key for a target path: `/etc/orders/config.yaml` -> `etc_orders_config.yaml`.
fn config_key(target: &str) -> String {
    target
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// References that later stages render: route and metrics ports, callers.
fn check_references(
    raw: &input::Blueprint,
    ports: &[Port],
    services: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    for route in &raw.routes {
        match &route.value.port {
            Some(port) if !ports.iter().any(|p| p.name == port.value) => {
                diags.push(unknown_port(port.span, &port.value, ports))
            }
            None if ports.len() != 1 => diags.push(
                Diagnostic::error(route.span, "route does not say which port it targets")
                    .with_hint(if ports.is_empty() {
                        "routes need `service.ports`"
                    } else {
                        "add `port: <name>` to the route"
                    }),
            ),
            _ => {}
        }
    }
    if let Some(metrics) = raw.monitoring.as_ref().and_then(|m| m.metrics.as_ref()) {
        if !ports.iter().any(|p| p.name == metrics.port.value) {
            diags.push(unknown_port(metrics.port.span, &metrics.port.value, ports));
        }
    }
    for caller in raw.mesh.iter().flat_map(|m| &m.allow_from) {
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
}

/// The tag of an image reference, if it is usable as a label value.
fn version_of(image: &str) -> Option<String> {
    let last = image.rsplit('/').next()?;
    let tag = last.split('@').next()?.split_once(':')?.1;
    names::label_value(tag).ok().map(|()| tag.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in ["250m", "0.5", "1", "512Mi", "2Gi", "1e3", "100k", "1E"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "m", "1.2.3", "12 Mi", "1MB", "abc", "-"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn versions_come_from_tags() {
        assert_eq!(
            version_of("registry.example.com/a/b:1.8.2").as_deref(),
            Some("1.8.2")
        );
        assert_eq!(
            version_of("registry.example.com:5000/a/b:2.0").as_deref(),
            Some("2.0")
        );
        assert_eq!(version_of("registry.example.com:5000/a/b").as_deref(), None);
        assert_eq!(version_of("r/a@sha256:abcd").as_deref(), None);
    }

    #[test]
    fn config_keys_are_valid() {
        assert_eq!(
            config_key("/etc/orders/config.yaml"),
            "etc_orders_config.yaml"
        );
        assert!(check_target("/etc/../passwd").is_err());
        assert!(check_target("etc/x").is_err());
    }
}
