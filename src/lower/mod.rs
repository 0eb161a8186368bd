//! Lowering: the resolved model of one service in one cluster becomes typed
//! Kubernetes objects. One module per concern; each is a pure function of the
//! model. Lowering never touches the filesystem and never fails: everything
//! that could go wrong was refused while resolving the model.

mod config;
mod meta;
mod scaling;
mod service;
mod workload;

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::model;
use crate::source::Span;

/// A rendered object. The variant order is the documented order of objects
/// within a service: what a workload uses comes before the workload.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Object {
    ServiceAccount(ServiceAccount),
    ConfigMap(ConfigMap),
    Service(Service),
    Deployment(Box<Deployment>),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    PodDisruptionBudget(PodDisruptionBudget),
}

/// What identifies an object in a cluster.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

/// An object and the blueprint it came from.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub service: String,
    pub origin: Span,
    pub object: Object,
}

macro_rules! each_object {
    ($object:expr, $bind:ident => $body:expr) => {
        match $object {
            Object::ServiceAccount($bind) => $body,
            Object::ConfigMap($bind) => $body,
            Object::Service($bind) => $body,
            Object::Deployment($bind) => $body,
            Object::HorizontalPodAutoscaler($bind) => $body,
            Object::PodDisruptionBudget($bind) => $body,
        }
    };
}

fn type_of<T: Resource>() -> (&'static str, &'static str) {
    (T::API_VERSION, T::KIND)
}

impl Object {
    pub fn metadata(&self) -> &ObjectMeta {
        each_object!(self, o => &o.metadata)
    }

    pub fn id(&self) -> ObjectId {
        let (api_version, kind) = match self {
            Object::ServiceAccount(_) => type_of::<ServiceAccount>(),
            Object::ConfigMap(_) => type_of::<ConfigMap>(),
            Object::Service(_) => type_of::<Service>(),
            Object::Deployment(_) => type_of::<Deployment>(),
            Object::HorizontalPodAutoscaler(_) => type_of::<HorizontalPodAutoscaler>(),
            Object::PodDisruptionBudget(_) => type_of::<PodDisruptionBudget>(),
        };
        let meta = self.metadata();
        ObjectId {
            api_version,
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }

    /// Position in the documented object order within a service.
    pub fn rank(&self) -> usize {
        match self {
            Object::ServiceAccount(_) => 0,
            Object::ConfigMap(_) => 1,
            Object::Service(_) => 2,
            Object::Deployment(_) => 3,
            Object::HorizontalPodAutoscaler(_) => 4,
            Object::PodDisruptionBudget(_) => 5,
        }
    }
}

/// Every object of one service in one cluster, in the documented order.
pub fn service(model: &model::Service) -> Vec<Rendered> {
    let config = config::config_map(model);
    let mut objects = vec![Object::ServiceAccount(service::service_account(model))];
    objects.extend(service::service(model).map(Object::Service));
    objects.push(Object::Deployment(Box::new(workload::deployment(
        model,
        config.as_ref(),
    ))));
    objects.extend(config.map(Object::ConfigMap));
    objects.extend(scaling::autoscaler(model).map(Object::HorizontalPodAutoscaler));
    objects.extend(scaling::disruption_budget(model).map(Object::PodDisruptionBudget));
    objects.sort_by_key(Object::rank);
    objects
        .into_iter()
        .map(|object| Rendered {
            service: model.name.clone(),
            origin: model.origin,
            object,
        })
        .collect()
}
