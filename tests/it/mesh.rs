//! What Istio makes of the rendered AuthorizationPolicies: requests from
//! the ingress gateway, evaluated by Istio's ALLOW semantics.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use slipway::compile::{Selection, open};
use slipway::crd::istio::{AuthorizationPolicy, Operation};
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
