//! Kubernetes NetworkPolicies beneath Istio's AuthorizationPolicies: the
//! same callers, admitted a second time by the CNI, on pod addresses and
//! ports, before the sidecar sees a byte.
//!
//! Per service, ingress only from:
//!
//! - the pods of its declared callers ([`Cluster::callers`], the source the
//!   AuthorizationPolicy reads too), on its container ports: a
//!   NetworkPolicy's ports are the pod's, and with a sidecar the traffic
//!   still arrives at the pod on the target port, where iptables inside
//!   the pod hands it to Envoy's inbound listener;
//! - the ingress gateway's pods, for a service with routes, on the ports
//!   the routes reach (the gateway's Envoy connects to the endpoints'
//!   addresses and target ports);
//! - Prometheus' pods on the ports it scrapes: in scrape mode `merged` the
//!   agent's port 15020 (the PodMonitor follows the injector's
//!   `prometheus.io/port`), in `istio-certs` the metrics port (the
//!   ServiceMonitor) and Envoy's 15090 (the PodMonitor), and 15020 too
//!   when the cluster scrapes the sidecars itself (`meshScraped`).
//!
//! Nothing else needs to reach the pods: istiod never connects to them
//! (the sidecars dial it, which is egress), and the kubelet's probes
//! (rewritten by Istio to the agent's 15020) come from the pod's own node,
//! which NetworkPolicy always admits (`NetworkPolicySpec.ingress`: "OR if
//! the traffic source is the pod's local node").
//!
//! Per namespace, a default-deny ingress policy, as Kubernetes' docs write
//! it ("Default deny all ingress traffic"): pods that no other policy
//! selects are isolated too. Ingress only: denying egress would cut DNS,
//! the sidecars' xDS and certificates from istiod, and every call to a
//! service outside the mesh that no overlay lists.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{managed_by, object_meta, selector};
use super::monitoring::{AGENT_PORT, ENVOY_STATS_PORT};
use crate::model::{self, Cluster, Environment, ScrapeMode, Service};

/// The label the API server sets on every namespace, to its name
/// (Kubernetes' docs, "Targeting a Namespace by its name").
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Name of the namespace-wide policy, as Kubernetes' docs name it.
pub const DEFAULT_DENY: &str = "default-deny-ingress";
const INGRESS: &str = "Ingress";

/// Every pod of `namespace` isolated for ingress: selects all, admits
/// nothing. `None` when the environment renders no NetworkPolicies.
pub fn default_deny(namespace: &str, env: &Environment) -> Option<NetworkPolicy> {
    env.network_policy.as_ref()?;
    Some(NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(DEFAULT_DENY.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(managed_by()),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            // `{}`: all pods of the namespace, written out as the API
            // server returns it.
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec![INGRESS.to_owned()]),
            ..NetworkPolicySpec::default()
        }),
    })
}

/// The service's pods (stable and canary: they share the selector label)
/// admit ingress only from its callers, the gateway and Prometheus.
pub fn network_policy(service: &Service, cluster: &Cluster) -> Option<NetworkPolicy> {
    let settings = cluster.env.network_policy.as_ref()?;
    let mut rules = Vec::new();
    rules.extend(callers_rule(service, cluster));
    rules.extend(gateway_rule(service, settings));
    rules.push(prometheus_rule(service, &cluster.env, settings));
    Some(NetworkPolicy {
        metadata: object_meta(service, &service.name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(service)),
            policy_types: Some(vec![INGRESS.to_owned()]),
            ingress: Some(rules),
            ..NetworkPolicySpec::default()
        }),
    })
}

/// The callers' pods on every container port the Service targets. None
/// without callers, or without ports to call: a rule without ports would
/// admit every port.
fn callers_rule(service: &Service, cluster: &Cluster) -> Option<NetworkPolicyIngressRule> {
    let ports: BTreeSet<i32> = service.ports.iter().map(|p| p.target_port).collect();
    let peers: Vec<NetworkPolicyPeer> = cluster
        .callers(service)
        .map(|caller| {
            // A bare podSelector selects in the policy's own namespace.
            let namespace = (caller.namespace != service.namespace).then_some(&caller.namespace);
            peer(namespace, selector(caller))
        })
        .collect();
    if peers.is_empty() || ports.is_empty() {
        return None;
    }
    Some(rule(peers, &ports))
}

/// A service with routes admits the gateway's pods on the ports its routes
/// reach, as the AuthorizationPolicy does.
fn gateway_rule(
    service: &Service,
    settings: &model::NetworkPolicy,
) -> Option<NetworkPolicyIngressRule> {
    let ports = service.routed_target_ports();
    if ports.is_empty() {
        return None;
    }
    Some(rule(
        vec![peer(
            Some(&service.gateway.namespace),
            labels(&settings.gateway_pods),
        )],
        &ports,
    ))
}

/// Prometheus' pods on the ports it scrapes in the environment's mode.
/// When the cluster scrapes the sidecars itself (`meshScraped`), its job
/// may take either of the sidecar's metrics ports: Istio's sample follows
/// the injector's `prometheus.io/port`, the agent's 15020 while metrics
/// merging is on, Envoy's 15090 when it is off.
fn prometheus_rule(
    service: &Service,
    env: &Environment,
    settings: &model::NetworkPolicy,
) -> NetworkPolicyIngressRule {
    let ports: BTreeSet<i32> = match env.monitoring.scrape {
        ScrapeMode::Merged => BTreeSet::from([AGENT_PORT]),
        ScrapeMode::IstioCerts => {
            let sidecar = if env.monitoring.mesh_scraped {
                vec![AGENT_PORT, ENVOY_STATS_PORT]
            } else {
                vec![ENVOY_STATS_PORT]
            };
            service
                .metrics_port()
                .map(|p| p.target_port)
                .into_iter()
                .chain(sidecar)
                .collect()
        }
    };
    rule(
        vec![peer(
            Some(&settings.prometheus_namespace),
            labels(&settings.prometheus_pods),
        )],
        &ports,
    )
}

/// Pods matching `pods`, in `namespace` or (none) the policy's own: one
/// peer, so both selectors must match.
fn peer(namespace: Option<&String>, pods: LabelSelector) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: namespace.map(|name| {
            labels(&BTreeMap::from([(
                NAMESPACE_NAME_LABEL.to_owned(),
                name.clone(),
            )]))
        }),
        pod_selector: Some(pods),
        ip_block: None,
    }
}

/// Any of `peers`, on any of `ports` (TCP, the API server's default
/// protocol, left out).
fn rule(peers: Vec<NetworkPolicyPeer>, ports: &BTreeSet<i32>) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(peers),
        ports: Some(
            ports
                .iter()
                .map(|&port| NetworkPolicyPort {
                    port: Some(IntOrString::Int(port)),
                    ..NetworkPolicyPort::default()
                })
                .collect(),
        ),
    }
}

fn labels(labels: &BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels.clone()),
        ..LabelSelector::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::Object;

    const BLUEPRINT: &str = "apiVersion: slipway.dev/v1alpha1
kind: Blueprint
metadata: {name: shop, team: web}
containers:
  app: {image: registry.example.com/shop:1.0}
service:
  ports:
    http: {port: 80, targetPort: 8080, protocol: HTTP}
";

    /// The NetworkPolicies of one service rendered with `settings` as the
    /// overlay's `environment.networkPolicy`.
    fn policies(settings: &str) -> Vec<NetworkPolicy> {
        let (objects, diags) =
            crate::lower::testing::render(BLUEPRINT, &format!("  networkPolicy: {settings}\n"));
        assert!(diags.is_empty(), "{diags:?}");
        objects
            .into_iter()
            .filter_map(|o| match o {
                Object::NetworkPolicy(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn turned_off_renders_none_and_on_a_default_deny_and_the_services() {
        assert!(policies("{enabled: false}").is_empty());
        let on = policies("{prometheusPods: {prometheus: k8s}}");
        let names: Vec<_> = on.iter().map(|p| p.metadata.name.as_deref()).collect();
        assert_eq!(names, [Some(DEFAULT_DENY), Some("shop")]);
        let shop = on[1].spec.as_ref().expect("spec");
        // No callers, no routes: Prometheus alone, by the overlay's labels.
        let rules = shop.ingress.as_ref().expect("rules");
        assert_eq!(rules.len(), 1);
        let peer = &rules[0].from.as_ref().expect("peers")[0];
        let pods = peer
            .pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref());
        assert_eq!(pods.map(|m| m["prometheus"].as_str()), Some("k8s"));
    }
}
