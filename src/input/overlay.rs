use std::collections::BTreeMap;

use serde::Deserialize;

use super::StoreKind;
use crate::node::de::Spanned;

/// The `metadata` and `environment` of an overlay. Its patch sections
/// (`defaults`, `services`, `regionOverrides`) stay YAML trees: they are
/// partial blueprints, typed by the schema and applied by `crate::merge`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverlayHead {
    pub metadata: OverlayMetadata,
    pub environment: Environment,
    #[serde(default)]
    pub policy: BTreeMap<String, RuleSetting>,
}

/// An overlay's setting of one policy rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetting {
    pub severity: RuleSeverity,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RuleSeverity {
    Error,
    Warning,
    Off,
}

#[derive(Debug, Deserialize)]
pub struct OverlayMetadata {
    pub name: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub namespace: Spanned<String>,
    pub domain: Spanned<String>,
    pub gateway: Spanned<String>,
    pub gateway_service_account: Option<Spanned<String>>,
    pub prometheus_url: Option<Spanned<String>>,
    pub prometheus_service_account: Option<Spanned<String>>,
    pub tracing: Option<Tracing>,
    pub monitoring: Option<EnvironmentMonitoring>,
    pub network_policy: Option<NetworkPolicy>,
    pub dashboards: Option<Dashboards>,
    pub argocd: Option<ArgoCd>,
    pub external_secrets: Option<Spanned<SecretStore>>,
    #[serde(default)]
    pub data_stores: BTreeMap<String, Spanned<DataStore>>,
    pub regions: Vec<Region>,
}

impl Environment {
    /// The region marked `primary`, or else the first one listed.
    pub fn primary_region(&self) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| r.primary)
            .or(self.regions.first())
    }
}

/// A data store blueprints' `dependencies` name, per region.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataStore {
    #[serde(rename = "type")]
    pub kind: Spanned<StoreKind>,
    pub port: Option<Spanned<u16>>,
    pub database: Option<Spanned<String>>,
    pub credentials: Option<Spanned<Credentials>>,
    pub regions: BTreeMap<String, Spanned<Endpoints>>,
}

/// A secret of AWS Secrets Manager with `username` and `password`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub store: Spanned<String>,
    pub version: Option<Spanned<String>>,
}

/// A data store's endpoints in one region.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    pub writer: Option<Spanned<String>>,
    pub reader: Option<Spanned<String>>,
}

/// `externalSecrets` of an environment or a region: the ClusterSecretStore
/// services' ExternalSecrets read through, and how often.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SecretStore {
    pub store: Option<Spanned<String>>,
    pub refresh_interval: Option<Spanned<String>>,
}

/// `environment.networkPolicy`: whether Kubernetes NetworkPolicies are
/// rendered, and the labels of the pods outside slipway's namespaces that
/// they admit.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkPolicy {
    pub enabled: Option<bool>,
    /// Checked for valid labels on the tree (`crate::validate`).
    pub gateway_pods: Option<BTreeMap<String, String>>,
    pub prometheus_pods: Option<BTreeMap<String, String>>,
}

/// `environment.monitoring`: how the cluster's Prometheus scrapes through
/// STRICT mTLS, and what it selects monitors by.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvironmentMonitoring {
    pub scrape: Option<ScrapeMode>,
    pub mesh_scraped: Option<bool>,
    /// Checked for valid, unreserved keys on the tree (`crate::validate`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `environment.dashboards`: the Grafana dashboard of each service, as a
/// ConfigMap that the Grafana sidecar of kube-prometheus-stack loads.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Dashboards {
    pub enabled: Option<bool>,
    /// Checked for valid, unreserved keys on the tree (`crate::validate`).
    pub labels: Option<BTreeMap<String, String>>,
    /// Checked for a valid annotation key on the tree (`crate::validate`).
    pub folder_annotation: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ScrapeMode {
    IstioCerts,
    Merged,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ArgoCd {
    #[serde(rename = "repoURL")]
    pub repo_url: Spanned<String>,
    pub target_revision: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub namespace: Option<Spanned<String>>,
    pub automated_sync: Option<bool>,
    pub promotion: Option<Spanned<Promotion>>,
}

/// Staged region promotion: the order in which a change reaches the
/// environment's regions, each region reading a Git branch of its own.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    pub order: Vec<Spanned<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Tracing {
    pub sampling_percent: f64,
    pub provider: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Region {
    pub name: Spanned<String>,
    pub cluster: Spanned<String>,
    #[serde(default)]
    pub primary: bool,
    pub only: Option<Vec<Spanned<String>>>,
    pub external_secrets: Option<Spanned<SecretStore>>,
}
