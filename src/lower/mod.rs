//! Lowering: the resolved model of one service in one cluster becomes typed
//! Kubernetes objects. One module per concern; each is a pure function of the
//! model. Lowering never touches the filesystem and never fails: everything
//! that could go wrong was refused while resolving the model.

pub mod argocd;
mod config;
mod mesh;
mod meta;
mod monitoring;
mod rollout;
mod scaling;
mod service;
mod workload;

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rayon::prelude::*;
use serde::Serialize;

use crate::crd::argo::{AnalysisTemplate, Rollout};
use crate::crd::argocd::{AppProject, Application};
use crate::crd::istio::{
    AuthorizationPolicy, DestinationRule, PeerAuthentication, Telemetry, VirtualService,
};
use crate::crd::monitoring::{PrometheusRule, ServiceMonitor};
use crate::crd::{Custom, Kind};
use crate::model;
use crate::source::Span;

/// A rendered object.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Object {
    Namespace(Namespace),
    PeerAuthentication(PeerAuthentication),
    Telemetry(Telemetry),
    ServiceAccount(ServiceAccount),
    ConfigMap(ConfigMap),
    AnalysisTemplate(AnalysisTemplate),
    Service(Service),
    Deployment(Box<Deployment>),
    Rollout(Box<Rollout>),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    PodDisruptionBudget(PodDisruptionBudget),
    DestinationRule(DestinationRule),
    VirtualService(VirtualService),
    AuthorizationPolicy(AuthorizationPolicy),
    ServiceMonitor(ServiceMonitor),
    PrometheusRule(PrometheusRule),
    AppProject(AppProject),
    Application(Box<Application>),
}

/// What identifies an object in a cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    pub api_version: &'static str,
    pub kind: &'static str,
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
}

impl Owner {
    /// The folder of the owner's objects within a cluster's folder.
    pub fn dir(&self) -> String {
        match self {
            Owner::Service(name) => name.clone(),
            Owner::Namespace(namespace) => format!("_namespaces/{namespace}"),
            Owner::Gateway => "_gateway".to_owned(),
            Owner::ArgoCd => "_argocd".to_owned(),
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

macro_rules! each_object {
    ($object:expr, $bind:ident => $body:expr) => {
        match $object {
            Object::Namespace($bind) => $body,
            Object::PeerAuthentication($bind) => $body,
            Object::Telemetry($bind) => $body,
            Object::ServiceAccount($bind) => $body,
            Object::ConfigMap($bind) => $body,
            Object::AnalysisTemplate($bind) => $body,
            Object::Service($bind) => $body,
            Object::Deployment($bind) => $body,
            Object::Rollout($bind) => $body,
            Object::HorizontalPodAutoscaler($bind) => $body,
            Object::PodDisruptionBudget($bind) => $body,
            Object::DestinationRule($bind) => $body,
            Object::VirtualService($bind) => $body,
            Object::AuthorizationPolicy($bind) => $body,
            Object::ServiceMonitor($bind) => $body,
            Object::PrometheusRule($bind) => $body,
            Object::AppProject($bind) => $body,
            Object::Application($bind) => $body,
        }
    };
}

fn core<T: Resource>() -> (&'static str, &'static str) {
    (T::API_VERSION, T::KIND)
}

fn custom<S: Kind>(_: &Custom<S>) -> (&'static str, &'static str) {
    (S::API_VERSION, S::KIND)
}

impl Object {
    pub fn metadata(&self) -> &ObjectMeta {
        each_object!(self, o => &o.metadata)
    }

    /// API version and kind.
    pub fn type_of(&self) -> (&'static str, &'static str) {
        match self {
            Object::Namespace(_) => core::<Namespace>(),
            Object::ServiceAccount(_) => core::<ServiceAccount>(),
            Object::ConfigMap(_) => core::<ConfigMap>(),
            Object::Service(_) => core::<Service>(),
            Object::Deployment(_) => core::<Deployment>(),
            Object::HorizontalPodAutoscaler(_) => core::<HorizontalPodAutoscaler>(),
            Object::PodDisruptionBudget(_) => core::<PodDisruptionBudget>(),
            Object::PeerAuthentication(o) => custom(o),
            Object::Telemetry(o) => custom(o),
            Object::AnalysisTemplate(o) => custom(o),
            Object::Rollout(o) => custom(o),
            Object::DestinationRule(o) => custom(o),
            Object::VirtualService(o) => custom(o),
            Object::AuthorizationPolicy(o) => custom(o),
            Object::ServiceMonitor(o) => custom(o),
            Object::PrometheusRule(o) => custom(o),
            Object::AppProject(o) => custom(o),
            Object::Application(o) => custom(o),
        }
    }

    pub fn id(&self) -> ObjectId {
        let (api_version, kind) = self.type_of();
        let meta = self.metadata();
        ObjectId {
            api_version,
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

/// Every object of one cluster: per namespace, per service, then the
/// gateway routes. Within an owner, objects follow the variant order of
/// [`Object`].
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
            let objects = mesh::namespace(namespace, &cluster.env);
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
        .map(|(route, origin)| Rendered {
            owner: Owner::Gateway,
            origin,
            object: Object::VirtualService(route),
        })
        .collect();
    out.push(finish(routes));
    out
}

pub(crate) fn owned(owner: Owner, origin: Span, mut objects: Vec<Object>) -> Vec<Rendered> {
    objects.sort_by_key(rank);
    objects
        .into_iter()
        .map(|object| Rendered {
            owner: owner.clone(),
            origin,
            object,
        })
        .collect()
}

/// Position in the documented object order, [`KIND_ORDER`].
fn rank(object: &Object) -> usize {
    let (_, kind) = object.type_of();
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

/// The order of objects within an owner's folder and in the stream: what
/// an object uses comes before it (the namespace before what lives in it, a
/// ConfigMap before the workload that mounts it).
pub const KIND_ORDER: [&str; 18] = [
    "Namespace",
    "PeerAuthentication",
    "Telemetry",
    "ServiceAccount",
    "ConfigMap",
    "AnalysisTemplate",
    "Service",
    "Deployment",
    "Rollout",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "DestinationRule",
    "VirtualService",
    "AuthorizationPolicy",
    "ServiceMonitor",
    "PrometheusRule",
    "AppProject",
    "Application",
];

/// Every object of one service in one cluster.
fn service(model: &model::Service, cluster: &model::Cluster) -> Vec<Object> {
    let config = config::config_map(model);
    let template = workload::pod_template(model, config.as_ref());
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
    objects.extend(monitoring::service_monitor(model).map(Object::ServiceMonitor));
    objects.extend(monitoring::prometheus_rule(model).map(Object::PrometheusRule));
    objects
}
