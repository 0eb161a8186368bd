//! What the checks across a cluster need to know of each object: its
//! identity and the few fields that references use. Facts are small, so a
//! render can emit and free each object as soon as it is lowered and still
//! check every reference once the whole cluster is known.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::crd::monitoring::PodMetricsEndpoint;
use crate::lower::{
    INJECT_LABEL, Kind, NAMESPACE_NAME_LABEL, Object, Owner, PORT_ANNOTATION, Rendered,
};
use crate::source::Span;

pub type Labels = BTreeMap<String, String>;

/// One rendered object, reduced to what references need.
#[derive(Debug)]
pub struct Facts {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub owner: Owner,
    pub origin: Span,
    pub detail: Detail,
}

/// The fields of each kind that references use.
#[derive(Debug)]
pub enum Detail {
    Workload(Pods),
    Rollout(Box<RolloutRefs>),
    Service(ServiceFacts),
    Autoscaler {
        target_kind: String,
        target_name: String,
    },
    DisruptionBudget {
        selector: Labels,
    },
    DestinationRule {
        host: String,
    },
    VirtualService(Vec<Route>),
    ServiceMonitor {
        selector: LabelSelector,
        ports: Vec<String>,
    },
    PodMonitor {
        selector: LabelSelector,
        endpoints: Vec<PodEndpoint>,
    },
    Authorization {
        selector: Labels,
        principals: Vec<String>,
    },
    PeerAuthentication {
        strict: bool,
    },
    NetworkPolicy {
        /// The pods it applies to; empty: every pod of its namespace.
        selector: LabelSelector,
        rules: Vec<IngressRule>,
    },
    /// The Secret an ExternalSecret creates, and its keys.
    ExternalSecret {
        target: String,
        keys: Vec<String>,
    },
    /// Only its identity matters.
    Other,
}

/// The pods a Deployment or Rollout runs.
#[derive(Debug)]
pub struct Pods {
    pub labels: Labels,
    /// Container ports of every container.
    pub ports: Vec<i32>,
    /// Names of those ports.
    pub port_names: Vec<String>,
    pub containers: Vec<String>,
    /// Istio injects its sidecar.
    pub sidecar: bool,
    /// The port Istio's agent merges the app's metrics from (`prometheus.io/port`).
    pub merge_port: Option<String>,
    /// `(Secret, key)` of every `secretKeyRef` of its containers' env.
    pub secrets: Vec<(String, String)>,
}

/// One ingress rule of a NetworkPolicy: any of its peers, on its ports.
#[derive(Debug)]
pub struct IngressRule {
    pub peers: Vec<Peer>,
    /// Numeric ports.
    pub ports: Vec<i32>,
}

/// Pods a NetworkPolicy admits.
#[derive(Debug)]
pub struct Peer {
    pub namespace: PeerNamespace,
    pub pods: LabelSelector,
}

/// Where a peer's pods are.
#[derive(Debug)]
pub enum PeerNamespace {
    /// No namespace selector: the policy's own namespace.
    Own,
    /// The namespace its selector names by `kubernetes.io/metadata.name`.
    Named(String),
    /// Namespaces selected by other labels.
    Selected,
}

/// What one endpoint of a PodMonitor scrapes.
#[derive(Debug)]
pub struct PodEndpoint {
    /// The container port it names.
    pub port: Option<String>,
    /// The container its relabelings keep.
    pub container: Option<String>,
}

/// A Rollout's pods and what its canary strategy names.
#[derive(Debug)]
pub struct RolloutRefs {
    pub pods: Pods,
    pub canary_service: String,
    pub stable_service: String,
    /// `(name or name.namespace, routes)`
    pub virtual_services: Vec<(String, Vec<String>)>,
    pub templates: Vec<String>,
}

#[derive(Debug)]
pub struct ServiceFacts {
    pub labels: Labels,
    /// `None` when the Service has no spec.
    pub spec: Option<ServiceSpecFacts>,
}

#[derive(Debug)]
pub struct ServiceSpecFacts {
    pub selector: Labels,
    pub ports: Vec<ServicePort>,
}

#[derive(Debug)]
pub struct ServicePort {
    pub name: Option<String>,
    pub port: i32,
    /// A numeric target port.
    pub target: Option<i32>,
}

/// One HTTP route of a VirtualService.
#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub weights: Vec<i32>,
    /// `(host, port)`
    pub destinations: Vec<(String, i32)>,
}

impl Facts {
    pub fn of(rendered: &Rendered) -> Facts {
        let meta = rendered.object.metadata();
        Facts {
            kind: rendered.object.kind(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            owner: rendered.owner.clone(),
            origin: rendered.origin,
            detail: detail(&rendered.object),
        }
    }

    /// The pods of a workload, if this is one.
    pub fn pods(&self) -> Option<&Pods> {
        match &self.detail {
            Detail::Workload(pods) => Some(pods),
            Detail::Rollout(rollout) => Some(&rollout.pods),
            _ => None,
        }
    }
}

fn detail(object: &Object) -> Detail {
    match object {
        Object::Deployment(d) => Detail::Workload(pods(&d.spec.template)),
        Object::Rollout(r) => {
            let canary = &r.spec.strategy.canary;
            Detail::Rollout(Box::new(RolloutRefs {
                pods: pods(&r.spec.template),
                canary_service: canary.canary_service.clone(),
                stable_service: canary.stable_service.clone(),
                virtual_services: canary
                    .traffic_routing
                    .istio
                    .virtual_services
                    .iter()
                    .map(|v| (v.name.clone(), v.routes.clone()))
                    .collect(),
                templates: canary
                    .analysis
                    .iter()
                    .flat_map(|a| &a.templates)
                    .map(|t| t.template_name.clone())
                    .collect(),
            }))
        }
        Object::Service(s) => Detail::Service(ServiceFacts {
            labels: s.metadata.labels.clone().unwrap_or_default(),
            spec: s.spec.as_ref().map(|spec| ServiceSpecFacts {
                selector: spec.selector.clone().unwrap_or_default(),
                ports: spec
                    .ports
                    .iter()
                    .flatten()
                    .map(|p| ServicePort {
                        name: p.name.clone(),
                        port: p.port,
                        target: match p.target_port {
                            Some(IntOrString::Int(target)) => Some(target),
                            _ => None,
                        },
                    })
                    .collect(),
            }),
        }),
        Object::HorizontalPodAutoscaler(hpa) => Detail::Autoscaler {
            target_kind: hpa.spec.scale_target_ref.kind.clone(),
            target_name: hpa.spec.scale_target_ref.name.clone(),
        },
        Object::PodDisruptionBudget(pdb) => Detail::DisruptionBudget {
            selector: pdb
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| s.match_labels.clone())
                .unwrap_or_default(),
        },
        Object::DestinationRule(rule) => Detail::DestinationRule {
            host: rule.spec.host.clone(),
        },
        Object::VirtualService(route) => Detail::VirtualService(
            route
                .spec
                .http
                .iter()
                .map(|http| Route {
                    name: http.name.clone(),
                    weights: http.route.iter().filter_map(|d| d.weight).collect(),
                    destinations: http
                        .route
                        .iter()
                        .map(|d| (d.destination.host.clone(), d.destination.port.number))
                        .collect(),
                })
                .collect(),
        ),
        Object::PodMonitor(monitor) => Detail::PodMonitor {
            selector: monitor.spec.selector.clone(),
            endpoints: monitor
                .spec
                .pod_metrics_endpoints
                .iter()
                .map(pod_endpoint)
                .collect(),
        },
        Object::ServiceMonitor(monitor) => Detail::ServiceMonitor {
            selector: monitor.spec.selector.clone(),
            ports: monitor
                .spec
                .endpoints
                .iter()
                .map(|e| e.port.clone())
                .collect(),
        },
        Object::AuthorizationPolicy(policy) => Detail::Authorization {
            selector: policy.spec.selector.match_labels.clone(),
            principals: policy
                .spec
                .rules
                .iter()
                .flat_map(|r| &r.from)
                .flat_map(|f| f.source.principals.iter().cloned())
                .collect(),
        },
        Object::PeerAuthentication(p) => Detail::PeerAuthentication {
            strict: p.spec.mtls.mode == "STRICT",
        },
        Object::NetworkPolicy(policy) => network_policy(policy),
        Object::ExternalSecret(secret) => Detail::ExternalSecret {
            target: secret.spec.target.name.clone(),
            keys: secret
                .spec
                .data
                .iter()
                .map(|d| d.secret_key.clone())
                .collect(),
        },
        _ => Detail::Other,
    }
}

fn network_policy(policy: &NetworkPolicy) -> Detail {
    let spec = policy.spec.as_ref();
    let rules = spec.and_then(|s| s.ingress.as_ref()).into_iter().flatten();
    Detail::NetworkPolicy {
        selector: spec
            .and_then(|s| s.pod_selector.clone())
            .unwrap_or_default(),
        rules: rules
            .map(|rule| IngressRule {
                peers: rule.from.iter().flatten().map(peer).collect(),
                ports: rule
                    .ports
                    .iter()
                    .flatten()
                    .filter_map(|p| match p.port {
                        Some(IntOrString::Int(port)) => Some(port),
                        _ => None,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn peer(peer: &NetworkPolicyPeer) -> Peer {
    let namespace = match &peer.namespace_selector {
        None => PeerNamespace::Own,
        Some(selector) => selector
            .match_labels
            .as_ref()
            .and_then(|m| m.get(NAMESPACE_NAME_LABEL))
            .filter(|_| selector.match_expressions.is_none())
            .map_or(PeerNamespace::Selected, |name| {
                PeerNamespace::Named(name.clone())
            }),
    };
    Peer {
        namespace,
        pods: peer.pod_selector.clone().unwrap_or_default(),
    }
}

fn pod_endpoint(endpoint: &PodMetricsEndpoint) -> PodEndpoint {
    let container = endpoint.relabelings.iter().find(|r| {
        r.action.as_deref() == Some("keep")
            && r.source_labels == ["__meta_kubernetes_pod_container_name"]
    });
    PodEndpoint {
        port: endpoint.port.clone(),
        container: container.and_then(|r| r.regex.clone()),
    }
}

fn pods(template: &PodTemplateSpec) -> Pods {
    let meta = template.metadata.as_ref();
    let labels = meta.and_then(|m| m.labels.clone()).unwrap_or_default();
    let containers = template.spec.iter().flat_map(|s| &s.containers);
    let ports = || containers.clone().flat_map(|c| c.ports.iter().flatten());
    Pods {
        sidecar: labels.get(INJECT_LABEL).is_some_and(|v| v == "true"),
        labels,
        ports: ports().map(|p| p.container_port).collect(),
        port_names: ports().filter_map(|p| p.name.clone()).collect(),
        containers: containers.clone().map(|c| c.name.clone()).collect(),
        merge_port: meta
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(PORT_ANNOTATION))
            .cloned(),
        secrets: containers
            .clone()
            .flat_map(|c| c.env.iter().flatten())
            .filter_map(|e| e.value_from.as_ref()?.secret_key_ref.as_ref())
            .map(|r| (r.name.clone(), r.key.clone()))
            .collect(),
    }
}
