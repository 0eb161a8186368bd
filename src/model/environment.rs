//! One environment's settings, from its overlay with defaults applied.

use super::{Gateway, principal};
use crate::input;
use crate::source::Span;

/// Where the rendered tree lives in the GitOps repository, unless the overlay says.
pub const DEFAULT_GITOPS_PATH: &str = "rendered";

/// Environments treated as production by policy.
pub const PRODUCTION_NAMES: [&str; 2] = ["prod", "production"];
/// Prometheus as the Prometheus Operator names it in a `monitoring` namespace.
pub const DEFAULT_PROMETHEUS_URL: &str =
    "http://prometheus-operated.monitoring.svc.cluster.local:9090";
/// Prometheus' ServiceAccount in kube-prometheus, as `<namespace>/<name>`.
pub const DEFAULT_PROMETHEUS_SERVICE_ACCOUNT: &str = "monitoring/prometheus-k8s";
/// The ServiceAccount of Istio's default ingress gateway.
pub const DEFAULT_GATEWAY_SERVICE_ACCOUNT: &str = "istio-ingressgateway-service-account";

/// One environment, as the mesh and monitoring objects need it.
#[derive(Debug)]
pub struct Environment {
    pub name: String,
    /// Production environments (`prod`, `production`) refuse fault injection.
    pub production: bool,
    /// Where the analysis of canaries queries Prometheus.
    pub prometheus_url: String,
    /// The ServiceAccount of the ingress gateway's pods, in the gateway's namespace.
    pub gateway_service_account: String,
    /// The mesh identity of Prometheus, allowed to scrape metrics ports.
    pub prometheus_principal: String,
    pub tracing: Option<Tracing>,
    /// The overlay's namespace template, where namespace-wide objects come from.
    pub namespace_origin: Span,
    /// How Argo CD syncs the environment, if the overlay says.
    pub gitops: Option<GitOps>,
    /// Severities of the policy rules here.
    pub policy: crate::rules::Settings,
}

impl Environment {
    /// The environment-wide settings of an overlay, defaults applied.
    pub fn new(head: &input::OverlayHead) -> Environment {
        let name = &head.metadata.name.value;
        let env = &head.environment;
        let production = PRODUCTION_NAMES.contains(&name.as_str());
        Environment {
            name: name.clone(),
            production,
            prometheus_url: env
                .prometheus_url
                .clone()
                .unwrap_or_else(|| DEFAULT_PROMETHEUS_URL.to_owned()),
            gateway_service_account: env
                .gateway_service_account
                .clone()
                .unwrap_or_else(|| DEFAULT_GATEWAY_SERVICE_ACCOUNT.to_owned()),
            prometheus_principal: prometheus_principal(env.prometheus_service_account.as_deref()),
            tracing: env.tracing.as_ref().map(Tracing::from),
            namespace_origin: env.namespace.span,
            policy: crate::rules::Settings::new(production, &head.policy),
            gitops: env.argocd.as_ref().map(|a| GitOps::new(a, production)),
        }
    }

    /// The identity of the ingress gateway's pods.
    pub fn gateway_principal(&self, gateway: &Gateway) -> String {
        principal(&gateway.namespace, &self.gateway_service_account)
    }
}

/// Prometheus' mesh identity from its `[<namespace>/]<name>` ServiceAccount
/// (namespace `monitoring` if none is given).
fn prometheus_principal(account: Option<&str>) -> String {
    let account = account.unwrap_or(DEFAULT_PROMETHEUS_SERVICE_ACCOUNT);
    let (namespace, name) = account.split_once('/').unwrap_or(("monitoring", account));
    principal(namespace, name)
}

/// Tracing in every namespace of an environment.
#[derive(Debug)]
pub struct Tracing {
    pub sampling_percent: f64,
    /// Istio's tracing provider; none: the mesh's default.
    pub provider: Option<String>,
}

impl From<&input::Tracing> for Tracing {
    fn from(raw: &input::Tracing) -> Self {
        Tracing {
            sampling_percent: raw.sampling_percent,
            provider: raw.provider.clone(),
        }
    }
}

/// Argo CD settings of an environment, defaults applied.
#[derive(Debug)]
pub struct GitOps {
    pub repo_url: String,
    pub target_revision: String,
    /// Folder of the rendered tree in the GitOps repository.
    pub path: String,
    /// Namespace Argo CD runs in.
    pub namespace: String,
    pub automated: bool,
}

impl GitOps {
    /// An overlay's `argocd` section; sync is automated outside production
    /// unless it says.
    fn new(raw: &input::ArgoCd, production: bool) -> GitOps {
        GitOps {
            repo_url: raw.repo_url.clone(),
            target_revision: raw
                .target_revision
                .clone()
                .unwrap_or_else(|| "HEAD".to_owned()),
            path: raw
                .path
                .clone()
                .unwrap_or_else(|| DEFAULT_GITOPS_PATH.to_owned()),
            namespace: raw.namespace.clone().unwrap_or_else(|| "argocd".to_owned()),
            automated: raw.automated_sync.unwrap_or(!production),
        }
    }

    /// Path of a rendered folder in the GitOps repository.
    pub fn path_of(&self, folder: &str) -> String {
        match self.path.trim_matches('/') {
            "" | "." => folder.to_owned(),
            prefix => format!("{prefix}/{folder}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_principal_defaults_to_the_monitoring_namespace() {
        assert_eq!(
            prometheus_principal(None),
            "cluster.local/ns/monitoring/sa/prometheus-k8s"
        );
        assert_eq!(
            prometheus_principal(Some("observability/prometheus")),
            "cluster.local/ns/observability/sa/prometheus"
        );
        assert_eq!(
            prometheus_principal(Some("prometheus")),
            "cluster.local/ns/monitoring/sa/prometheus"
        );
    }
}
