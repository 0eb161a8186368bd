//! The resolved model of one service in one (environment, region): defaults
//! applied, references resolved, every rule that needs merged values
//! checked. Lowering reads only this.

mod data_stores;
mod environment;
mod logging;
mod monitoring;
mod scaling;
mod secrets;
mod traffic;
mod workload;

use std::collections::{BTreeMap, BTreeSet};

pub use data_stores::DataStores;
pub use environment::{
    DEFAULT_GATEWAY_POD_LABELS, DEFAULT_GATEWAY_SERVICE_ACCOUNT, DEFAULT_GITOPS_PATH,
    DEFAULT_PROMETHEUS_POD_LABELS, DEFAULT_PROMETHEUS_SERVICE_ACCOUNT, DEFAULT_PROMETHEUS_URL,
    DEFAULT_SCRAPE_MODE, Dashboards, Environment, GitOps, Monitoring, NetworkPolicy,
    PRODUCTION_NAMES, ScrapeMode, Tracing,
};
pub use logging::{LogFormat, Logging, Multiline, MultilineMatch};
pub use monitoring::{Metrics, Slo};
pub use scaling::{Disruption, IntOrPercent, Replicas};
pub use secrets::{
    DEFAULT_REFRESH_INTERVAL, ExternalSecret, Remote, RemoteValue, SecretStore, StoreSetting,
};
pub use traffic::{
    Abort, Analysis, Call, Canary, CanaryStep, ConnectionPool, Delay, Fault, Gateway, HeaderMatch,
    HeaderRoute, HttpPool, Mesh, OutlierDetection, Port, Protocol, Retries, Route, TcpPool,
    TrafficPolicy, is_http,
};
pub use workload::{
    Container, EnvValue, EnvVar, FileContent, MountedFile, PortRef, Probe, ProbeAction, Quantities,
    SCRATCH_DIR, ScratchVolume, check_image, is_quantity,
};

use crate::diag::{Code, Diagnostic};
use crate::input;
use crate::names;
use crate::node::de::Spanned;
use crate::source::{Sources, Span};

/// HPA CPU target when a blueprint scales but sets none.
pub const DEFAULT_CPU_TARGET: i32 = 80;

/// Every resolved service of one cluster.
#[derive(Debug)]
pub struct Cluster {
    pub env: Environment,
    pub region: String,
    /// The Argo CD cluster name of the region.
    pub cluster: String,
    /// Sorted by name, as the blueprints are.
    pub services: Vec<Service>,
}

/// A namespace of a cluster that one (environment, region) renders into.
#[derive(Debug)]
pub struct Claim {
    pub cluster: String,
    pub namespace: String,
    /// `<env>/<region>`
    pub owner: String,
    /// The namespace template that named it.
    pub origin: Span,
}

/// Two (environment, region)s that render the same namespace of the same
/// cluster would overwrite each other's objects there (each Argo CD
/// Application prunes and self-heals what the other applies).
pub fn conflicting_claims(mut claims: Vec<Claim>) -> Vec<Diagnostic> {
    claims.sort_by(|a, b| {
        (&a.cluster, &a.namespace, &a.owner).cmp(&(&b.cluster, &b.namespace, &b.owner))
    });
    claims
        .windows(2)
        .filter(|w| w[0].cluster == w[1].cluster && w[0].namespace == w[1].namespace)
        .map(|w| {
            let (first, second) = (&w[0], &w[1]);
            Diagnostic::error(
                Code::SHARED_NAMESPACE,
                second.origin,
                format!(
                    "`{}` and `{}` both render namespace `{}` of cluster `{}`: they would overwrite each other's objects",
                    second.owner, first.owner, second.namespace, second.cluster
                ),
            )
            .with_related(first.origin, "the other namespace template")
            .with_hint("give each environment its own namespaces (e.g. `{{ service.team }}-{{ env.name }}`) or its own cluster")
        })
        .collect()
}

impl Cluster {
    /// The namespaces this cluster's services render into.
    pub fn claims(&self) -> Vec<Claim> {
        let namespaces: BTreeSet<&str> =
            self.services.iter().map(|s| s.namespace.as_str()).collect();
        namespaces
            .into_iter()
            .map(|namespace| Claim {
                cluster: self.cluster.clone(),
                namespace: namespace.to_owned(),
                owner: format!("{}/{}", self.env.name, self.region),
                origin: self.env.namespace_origin,
            })
            .collect()
    }

    /// Rules across the services of one cluster.
    pub fn check(&self) -> Vec<Diagnostic> {
        let mut diags = traffic::route_conflicts(&self.services);
        diags.extend(traffic::unadmitted_calls(self));
        diags.extend(traffic::header_route_reach(&self.services));
        diags.extend(self.secrets_owned_elsewhere());
        diags
    }

    /// A Secret an ExternalSecret of slipway creates is the operator's to
    /// fill: a `{secret, key}` reference to it would read keys only another
    /// service's stored secrets decide, so it is refused; `store:`
    /// references read those secrets themselves.
    fn secrets_owned_elsewhere(&self) -> Vec<Diagnostic> {
        let owned: BTreeMap<(&str, String), &Service> = self
            .services
            .iter()
            .filter(|s| s.external_secret.is_some())
            .map(|s| ((s.namespace.as_str(), s.external_secret_name()), s))
            .collect();
        let mut diags = Vec::new();
        for service in &self.services {
            for named in &service.named_secrets {
                let Some(owner) = owned.get(&(service.namespace.as_str(), named.value.clone()))
                else {
                    continue;
                };
                diags.push(
                    Diagnostic::error(
                        Code::INVALID_VALUE,
                        named.span,
                        format!(
                            "Secret `{}` is the one the ExternalSecret of `{}` creates; its keys are that service's stored secrets",
                            named.value, owner.name
                        ),
                    )
                    .with_related(owner.origin, "the service whose ExternalSecret creates it")
                    .with_hint("read the secret from the store yourself: `{store: <secret name or ARN>, property: <key>}`"),
                );
            }
        }
        diags
    }

    /// The service of that name, if it is rendered in this cluster.
    pub fn service(&self, name: &str) -> Option<&Service> {
        // Services come in blueprint order, which is sorted by name.
        self.services
            .binary_search_by(|s| s.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.services[i])
    }

    /// The rendered services `service` declares as its callers
    /// (`mesh.allowFrom`), in its order: the one source both the
    /// AuthorizationPolicy and the NetworkPolicy admit, so the two layers
    /// cannot disagree. A caller not rendered in this cluster (a region's
    /// `only`) is left out.
    pub fn callers<'a>(&'a self, service: &'a Service) -> impl Iterator<Item = &'a Service> + 'a {
        service
            .mesh
            .allow_from
            .iter()
            .filter_map(|caller| self.service(caller))
    }

    /// What services may be allowed to be called by that is not rendered
    /// here: the ingress gateways and Prometheus, by mesh identity and (with
    /// NetworkPolicies) by their pods' labels.
    pub fn external(&self) -> External {
        let gateways = || self.services.iter().map(|s| &s.gateway);
        let principals = gateways()
            .map(|gateway| self.env.gateway_principal(gateway))
            .chain([self.env.prometheus_principal.clone()])
            .collect();
        let pods = self.env.network_policy.as_ref().map(|n| {
            gateways()
                .map(|gateway| (gateway.namespace.clone(), n.gateway_pods.clone()))
                .chain([(n.prometheus_namespace.clone(), n.prometheus_pods.clone())])
                .collect()
        });
        let secrets = self
            .services
            .iter()
            .flat_map(|s| {
                s.named_secrets
                    .iter()
                    .map(|named| (s.namespace.clone(), named.value.clone()))
            })
            .collect();
        External {
            principals,
            pods: pods.unwrap_or_default(),
            secrets,
        }
    }
}

/// What a cluster's rendered objects may name that lives outside them.
#[derive(Clone, Debug, Default)]
pub struct External {
    /// Mesh identities (the ingress gateways', Prometheus').
    pub principals: BTreeSet<String>,
    /// Pods by `(namespace, labels)` (the ingress gateways', Prometheus').
    pub pods: BTreeSet<(String, BTreeMap<String, String>)>,
    /// Secrets by `(namespace, name)` that blueprints reference by name:
    /// they exist in the cluster already; slipway renders none.
    pub secrets: BTreeSet<(String, String)>,
}

/// The EKS node group a service's pods run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeGroup {
    System,
    Application,
    Compute,
    Memory,
}

impl From<input::NodeGroup> for NodeGroup {
    fn from(raw: input::NodeGroup) -> Self {
        match raw {
            input::NodeGroup::System => NodeGroup::System,
            input::NodeGroup::Application => NodeGroup::Application,
            input::NodeGroup::Compute => NodeGroup::Compute,
            input::NodeGroup::Memory => NodeGroup::Memory,
        }
    }
}

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
    /// Where the lowest replica count was set (the blueprint's name if nowhere).
    pub replicas_span: Span,
    pub disruption: Option<Disruption>,
    /// Files of all containers, served from one content-addressed ConfigMap.
    pub files: Vec<MountedFile>,
    /// The containers' scratch volumes (emptyDirs), besides `/tmp`.
    pub volumes: Vec<ScratchVolume>,
    pub gateway: Gateway,
    pub routes: Vec<Route>,
    pub mesh: Mesh,
    pub canary: Option<Canary>,
    pub metrics: Option<Metrics>,
    pub slo: Option<Slo>,
    /// How Filebeat reads its logs, when the blueprint says.
    pub logging: Option<Logging>,
    /// The services its templates call through `endpoint()`.
    pub calls: Vec<Call>,
    /// The Secrets its `{secret, key}` references name, where they do.
    pub named_secrets: Vec<Spanned<String>>,
    /// What its `store:` references read, for its ExternalSecret.
    pub external_secret: Option<ExternalSecret>,
}

/// What a service is resolved against.
pub struct Context<'a> {
    pub sources: &'a Sources,
    pub namespace: Spanned<String>,
    pub gateway: Spanned<String>,
    /// Every service that has a blueprint.
    pub services: &'a BTreeSet<String>,
    /// The `endpoint()` calls of the service's templates.
    pub calls: &'a [crate::template::Reference],
    /// The cluster's secret store, for `store:` references.
    pub secrets: &'a StoreSetting,
    /// The data stores of the cluster's region, for `dependencies`.
    pub data_stores: &'a DataStores,
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
        let gateway = Gateway::parse(&cx.gateway, &mut diags);
        let ports = traffic::ports(raw, &mut diags);
        let mut stored = secrets::Collector::default();
        let mut secret_env = secrets::references(raw, &mut stored, &mut diags);
        let connections = data_stores::connect(raw, cx.data_stores, &mut stored, &mut diags);
        let external_secret = stored.finish(cx.secrets, &mut secret_env, &mut diags);
        let mut connection_env = Some(connections.env(&secret_env));
        let containers: Vec<Container> = raw
            .containers
            .iter()
            .enumerate()
            .map(|(i, (cname, c))| {
                // The dependencies' connection goes to the main container.
                let extra = connection_env.take().unwrap_or_default();
                workload::container(cname, c, i == 0, &ports, &secret_env, extra, &mut diags)
            })
            .collect();
        let replicas = scaling::replicas(raw, cx.sources, &mut diags);
        scaling::check_cpu_requests(raw, &replicas, &mut diags);
        let files = workload::files(raw, &mut diags);
        let volumes = workload::volumes(raw, &files, &mut diags);
        let service = Service {
            version: version_of(&containers[0].image),
            namespace: cx.namespace.value.clone(),
            origin: raw.metadata.name.span,
            annotations: raw.metadata.annotations.clone(),
            node_group: raw
                .placement
                .as_ref()
                .and_then(|p| p.node_group)
                .map_or(NodeGroup::Application, NodeGroup::from),
            spread_across_zones: raw
                .placement
                .as_ref()
                .and_then(|p| p.spread_across_zones)
                .unwrap_or(false),
            replicas_span: raw
                .scaling
                .as_ref()
                .and_then(|s| s.min_replicas.or(s.max_replicas))
                .map_or(raw.metadata.name.span, |n| n.span),
            disruption: scaling::disruption(raw, &replicas, &mut diags),
            files,
            volumes,
            routes: traffic::routes(raw, &ports, &mut diags),
            mesh: traffic::mesh(raw, cx.services, &mut diags),
            canary: traffic::canary(raw, &ports, &mut diags),
            metrics: monitoring::metrics(raw, &ports, &mut diags),
            slo: monitoring::slo(raw, &ports, &mut diags),
            logging: logging::logging(raw, &mut diags),
            calls: cx.calls.iter().map(Call::from).collect(),
            named_secrets: secrets::named(raw),
            external_secret,
            gateway: gateway.unwrap_or_else(|| Gateway {
                namespace: String::new(),
                name: String::new(),
            }),
            name,
            team,
            containers,
            ports,
            replicas,
        };
        let ok = !diags.iter().any(Diagnostic::is_error);
        (ok.then_some(service), diags)
    }

    /// The Service's name in DNS: `<name>.<namespace>.svc.cluster.local`.
    pub fn fqdn(&self) -> String {
        fqdn(&self.name, &self.namespace)
    }

    /// The mesh identity of the service's pods.
    pub fn principal(&self) -> String {
        principal(&self.namespace, &self.name)
    }

    /// The container ports the service's routes reach: each route's
    /// Service port, mapped to its `targetPort`.
    pub fn routed_target_ports(&self) -> BTreeSet<i32> {
        self.routes
            .iter()
            .filter_map(|route| self.ports.iter().find(|p| p.port == route.port))
            .map(|p| p.target_port)
            .collect()
    }

    /// The ExternalSecret's name, and the Secret it creates: the service's
    /// with `-external` (an object name holds 253 characters).
    pub fn external_secret_name(&self) -> String {
        names::derived_name(&self.name, "-external", names::MAX_SUBDOMAIN)
    }

    /// The port `monitoring.metrics` names (resolving checked it exists).
    pub fn metrics_port(&self) -> Option<&Port> {
        let name = &self.metrics.as_ref()?.port;
        self.ports.iter().find(|p| &p.name == name)
    }
}

pub fn fqdn(name: &str, namespace: &str) -> String {
    names::service_host(name, namespace)
}

/// A SPIFFE principal as Istio's AuthorizationPolicy names it.
pub fn principal(namespace: &str, service_account: &str) -> String {
    format!("cluster.local/ns/{namespace}/sa/{service_account}")
}

fn check_namespace(namespace: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    if let Err(reason) = names::dns1123_label(&namespace.value, 63) {
        diags.push(
            Diagnostic::error(Code::INVALID_NAME, namespace.span, format!("namespace `{}` {reason}", namespace.value))
                .with_label("the namespace template renders an invalid name")
                .with_hint("a namespace is a DNS-1123 label: lowercase letters, digits and `-`, at most 63 characters"),
        );
    }
    if let Some(why) = reserved_namespace(&namespace.value) {
        diags.push(
            Diagnostic::error(
                Code::RESERVED_NAMESPACE,
                namespace.span,
                format!("namespace `{}` {why}", namespace.value),
            )
            .with_label("the namespace template renders a reserved namespace")
            .with_hint(
                "give services a namespace of their own, e.g. `{{ service.team }}-{{ env.name }}`",
            ),
        );
    }
}

/// Namespaces whose objects mean something else than in a service's own:
/// `kube-` is reserved for Kubernetes' system namespaces (kubernetes
/// `pkg/apis/core/validation`: namespaces with the prefix are the
/// system's), and in Istio's root namespace (`istio-system`, meshConfig's
/// default `rootNamespace`) the `default` PeerAuthentication and Telemetry
/// slipway renders per namespace would apply to the whole mesh.
fn reserved_namespace(namespace: &str) -> Option<&'static str> {
    if namespace.starts_with("kube-") {
        Some("is reserved for Kubernetes' own components (`kube-*`)")
    } else if namespace == "istio-system" {
        Some(
            "is Istio's root namespace, where the namespace's `default` PeerAuthentication and Telemetry would apply to the whole mesh",
        )
    } else {
        None
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
}
