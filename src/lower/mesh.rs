//! Istio: traffic policy and routing per service, authorization by mesh
//! identity, the gateway's routes per host, and per namespace STRICT mTLS
//! and tracing.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Object;
use super::meta::{managed_by, object_meta, selector_labels};
use super::service::canary_name;
use crate::crd::istio::{
    Abort, AuthorizationPolicy, AuthorizationPolicySpec, AuthorizationRule, ConnectionPool, Delay,
    Destination, DestinationRule, DestinationRuleSpec, Fault, HttpMatch, HttpPool, HttpRoute, Mtls,
    Operation, OutlierDetection, PeerAuthentication, PeerAuthenticationSpec, Percentage,
    PortSelector, Provider, Retries, RouteDestination, RuleFrom, RuleTo, Source, StringMatch,
    TcpPool, Telemetry, TelemetrySpec, Tls, Tracing, TrafficPolicy, VirtualService,
    VirtualServiceSpec, WorkloadSelector,
};
use crate::model::{self, Cluster, Environment, ScrapeMode, Service, fqdn, is_http};
use crate::source::Span;

/// Name of the namespace-wide PeerAuthentication and Telemetry.
const NAMESPACE_DEFAULT: &str = "default";

/// The Namespace with sidecar injection, STRICT mTLS, and tracing when the
/// environment samples.
pub fn namespace(namespace: &str, env: &Environment) -> Vec<Object> {
    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(managed_by()),
        ..ObjectMeta::default()
    };
    let mut labels = managed_by();
    labels.insert("istio-injection".into(), "enabled".into());
    let mut objects = vec![
        Object::Namespace(Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_owned()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }),
        Object::PeerAuthentication(PeerAuthentication {
            metadata: meta(NAMESPACE_DEFAULT),
            spec: PeerAuthenticationSpec {
                mtls: Mtls {
                    mode: "STRICT".into(),
                },
            },
        }),
    ];
    if let Some(tracing) = &env.tracing {
        objects.push(Object::Telemetry(Telemetry {
            metadata: meta(NAMESPACE_DEFAULT),
            spec: TelemetrySpec {
                tracing: vec![Tracing {
                    providers: tracing
                        .provider
                        .iter()
                        .map(|name| Provider { name: name.clone() })
                        .collect(),
                    random_sampling_percentage: tracing.sampling_percent,
                }],
            },
        }));
    }
    objects
}

/// ISTIO_MUTUAL TLS and the blueprint's traffic policy, for the Service and
/// (for a canary) the canary Service.
pub fn destination_rules(service: &Service) -> Vec<DestinationRule> {
    if service.ports.is_empty() {
        return Vec::new();
    }
    let mut names = vec![service.name.clone()];
    names.extend(service.canary.as_ref().map(|_| canary_name(service)));
    names
        .into_iter()
        .map(|name| DestinationRule {
            metadata: object_meta(service, &name),
            spec: DestinationRuleSpec {
                host: fqdn(&name, &service.namespace),
                traffic_policy: traffic_policy(service),
            },
        })
        .collect()
}

fn traffic_policy(service: &Service) -> TrafficPolicy {
    let policy = service.mesh.traffic_policy.as_ref();
    TrafficPolicy {
        tls: Tls {
            mode: "ISTIO_MUTUAL".into(),
        },
        outlier_detection: policy
            .and_then(|p| p.outlier_detection.as_ref())
            .map(outlier_detection),
        connection_pool: policy
            .and_then(|p| p.connection_pool.as_ref())
            .map(connection_pool),
    }
}

fn outlier_detection(o: &model::OutlierDetection) -> OutlierDetection {
    OutlierDetection {
        consecutive_5xx_errors: o.consecutive_5xx_errors,
        interval: o.interval.clone(),
        base_ejection_time: o.base_ejection_time.clone(),
        max_ejection_percent: o.max_ejection_percent,
    }
}

fn connection_pool(p: &model::ConnectionPool) -> ConnectionPool {
    ConnectionPool {
        http: p.http.as_ref().map(|h| HttpPool {
            http1_max_pending_requests: h.http1_max_pending_requests,
            http2_max_requests: h.http2_max_requests,
            max_requests_per_connection: h.max_requests_per_connection,
            max_retries: h.max_retries,
        }),
        tcp: p.tcp.as_ref().map(|t| TcpPool {
            max_connections: t.max_connections,
            connect_timeout: t.connect_timeout.clone(),
        }),
    }
}

/// Routing for callers inside the mesh, on the Service's own host: rendered
/// when there is something to do there (canary weights, fault injection),
/// one route per HTTP port, named after the port.
pub fn mesh_routes(service: &Service) -> Option<VirtualService> {
    if service.canary.is_none() && service.mesh.fault.is_none() {
        return None;
    }
    let http = service
        .ports
        .iter()
        .filter(|p| is_http(p.protocol))
        .map(|port| HttpRoute {
            name: port.name.clone(),
            matches: vec![HttpMatch {
                port: Some(port.port),
                ..HttpMatch::default()
            }],
            route: destinations(service, port.port),
            fault: fault(service),
            ..HttpRoute::default()
        })
        .collect();
    Some(VirtualService {
        metadata: object_meta(service, &service.name),
        spec: VirtualServiceSpec {
            hosts: vec![service.fqdn()],
            gateways: Vec::new(),
            http,
        },
    })
}

/// Where a route sends traffic: the Service, or for a canary the stable and
/// canary Services, weighted 100/0 until Argo Rollouts shifts them.
fn destinations(service: &Service, port: i32) -> Vec<RouteDestination> {
    let to = |name: &str, weight| RouteDestination {
        destination: Destination {
            host: fqdn(name, &service.namespace),
            port: PortSelector { number: port },
        },
        weight,
    };
    match service.canary {
        Some(_) => vec![
            to(&service.name, Some(100)),
            to(&canary_name(service), Some(0)),
        ],
        None => vec![to(&service.name, None)],
    }
}

fn fault(service: &Service) -> Option<Fault> {
    let fault = &service.mesh.fault.as_ref()?.value;
    Some(Fault {
        delay: fault.delay.as_ref().map(|d| Delay {
            percentage: Percentage { value: d.percent },
            fixed_delay: d.fixed_delay.clone(),
        }),
        abort: fault.abort.as_ref().map(|a| Abort {
            percentage: Percentage { value: a.percent },
            http_status: a.http_status,
        }),
    })
}

/// Only the listed callers' identities may call, plus the ingress gateway for
/// a service with routes, and Prometheus where it scrapes through the
/// inbound listener. No callers: no rules, which allows nothing.
pub fn authorization_policy(service: &Service, cluster: &Cluster) -> AuthorizationPolicy {
    let principals: BTreeSet<String> = cluster.callers(service).map(Service::principal).collect();
    let mut rules = Vec::new();
    if !principals.is_empty() {
        rules.push(AuthorizationRule {
            from: vec![from(principals)],
            to: Vec::new(),
        });
    }
    rules.extend(gateway_rule(service, &cluster.env));
    rules.extend(prometheus_rule(service, &cluster.env));
    AuthorizationPolicy {
        metadata: object_meta(service, &service.name),
        spec: AuthorizationPolicySpec {
            selector: WorkloadSelector {
                match_labels: selector_labels(service),
            },
            rules,
        },
    }
}

/// `istio-certs`: Prometheus presents its own workload certificate, so the
/// sidecar sees its principal, on the metrics port (the pod's port, as the
/// inbound listener does). The path is matched only on an HTTP port: on a
/// TCP filter chain Istio drops an ALLOW rule with HTTP fields, and with it
/// the scrape. `merged`: the scrape goes to the agent's port, which inbound
/// capture leaves out, and the agent reads the app over localhost; neither
/// passes the inbound listener, so no rule would ever match.
/// The ingress gateway reaches only the ports its routes target, and never
/// the metrics path on them: the internet must not read `/metrics`
/// through a public route. (`notPaths` with a trailing `*` is Istio's
/// prefix match, so `/metrics?x` and `/metrics/` are excluded too.)
fn gateway_rule(service: &Service, env: &Environment) -> Option<AuthorizationRule> {
    if service.routes.is_empty() {
        return None;
    }
    let routed = service.routed_target_ports();
    let metrics_routed = service
        .metrics_port()
        .is_some_and(|port| routed.contains(&port.target_port));
    let not_paths = match (&service.metrics, metrics_routed) {
        (Some(metrics), true) => vec![format!(
            "{}*",
            metrics.path.as_deref().unwrap_or("/metrics")
        )],
        _ => Vec::new(),
    };
    Some(AuthorizationRule {
        from: vec![from(BTreeSet::from([
            env.gateway_principal(&service.gateway)
        ]))],
        to: vec![RuleTo {
            operation: Operation {
                ports: routed.iter().map(i32::to_string).collect(),
                paths: Vec::new(),
                not_paths,
            },
        }],
    })
}

fn prometheus_rule(service: &Service, env: &Environment) -> Option<AuthorizationRule> {
    if env.monitoring.scrape != ScrapeMode::IstioCerts {
        return None;
    }
    let (metrics, port) = (service.metrics.as_ref()?, service.metrics_port()?);
    let paths = match &metrics.path {
        Some(path) if is_http(port.protocol) => vec![path.clone()],
        _ => Vec::new(),
    };
    Some(AuthorizationRule {
        from: vec![from(BTreeSet::from([env.prometheus_principal.clone()]))],
        to: vec![RuleTo {
            operation: Operation {
                ports: vec![port.target_port.to_string()],
                paths,
                not_paths: Vec::new(),
            },
        }],
    })
}

fn from(principals: BTreeSet<String>) -> RuleFrom {
    RuleFrom {
        source: Source {
            principals: principals.into_iter().collect(),
        },
    }
}

/// The VirtualService for a host on a gateway, named after the host.
pub fn gateway_route_name(host: &str) -> String {
    host.replace('*', "wildcard").replace('.', "-")
}

/// A route's name in its host's VirtualService: `<service>-<index>`.
pub fn route_name(service: &Service, index: usize) -> String {
    format!("{}-{index}", service.name)
}

/// One VirtualService per (gateway, host), beside the gateway, holding the
/// routes of every service on that host, the most specific first: longer
/// path prefixes, then routes that also match headers. Istio applies the
/// first match, and does not order routes across VirtualServices.
pub fn gateway_routes(cluster: &Cluster) -> Vec<(VirtualService, Span)> {
    let mut hosts: BTreeMap<(String, String), Vec<HostRoute>> = BTreeMap::new();
    for service in &cluster.services {
        for (index, route) in service.routes.iter().enumerate() {
            let http = HttpRoute {
                name: route_name(service, index),
                matches: route_match(route),
                route: destinations(service, route.port),
                timeout: route.timeout.clone(),
                retries: route.retries.as_ref().map(|r| Retries {
                    attempts: r.attempts,
                    per_try_timeout: r.per_try_timeout.clone(),
                    retry_on: r.retry_on.clone(),
                }),
                // Faults are for callers in the mesh (the README's promise);
                // at the edge only when the blueprint asks.
                fault: fault(service).filter(|_| {
                    service
                        .mesh
                        .fault
                        .as_ref()
                        .is_some_and(|f| f.value.at_gateway)
                }),
            };
            let key = (service.gateway.reference(), route.host.clone());
            hosts
                .entry(key)
                .or_default()
                .push((Specificity::of(route), http, route.host_span));
        }
    }
    hosts
        .into_iter()
        .map(|((gateway, host), mut routes)| {
            routes.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
            let origin = routes[0].2;
            let namespace = gateway.split('/').next().unwrap_or_default().to_owned();
            let route = VirtualService {
                metadata: ObjectMeta {
                    name: Some(gateway_route_name(&host)),
                    namespace: Some(namespace),
                    labels: Some(managed_by()),
                    ..ObjectMeta::default()
                },
                spec: VirtualServiceSpec {
                    hosts: vec![host],
                    gateways: vec![gateway],
                    http: routes.into_iter().map(|(_, http, _)| http).collect(),
                },
            };
            (route, origin)
        })
        .collect()
}

/// A route on a host, how specific it is, and where it was written.
type HostRoute = (Specificity, HttpRoute, Span);

/// Sorts the most specific route first. Istio applies the first route that
/// matches, so a route must come before every route that matches a
/// superset of its requests: a longer prefix first (no prefix counts as
/// `/`, which it matches the same as), on equal prefixes more header
/// matches first, then narrower header matches first (exact before prefix
/// before regex, a longer header prefix before a shorter one). Under this
/// order a route can only be shadowed by one with an identical match, which
/// the model refuses, or through regexes, which nothing can compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    prefix: std::cmp::Reverse<usize>,
    headers: std::cmp::Reverse<usize>,
    /// Per header: 0 exact, 1 prefix, 2 regex; summed.
    breadth: usize,
    header_prefixes: std::cmp::Reverse<usize>,
}

impl Specificity {
    fn of(route: &model::Route) -> Self {
        let breadth = route
            .headers
            .values()
            .map(|m| match m {
                model::HeaderMatch::Exact(_) => 0,
                model::HeaderMatch::Prefix(_) => 1,
                model::HeaderMatch::Regex(_) => 2,
            })
            .sum();
        let header_prefixes = route
            .headers
            .values()
            .map(|m| match m {
                model::HeaderMatch::Prefix(p) => p.len(),
                _ => 0,
            })
            .sum();
        Specificity {
            prefix: std::cmp::Reverse(route.effective_prefix().len()),
            headers: std::cmp::Reverse(route.headers.len()),
            breadth,
            header_prefixes: std::cmp::Reverse(header_prefixes),
        }
    }
}

fn route_match(route: &model::Route) -> Vec<HttpMatch> {
    if route.path_prefix.is_none() && route.headers.is_empty() {
        return Vec::new();
    }
    vec![HttpMatch {
        uri: route.path_prefix.clone().map(StringMatch::Prefix),
        headers: route
            .headers
            .iter()
            .map(|(name, m)| (name.clone(), header_match(m)))
            .collect(),
        port: None,
    }]
}

fn header_match(m: &model::HeaderMatch) -> StringMatch {
    match m {
        model::HeaderMatch::Exact(text) => StringMatch::Exact(text.clone()),
        model::HeaderMatch::Prefix(text) => StringMatch::Prefix(text.clone()),
        model::HeaderMatch::Regex(text) => StringMatch::Regex(text.clone()),
    }
}
