//! What Istio makes of the rendered AuthorizationPolicies: requests from
//! the ingress gateway, evaluated by Istio's ALLOW semantics; the services
//! that variables name (`endpoint()`), as rendered ports that admit their
//! callers; and a canary's header route, step by step, as Argo Rollouts
//! edits the in-mesh VirtualService and Istio routes by it.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use slipway::compile::{Selection, open};
use slipway::crd::argo::Rollout;
use slipway::crd::istio::{
    AuthorizationPolicy, Destination, HttpMatch, HttpRoute, Operation, RouteDestination,
    StringMatch, VirtualService,
};
use slipway::lower::Object;

use crate::rendering::render;
use crate::support::root;

/// Istio's string match for `paths`/`notPaths`: exact, `prefix*`, `*suffix`
/// or `*` (security.istio.io `Operation`).
fn path_matches(pattern: &str, path: &str) -> bool {
    if pattern == "*" {
        true
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        path.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        path.ends_with(suffix)
    } else {
        pattern == path
    }
}

fn operation_matches(op: &Operation, port: i32, path: &str) -> bool {
    (op.ports.is_empty() || op.ports.contains(&port.to_string()))
        && (op.paths.is_empty() || op.paths.iter().any(|p| path_matches(p, path)))
        && !op.not_paths.iter().any(|p| path_matches(p, path))
}

/// An ALLOW policy admits a request when some rule's `from` names the
/// caller and its `to` (if any) matches; a policy with no rules admits
/// nothing.
fn allows(policy: &AuthorizationPolicy, principal: &str, port: i32, path: &str) -> bool {
    policy.spec.rules.iter().any(|rule| {
        rule.from
            .iter()
            .any(|f| f.source.principals.iter().any(|p| p == principal))
            && (rule.to.is_empty()
                || rule
                    .to
                    .iter()
                    .any(|t| operation_matches(&t.operation, port, path)))
    })
}

/// The container port a gateway route reaches: its destination's Service
/// port, mapped to that port's `targetPort`.
fn routed_target_ports(
    rendered: &crate::rendering::Rendering,
    cluster: &str,
    service: &str,
) -> Vec<i32> {
    let host = |h: &str| h.split('.').next() == Some(service);
    let numbers: Vec<i32> = rendered
        .objects
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("{cluster}/_gateway/")))
        .filter_map(|(_, r)| match &r.object {
            Object::VirtualService(vs) => Some(vs),
            _ => None,
        })
        .flat_map(|vs| vs.spec.http.iter().flat_map(|h| &h.route))
        .filter(|d| host(&d.destination.host))
        .map(|d| d.destination.port.number)
        .collect();
    let services = rendered
        .objects
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("{cluster}/{service}/")));
    let mut targets = Vec::new();
    for (_, r) in services {
        let Object::Service(svc) = &r.object else {
            continue;
        };
        if svc.metadata.name.as_deref() != Some(service) {
            continue;
        }
        for port in svc.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
            if numbers.contains(&port.port) {
                if let Some(IntOrString::Int(target)) = port.target_port {
                    targets.push(target);
                }
            }
        }
    }
    targets
}

#[test]
fn the_gateway_reaches_routed_paths_but_never_the_metrics_path() {
    let (project, _) = open(root()).expect("opens");
    let rendered = render(&project, &Selection::default());
    let gateway = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
    let mut checked = 0;
    for (path, object) in &rendered.objects {
        let Object::AuthorizationPolicy(policy) = &object.object else {
            continue;
        };
        let service = policy.metadata.name.as_deref().unwrap_or_default();
        let cluster = &path[..path
            .find(&format!("/{service}/"))
            .expect("a service folder")];
        for port in routed_target_ports(&rendered, cluster, service) {
            assert!(
                allows(policy, gateway, port, "/api/anything"),
                "{path}: a routed path is reachable"
            );
            assert!(
                !allows(policy, gateway, port, "/metrics"),
                "{path}: /metrics is not reachable through the gateway"
            );
            assert!(
                !allows(policy, gateway, port, "/metrics?format=text"),
                "{path}"
            );
            assert!(
                !allows(policy, gateway, 15020, "/stats/prometheus"),
                "{path}: only routed ports"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "routed services were checked");
}

/// An address in the cluster's DNS as a variable holds it:
/// `[http://]<service>.<namespace>.svc.cluster.local:<port>`.
fn in_cluster_address(value: &str) -> Option<(&str, &str, i32)> {
    let address = value.strip_prefix("http://").unwrap_or(value);
    let (host, port) = address.split_once(':')?;
    let (service, rest) = host.split_once('.')?;
    let namespace = rest.strip_suffix(".svc.cluster.local")?;
    Some((service, namespace, port.parse().ok()?))
}

/// Every in-cluster address a variable names (what `endpoint()` renders)
/// is a port of a Service rendered in the same cluster, and that service's
/// AuthorizationPolicy admits the caller's identity on the port's target.
#[test]
fn every_called_address_is_a_rendered_port_that_admits_the_caller() {
    let (project, _) = open(root()).expect("opens");
    let rendered = render(&project, &Selection::default());
    let mut called = Vec::new();
    for (path, object) in &rendered.objects {
        let (namespace, template) = match &object.object {
            Object::Deployment(d) => (d.metadata.namespace.clone(), Some(&d.spec.template)),
            Object::Rollout(r) => (r.metadata.namespace.clone(), Some(&r.spec.template)),
            _ => continue,
        };
        let pod = template.and_then(|t| t.spec.as_ref()).expect("a pod spec");
        let caller = pod
            .service_account_name
            .as_deref()
            .expect("a service account");
        let cluster = &path[..path.find(&format!("/{caller}/")).expect("a service folder")];
        let principal = format!(
            "cluster.local/ns/{}/sa/{caller}",
            namespace.expect("a namespace")
        );
        let values = pod.containers.iter().flat_map(|c| c.env.iter().flatten());
        for (name, (service, service_namespace, port)) in
            values.filter_map(|e| Some((&e.name, in_cluster_address(e.value.as_deref()?)?)))
        {
            let in_folder = |kind: &str| {
                rendered
                    .objects
                    .get(&format!("{cluster}/{service}/{kind}-{service}.yaml"))
                    .unwrap_or_else(|| {
                        panic!("{path}: {name} names `{service}`, not rendered in {cluster}")
                    })
            };
            let Object::Service(svc) = &in_folder("service").object else {
                panic!("a Service");
            };
            assert_eq!(
                svc.metadata.namespace.as_deref(),
                Some(service_namespace),
                "{path}: {name}"
            );
            let target = svc
                .spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .find(|p| p.port == port)
                .and_then(|p| match p.target_port {
                    Some(IntOrString::Int(t)) => Some(t),
                    _ => None,
                })
                .unwrap_or_else(|| {
                    panic!("{path}: {name} names port {port}, not one of `{service}`'s")
                });
            let Object::AuthorizationPolicy(policy) = &in_folder("authorizationpolicy").object
            else {
                panic!("an AuthorizationPolicy");
            };
            assert!(
                allows(policy, &principal, target, "/"),
                "{path}: `{service}` admits `{caller}`, which {name} calls"
            );
            called.push(format!("{cluster}/{caller}/{name}"));
        }
    }
    assert!(
        called.contains(&"prod/eu-west-1/checkout/FEATURE_FLAGS_URL".to_owned()),
        "{called:?}"
    );
}

/// Istio's string match of a header value.
fn value_matches(rule: &StringMatch, value: &str) -> bool {
    match rule {
        StringMatch::Exact(exact) => value == exact,
        StringMatch::Prefix(prefix) => value.starts_with(prefix.as_str()),
        StringMatch::Regex(_) => {
            panic!("the example platform's header routes match exactly or by prefix")
        }
    }
}

/// Where Istio sends a request in the mesh: the first route with a match
/// that holds (its port, if any, and every header), else none; the
/// destinations that get a share, by host.
fn reached(
    vs: &VirtualService,
    port: i32,
    headers: &BTreeMap<&str, &str>,
) -> BTreeMap<String, i32> {
    let holds = |m: &HttpMatch| {
        m.port.is_none_or(|p| p == port)
            && m.headers.iter().all(|(name, rule)| {
                headers
                    .get(name.as_str())
                    .is_some_and(|v| value_matches(rule, v))
            })
    };
    let route = vs
        .spec
        .http
        .iter()
        .find(|r| r.matches.is_empty() || r.matches.iter().any(holds))
        .expect("a route takes the request");
    route
        .route
        .iter()
        .map(|d| (d.destination.host.clone(), d.weight.unwrap_or(100)))
        .filter(|(_, weight)| *weight > 0)
        .collect()
}

/// What Argo Rollouts makes of a canary's in-mesh VirtualService once
/// `done` steps of its Rollout have run (argo-rollouts
/// `rollout/trafficrouting/istio/istio.go`): the weight of the last
/// `setWeight` on the routes the Rollout names, and while a
/// `setHeaderRoute` is in effect its managed route first (`orderRoutes`),
/// matching the header alone, to the canary Service as the Rollout names it
/// (which Istio reads in the VirtualService's namespace) on the port of the
/// first named route. After the last step the rollout is promoted: the
/// managed routes are removed and the stable Service takes everything.
fn at_step(vs: &VirtualService, rollout: &Rollout, done: usize) -> VirtualService {
    let canary = &rollout.spec.strategy.canary;
    let steps = &canary.steps[..done];
    let promoted = done == canary.steps.len();
    let weight = match promoted {
        true => 0,
        false => steps.iter().rev().find_map(|s| s.set_weight).unwrap_or(0),
    };
    let named = &canary
        .traffic_routing
        .istio
        .virtual_services
        .iter()
        .find(|r| Some(r.name.as_str()) == vs.metadata.name.as_deref())
        .expect("the Rollout names its in-mesh VirtualService")
        .routes;
    let namespace = vs.metadata.namespace.as_deref().expect("a namespace");
    let canary_host = format!("{}.{namespace}.svc.cluster.local", canary.canary_service);
    let mut live = vs.clone();
    for route in live
        .spec
        .http
        .iter_mut()
        .filter(|r| named.contains(&r.name))
    {
        for destination in &mut route.route {
            let share = if destination.destination.host == canary_host {
                weight
            } else {
                100 - weight
            };
            destination.weight = Some(i32::try_from(share).expect("a percentage"));
        }
    }
    let header_route = steps.iter().rev().find_map(|s| s.set_header_route.as_ref());
    if let (false, Some(header_route)) = (promoted, header_route) {
        let port = live
            .spec
            .http
            .iter()
            .find(|r| named.contains(&r.name))
            .map(|r| r.route[0].destination.port)
            .expect("a named route");
        let matches = header_route
            .matches
            .iter()
            .map(|m| {
                let value = &m.header_value;
                let rule = match (&value.exact, &value.prefix, &value.regex) {
                    (Some(exact), None, None) => StringMatch::Exact(exact.clone()),
                    (None, Some(prefix), None) => StringMatch::Prefix(prefix.clone()),
                    (None, None, Some(regex)) => StringMatch::Regex(regex.clone()),
                    other => panic!("one match type, not {other:?}"),
                };
                HttpMatch {
                    headers: BTreeMap::from([(m.header_name.clone(), rule)]),
                    ..HttpMatch::default()
                }
            })
            .collect();
        live.spec.http.insert(
            0,
            HttpRoute {
                name: header_route.name.clone(),
                matches,
                route: vec![RouteDestination {
                    destination: Destination {
                        host: canary_host,
                        port,
                    },
                    weight: Some(100),
                }],
                ..HttpRoute::default()
            },
        );
    }
    live
}

/// A canary with a header route, step by step: requests in the mesh
/// without the header follow the weights; with it they reach the canary
/// from the first weight step to the end of the rollout, and the stable
/// version before and after; a request with another value of the header
/// follows the weights.
#[test]
fn a_header_route_takes_its_requests_to_the_canary_during_a_rollout() {
    let (project, _) = open(root()).expect("opens");
    let rendered = render(&project, &Selection::default());
    let mut walked = Vec::new();
    for (path, object) in &rendered.objects {
        let Object::Rollout(rollout) = &object.object else {
            continue;
        };
        let canary = &rollout.spec.strategy.canary;
        let Some(header_route) = canary
            .steps
            .iter()
            .find_map(|s| s.set_header_route.as_ref())
        else {
            continue;
        };
        assert_eq!(
            canary
                .traffic_routing
                .managed_routes
                .iter()
                .map(|r| &r.name)
                .collect::<Vec<_>>(),
            [&header_route.name],
            "{path}: Argo Rollouts refuses a setHeaderRoute whose route is not in managedRoutes"
        );
        let folder = &path[..path.rfind('/').expect("a folder")];
        let service = rollout.metadata.name.as_deref().expect("a name");
        let Object::VirtualService(vs) =
            &rendered.objects[&format!("{folder}/virtualservice-{service}.yaml")].object
        else {
            panic!("{path}: an in-mesh VirtualService");
        };
        let host = |name: &str| {
            let file = format!("{folder}/service-{name}.yaml");
            let Object::Service(svc) = &rendered
                .objects
                .get(&file)
                .unwrap_or_else(|| panic!("{file} is rendered"))
                .object
            else {
                panic!("a Service");
            };
            format!(
                "{name}.{}.svc.cluster.local",
                svc.metadata.namespace.as_deref().expect("a namespace")
            )
        };
        let (stable, canary_host) = (host(&canary.stable_service), host(&canary.canary_service));
        let port = vs.spec.http[0].matches[0]
            .port
            .expect("routes match their port");
        let header = &header_route.matches[0];
        let value = header
            .header_value
            .exact
            .as_deref()
            .expect("an exact value");
        let with = BTreeMap::from([(header.header_name.as_str(), value)]);
        let other_value = format!("{value}-not");
        let with_other = BTreeMap::from([(header.header_name.as_str(), other_value.as_str())]);
        // The header route is set right after the first step that gives
        // the canary traffic, so it has pods (Argo Rollouts scales it with
        // its weight).
        let header_step = canary
            .steps
            .iter()
            .position(|s| s.set_header_route.is_some())
            .expect("a header step");
        let first_weight = canary
            .steps
            .iter()
            .position(|s| s.set_weight.is_some_and(|w| w > 0));
        assert_eq!(first_weight.map(|i| i + 1), Some(header_step), "{path}");
        let mut to_canary = Vec::new();
        for done in 0..=canary.steps.len() {
            let live = at_step(vs, rollout, done);
            let plain = reached(&live, port, &BTreeMap::new());
            assert_eq!(
                reached(&live, port, &with_other),
                plain,
                "{path} after {done} steps"
            );
            let headed = reached(&live, port, &with);
            let expected = if done > header_step && done < canary.steps.len() {
                BTreeMap::from([(canary_host.clone(), 100)])
            } else {
                plain.clone()
            };
            assert_eq!(headed, expected, "{path} after {done} steps");
            assert!(
                plain.contains_key(&stable),
                "{path} after {done} steps: {plain:?}"
            );
            if headed.keys().eq([&canary_host]) {
                to_canary.push(done);
            }
        }
        assert!(
            !to_canary.is_empty(),
            "{path}: the header reaches only the canary at some step"
        );
        walked.push(path.clone());
    }
    assert!(
        walked.contains(&"staging/us-east-1/analytics/rollout-analytics.yaml".to_owned()),
        "{walked:?}"
    );
}
