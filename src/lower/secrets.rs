//! A service's ExternalSecret: the secrets its `store:` references read,
//! copied by the External Secrets Operator from AWS Secrets Manager into
//! the Secret its pods read (`secretKeyRef`). Slipway writes where the
//! values are, never a value.

use crate::crd::external_secrets::{
    ExternalSecret, ExternalSecretData, ExternalSecretSpec, ExternalSecretTarget, RemoteRef,
    SecretStoreRef,
};
use crate::model::Service;

use super::meta::{object_meta, sync_before_workloads};

/// The store kind: one store per cluster, shared by every namespace.
pub const STORE_KIND: &str = "ClusterSecretStore";
/// The operator creates the Secret and owns it (an ownerReference): the
/// Secret goes when its ExternalSecret goes, and Argo CD shows it as the
/// ExternalSecret's child instead of an object to prune.
pub const CREATION_POLICY: &str = "Owner";

pub fn external_secret(service: &Service) -> Option<ExternalSecret> {
    let model = service.external_secret.as_ref()?;
    let name = service.external_secret_name();
    let mut metadata = object_meta(service, &name);
    // The pods read the Secret it creates: it syncs first, and Argo CD's
    // health check of ExternalSecrets (Healthy once `Ready`) holds the
    // workload's wave until the Secret is there.
    sync_before_workloads(&mut metadata);
    Some(ExternalSecret {
        metadata,
        spec: ExternalSecretSpec {
            secret_store_ref: SecretStoreRef {
                kind: STORE_KIND.to_owned(),
                name: model.store.name.clone(),
            },
            target: ExternalSecretTarget {
                name,
                creation_policy: CREATION_POLICY.to_owned(),
            },
            refresh_interval: model.store.refresh_interval.clone(),
            data: model
                .data
                .iter()
                .map(|value| ExternalSecretData {
                    secret_key: value.secret_key.clone(),
                    remote_ref: RemoteRef {
                        key: value.remote.key.clone(),
                        property: value.remote.property.clone(),
                        version: value.remote.version.clone(),
                        conversion_strategy: "Default".to_owned(),
                        decoding_strategy: "None".to_owned(),
                        metadata_policy: "None".to_owned(),
                    },
                })
                .collect(),
        },
    })
}
