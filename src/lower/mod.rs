//! Lowering: the resolved model of one service in one cluster becomes typed
//! Kubernetes objects. One module per concern; each is a pure function of the
//! model. Lowering never touches the filesystem and never fails: everything
//! that could go wrong was refused while resolving the model.

pub mod argocd;
mod config;
mod dashboard;
mod kinds;
mod logging;
mod mesh;
mod meta;
mod monitoring;
mod network;
mod rollout;
mod scaling;
mod secrets;
mod service;
mod workload;

pub use dashboard::{MAX_UID as MAX_DASHBOARD_UID, RATE_WINDOW};
pub use kinds::{Folder, Kind, Object, Scope};
pub use logging::HINTS as LOG_HINTS;
pub use monitoring::{
    AGENT_PORT, ENVOY_STATS_PORT, PORT_ANNOTATION, SIDECAR_CONTAINER, SIDECAR_STATS_PORT,
};
pub use network::{DEFAULT_DENY, NAMESPACE_NAME_LABEL};
pub use workload::{INJECT_LABEL, NODE_GROUP_LABEL, node_group};

use std::collections::BTreeSet;
use std::fmt;

use rayon::prelude::*;

use crate::model;
use crate::source::Span;

/// What identifies an object in a cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

/// What an object belongs to; it decides the object's folder.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// `<service>/`
    Service(String),
    /// `_namespaces/<namespace>/`: the namespace and its mesh-wide settings.
    Namespace(String),
    /// `_gateway/`: the routes of the environment's gateway, one VirtualService per host.
    Gateway,
    /// `<env>/_argocd/`: the environment's Argo CD projects and applications.
    ArgoCd,
    /// `<env>/_argocd/<region>/`: under staged promotion, the Applications
    /// of one region, read at the region's branch by its region root.
    RegionArgoCd(String),
    /// `<env>/_bootstrap/`: the root Application that syncs `_argocd/`, and
    /// its project; applied by hand, synced by nothing.
    Bootstrap,
}

impl Owner {
    /// The kind of folder the owner's objects go to.
    pub fn folder(&self) -> Folder {
        match self {
            Owner::Service(_) => Folder::Service,
            Owner::Namespace(_) => Folder::Namespace,
            Owner::Gateway => Folder::Gateway,
            Owner::ArgoCd | Owner::RegionArgoCd(_) => Folder::ArgoCd,
            Owner::Bootstrap => Folder::Bootstrap,
        }
    }

    /// The folder of the owner's objects within a cluster's folder.
    pub fn dir(&self) -> String {
        match self {
            Owner::Service(name) => name.clone(),
            Owner::Namespace(namespace) => format!("_namespaces/{namespace}"),
            Owner::Gateway => "_gateway".to_owned(),
            Owner::ArgoCd => "_argocd".to_owned(),
            Owner::RegionArgoCd(region) => format!("_argocd/{region}"),
            Owner::Bootstrap => "_bootstrap".to_owned(),
        }
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Service(name) => write!(f, "service `{name}`"),
            Owner::Namespace(namespace) => write!(f, "namespace `{namespace}`"),
            Owner::Gateway => f.write_str("the gateway routes"),
            Owner::ArgoCd => f.write_str("Argo CD"),
            Owner::RegionArgoCd(region) => write!(f, "Argo CD of region `{region}`"),
            Owner::Bootstrap => f.write_str("the Argo CD bootstrap"),
        }
    }
}

/// An object, what it belongs to, and the input line it came from.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub owner: Owner,
    pub origin: Span,
    pub object: Object,
}

impl Object {
    pub fn id(&self) -> ObjectId {
        let meta = self.metadata();
        ObjectId {
            kind: self.kind(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

/// Every object of one cluster: per namespace, per service, then the
/// gateway routes. Within an owner, objects follow the kind order of
/// [`Kind`].
pub fn cluster(cluster: &model::Cluster) -> Vec<Rendered> {
    let groups = cluster_with(cluster, |group| group);
    let mut out = Vec::with_capacity(groups.iter().map(Vec::len).sum());
    out.extend(groups.into_iter().flatten());
    out
}

/// [`cluster`], one owner's objects at a time: each group goes to `finish`
/// as soon as it is lowered (services in parallel), and the results come
/// back in object order. Only one group per core is in memory as objects.
pub fn cluster_with<T: Send>(
    cluster: &model::Cluster,
    finish: impl Fn(Vec<Rendered>) -> T + Sync,
) -> Vec<T> {
    let namespaces: BTreeSet<&str> = cluster
        .services
        .iter()
        .map(|s| s.namespace.as_str())
        .collect();
    let mut out: Vec<T> = namespaces
        .into_iter()
        .map(|namespace| {
            let owner = Owner::Namespace(namespace.to_owned());
            let mut objects = mesh::namespace(namespace, &cluster.env);
            objects
                .extend(network::default_deny(namespace, &cluster.env).map(Object::NetworkPolicy));
            finish(owned(owner, cluster.env.namespace_origin, objects))
        })
        .collect();
    out.par_extend(cluster.services.par_iter().map(|service| {
        finish(owned(
            Owner::Service(service.name.clone()),
            service.origin,
            self::service(service, cluster),
        ))
    }));
    let routes = mesh::gateway_routes(cluster)
        .into_iter()
        .map(|(route, origin)| rendered(Owner::Gateway, origin, Object::VirtualService(route)))
        .collect();
    out.push(finish(routes));
    out
}

pub(crate) fn owned(owner: Owner, origin: Span, mut objects: Vec<Object>) -> Vec<Rendered> {
    objects.sort_by_key(Object::kind);
    objects
        .into_iter()
        .map(|object| rendered(owner.clone(), origin, object))
        .collect()
}

/// An object of `owner`, which its kind's registry entry must allow.
fn rendered(owner: Owner, origin: Span, object: Object) -> Rendered {
    debug_assert!(
        object.kind().folders().contains(&owner.folder()),
        "{} is not registered for {owner}'s folder",
        object.kind()
    );
    Rendered {
        owner,
        origin,
        object,
    }
}

/// Every object of one service in one cluster.
fn service(model: &model::Service, cluster: &model::Cluster) -> Vec<Object> {
    let config = config::config_map(model);
    let mut template = workload::pod_template(model, config.as_ref());
    monitoring::annotate_pods(model, &cluster.env, &mut template);
    logging::annotate_pods(model, &mut template);
    let mut objects = vec![Object::ServiceAccount(service::service_account(model))];
    objects.extend(service::service(model).map(Object::Service));
    match &model.canary {
        Some(canary) => {
            objects.push(Object::Rollout(Box::new(rollout::rollout(
                model, canary, template,
            ))));
            objects.extend(service::canary_service(model).map(Object::Service));
            objects.extend(
                rollout::analysis_template(model, canary, &cluster.env)
                    .map(Object::AnalysisTemplate),
            );
        }
        None => objects.push(Object::Deployment(Box::new(workload::deployment(
            model, template,
        )))),
    }
    objects.extend(config.map(Object::ConfigMap));
    objects.extend(secrets::external_secret(model).map(Object::ExternalSecret));
    objects.extend(dashboard::config_map(model, &cluster.env).map(Object::ConfigMap));
    objects.extend(scaling::autoscaler(model).map(Object::HorizontalPodAutoscaler));
    objects.extend(scaling::disruption_budget(model).map(Object::PodDisruptionBudget));
    objects.extend(
        mesh::destination_rules(model)
            .into_iter()
            .map(Object::DestinationRule),
    );
    objects.extend(mesh::mesh_routes(model).map(Object::VirtualService));
    objects.push(Object::AuthorizationPolicy(mesh::authorization_policy(
        model, cluster,
    )));
    objects.extend(network::network_policy(model, cluster).map(Object::NetworkPolicy));
    objects.extend(monitoring::service_monitor(model, &cluster.env).map(Object::ServiceMonitor));
    objects.extend(monitoring::pod_monitor(model, &cluster.env).map(Object::PodMonitor));
    objects.extend(monitoring::prometheus_rule(model, &cluster.env).map(Object::PrometheusRule));
    objects
}

/// Rendering a one-service project in memory, for the lowering tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Mutex;

    use super::Object;
    use crate::compile::{Selection, validated};
    use crate::diag::Diagnostic;
    use crate::load::from_memory;

    /// The objects of `blueprint` (service `shop`) in an environment `dev`
    /// whose `environment` section also holds `environment`, and every
    /// diagnostic.
    pub fn render(blueprint: &str, environment: &str) -> (Vec<Object>, Vec<Diagnostic>) {
        let overlay = format!(
            "apiVersion: slipway.dev/v1alpha1
kind: Overlay
metadata: {{name: dev}}
environment:
  namespace: web-dev
  domain: example.com
  gateway: istio-system/public-gateway
  regions: [{{name: r1, cluster: c1}}]
{environment}"
        );
        let (project, mut diags) = validated(from_memory(&[
            ("blueprints/shop.yaml", blueprint.as_bytes()),
            ("overlays/dev.yaml", overlay.as_bytes()),
        ]));
        let seen = Mutex::new(Vec::new());
        let (_, found) = project.render(&Selection::default(), |group| {
            let objects = group.objects.iter().map(|r| r.object.clone());
            seen.lock().expect("no panic").extend(objects);
        });
        diags.extend(found);
        (seen.into_inner().expect("no panic"), diags)
    }
}
