//! Typed objects for the custom resources slipway renders: Istio, Argo
//! Rollouts, the Prometheus Operator and External Secrets. Small serde structs with exactly the
//! fields slipway sets, field names as in the upstream CRDs; every optional
//! field is left out when unset, so nothing the API server would default is
//! written (and Argo CD sees no drift). `grafana` is the one that is no
//! resource: the dashboard JSON a ConfigMap carries.

pub mod argo;
pub mod argocd;
pub mod external_secrets;
pub mod grafana;
pub mod istio;
pub mod monitoring;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// The API version and kind of a custom resource's spec type.
pub trait Kind {
    const API_VERSION: &'static str;
    const KIND: &'static str;
}

/// The API version and kind of any object slipway renders: the core kinds
/// through `k8s-openapi`, custom resources through their spec's [`Kind`].
pub trait TypeMeta {
    const API_VERSION: &'static str;
    const KIND: &'static str;
}

impl<T: k8s_openapi::Resource> TypeMeta for T {
    const API_VERSION: &'static str = T::API_VERSION;
    const KIND: &'static str = T::KIND;
}

impl<S: Kind> TypeMeta for Custom<S> {
    const API_VERSION: &'static str = S::API_VERSION;
    const KIND: &'static str = S::KIND;
}

/// A custom resource: `apiVersion`, `kind`, `metadata`, `spec`.
#[derive(Clone, Debug, PartialEq)]
pub struct Custom<S> {
    pub metadata: ObjectMeta,
    pub spec: S,
}

impl<S: Kind + Serialize> Serialize for Custom<S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut object = serializer.serialize_struct(S::KIND, 4)?;
        object.serialize_field("apiVersion", S::API_VERSION)?;
        object.serialize_field("kind", S::KIND)?;
        object.serialize_field("metadata", &self.metadata)?;
        object.serialize_field("spec", &self.spec)?;
        object.end()
    }
}

macro_rules! kind {
    ($spec:ty, $api_version:literal, $kind:literal) => {
        impl $crate::crd::Kind for $spec {
            const API_VERSION: &'static str = $api_version;
            const KIND: &'static str = $kind;
        }
    };
}
pub(crate) use kind;
