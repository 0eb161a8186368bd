//! External Secrets Operator: external-secrets.io/v1 ExternalSecret
//! (external-secrets `apis/externalsecrets/v1/externalsecret_types.go`).

use serde::Serialize;

use super::kind;

pub type ExternalSecret = super::Custom<ExternalSecretSpec>;

kind!(
    ExternalSecretSpec,
    "external-secrets.io/v1",
    "ExternalSecret"
);

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSpec {
    pub secret_store_ref: SecretStoreRef,
    pub target: ExternalSecretTarget,
    pub refresh_interval: String,
    pub data: Vec<ExternalSecretData>,
}

/// `kind` is `SecretStore` or `ClusterSecretStore`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SecretStoreRef {
    pub kind: String,
    pub name: String,
}

/// The Secret the operator creates.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretTarget {
    pub name: String,
    pub creation_policy: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretData {
    pub secret_key: String,
    pub remote_ref: RemoteRef,
}

/// `ExternalSecretDataRemoteRef`. The three strategies are written with
/// the values the operator reads when they are missing: operators before
/// 2.9.0 default them on create (`+kubebuilder:default`), and in the
/// `data` list, which Argo CD compares whole, a defaulted field Git does
/// not hold is drift that never heals.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteRef {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub conversion_strategy: String,
    pub decoding_strategy: String,
    pub metadata_policy: String,
}
