//! One environment's settings, from its overlay with defaults applied.

use std::collections::BTreeMap;

use super::{Gateway, principal};
use crate::input;
use crate::names::promotion_branch;
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
/// The labels of Istio's default ingress gateway's pods: the `istio` label
/// its gateway chart derives from the release name `istio-ingressgateway`
/// (istio/istio, `manifests/charts/gateway/templates/_helpers.tpl`,
/// `gateway.selectorLabels`), and the legacy `istio-ingress` chart's.
pub const DEFAULT_GATEWAY_POD_LABELS: [(&str, &str); 1] = [("istio", "ingressgateway")];
/// The label the Prometheus Operator puts on the pods of every Prometheus
/// (prometheus-operator, `pkg/prometheus/server/statefulset.go`,
/// `podSelectorLabels`).
pub const DEFAULT_PROMETHEUS_POD_LABELS: [(&str, &str); 1] =
    [("app.kubernetes.io/name", "prometheus")];
/// The label the Grafana sidecar of kube-prometheus-stack selects dashboard
/// ConfigMaps by (its values: `grafana.sidecar.dashboards.label:
/// grafana_dashboard`, `labelValue: "1"`).
pub const DEFAULT_DASHBOARD_LABEL: (&str, &str) = ("grafana_dashboard", "1");
/// How Prometheus reaches metrics through STRICT mTLS unless the overlay
/// says: metrics merging is Istio's default and needs nothing of Prometheus'
/// own pod.
pub const DEFAULT_SCRAPE_MODE: ScrapeMode = ScrapeMode::Merged;

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
    /// How services and their sidecars are scraped.
    pub monitoring: Monitoring,
    /// The NetworkPolicies' settings; `None` renders none.
    pub network_policy: Option<NetworkPolicy>,
    /// The services' Grafana dashboards, unless the overlay turns them off.
    pub dashboards: Option<Dashboards>,
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
        let prometheus_account = prometheus_account(
            env.prometheus_service_account
                .as_ref()
                .map(|account| account.value.as_str()),
        );
        Environment {
            name: name.clone(),
            production,
            prometheus_url: env.prometheus_url.as_ref().map_or_else(
                || DEFAULT_PROMETHEUS_URL.to_owned(),
                |url| url.value.clone(),
            ),
            gateway_service_account: env.gateway_service_account.as_ref().map_or_else(
                || DEFAULT_GATEWAY_SERVICE_ACCOUNT.to_owned(),
                |account| account.value.clone(),
            ),
            prometheus_principal: principal(prometheus_account.0, prometheus_account.1),
            tracing: env.tracing.as_ref().map(Tracing::from),
            monitoring: Monitoring::new(env.monitoring.as_ref()),
            network_policy: NetworkPolicy::new(env.network_policy.as_ref(), prometheus_account.0),
            dashboards: Dashboards::new(env.dashboards.as_ref()),
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

/// Prometheus' `(namespace, name)` from its `[<namespace>/]<name>`
/// ServiceAccount (namespace `monitoring` if none is given).
fn prometheus_account(account: Option<&str>) -> (&str, &str) {
    let account = account.unwrap_or(DEFAULT_PROMETHEUS_SERVICE_ACCOUNT);
    account.split_once('/').unwrap_or(("monitoring", account))
}

/// What the NetworkPolicies admit from outside slipway's namespaces, pods
/// found by their labels in their namespace.
#[derive(Debug)]
pub struct NetworkPolicy {
    /// The ingress gateway's pods, in each gateway's namespace.
    pub gateway_pods: BTreeMap<String, String>,
    /// The namespace of Prometheus' ServiceAccount, where its pods run.
    pub prometheus_namespace: String,
    pub prometheus_pods: BTreeMap<String, String>,
}

impl NetworkPolicy {
    /// An overlay's `networkPolicy`, defaults applied; `None` when it is
    /// turned off.
    fn new(raw: Option<&input::NetworkPolicy>, prometheus_namespace: &str) -> Option<Self> {
        if raw.and_then(|n| n.enabled) == Some(false) {
            return None;
        }
        let labels = |set: Option<&BTreeMap<String, String>>, default: &[(&str, &str)]| {
            set.cloned().unwrap_or_else(|| {
                default
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            })
        };
        Some(NetworkPolicy {
            gateway_pods: labels(
                raw.and_then(|n| n.gateway_pods.as_ref()),
                &DEFAULT_GATEWAY_POD_LABELS,
            ),
            prometheus_namespace: prometheus_namespace.to_owned(),
            prometheus_pods: labels(
                raw.and_then(|n| n.prometheus_pods.as_ref()),
                &DEFAULT_PROMETHEUS_POD_LABELS,
            ),
        })
    }
}

/// How Prometheus scrapes through STRICT mTLS, the one way Istio documents
/// for each mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScrapeMode {
    /// Prometheus runs with an Istio sidecar that writes its workload
    /// certificate to files (`OUTPUT_CERTS`), and scrapes the metrics port
    /// over mTLS as its own mesh identity: the AuthorizationPolicy must
    /// allow that identity.
    IstioCerts,
    /// Each sidecar's agent fetches the app's metrics over localhost and
    /// serves them with Envoy's on its status port (15020,
    /// `/stats/prometheus`), which inbound capture excludes: plain HTTP that
    /// neither STRICT mTLS nor the AuthorizationPolicy applies to.
    Merged,
}

/// An environment's monitoring settings, defaults applied.
#[derive(Debug)]
pub struct Monitoring {
    pub scrape: ScrapeMode,
    /// The cluster already scrapes every sidecar's `/stats/prometheus`
    /// (Istio's PodMonitor sample, say): slipway renders no sidecar scrape.
    pub mesh_scraped: bool,
    /// Labels of every ServiceMonitor, PodMonitor and PrometheusRule: what
    /// the cluster's Prometheus selects them by.
    pub labels: BTreeMap<String, String>,
}

impl Monitoring {
    fn new(raw: Option<&input::EnvironmentMonitoring>) -> Monitoring {
        Monitoring {
            scrape: raw
                .and_then(|m| m.scrape)
                .map_or(DEFAULT_SCRAPE_MODE, ScrapeMode::from),
            mesh_scraped: raw.and_then(|m| m.mesh_scraped).unwrap_or(false),
            labels: raw.map(|m| m.labels.clone()).unwrap_or_default(),
        }
    }
}

/// How the dashboard ConfigMaps are found by Grafana's sidecar.
#[derive(Debug)]
pub struct Dashboards {
    /// What the sidecar selects ConfigMaps by.
    pub labels: BTreeMap<String, String>,
    /// The annotation the sidecar reads a dashboard's folder from.
    pub folder_annotation: Option<String>,
}

impl Dashboards {
    /// On unless the overlay says `enabled: false`.
    fn new(raw: Option<&input::Dashboards>) -> Option<Dashboards> {
        if raw.and_then(|d| d.enabled) == Some(false) {
            return None;
        }
        let (key, value) = DEFAULT_DASHBOARD_LABEL;
        Some(Dashboards {
            labels: raw
                .and_then(|d| d.labels.clone())
                .unwrap_or_else(|| BTreeMap::from([(key.to_owned(), value.to_owned())])),
            folder_annotation: raw.and_then(|d| d.folder_annotation.clone()),
        })
    }
}

impl From<input::ScrapeMode> for ScrapeMode {
    fn from(raw: input::ScrapeMode) -> Self {
        match raw {
            input::ScrapeMode::IstioCerts => ScrapeMode::IstioCerts,
            input::ScrapeMode::Merged => ScrapeMode::Merged,
        }
    }
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
            provider: raw.provider.as_ref().map(|p| p.value.clone()),
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
    /// Staged promotion: the regions in the order a change reaches them,
    /// each reading its own branch; `None`: every region reads
    /// `target_revision`.
    pub promotion: Option<Vec<String>>,
}

impl GitOps {
    /// An overlay's `argocd` section; sync is automated outside production
    /// unless it says.
    fn new(raw: &input::ArgoCd, production: bool) -> GitOps {
        GitOps {
            repo_url: raw.repo_url.value.clone(),
            target_revision: raw
                .target_revision
                .as_ref()
                .map_or_else(|| "HEAD".to_owned(), |r| r.value.clone()),
            path: raw
                .path
                .as_ref()
                .map_or_else(|| DEFAULT_GITOPS_PATH.to_owned(), |p| p.value.clone()),
            namespace: raw
                .namespace
                .as_ref()
                .map_or_else(|| "argocd".to_owned(), |n| n.value.clone()),
            automated: raw.automated_sync.unwrap_or(!production),
            promotion: raw.promotion.as_ref().map(|p| {
                p.value
                    .order
                    .iter()
                    .map(|region| region.value.clone())
                    .collect()
            }),
        }
    }

    /// The revision a region's Applications read: its own branch under
    /// staged promotion, else the environment's target revision.
    pub fn revision_of(&self, env: &str, region: &str) -> String {
        match self.promotion {
            Some(_) => promotion_branch(env, region),
            None => self.target_revision.clone(),
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
    fn prometheus_account_defaults_to_the_monitoring_namespace() {
        assert_eq!(prometheus_account(None), ("monitoring", "prometheus-k8s"));
        assert_eq!(
            prometheus_account(Some("observability/prometheus")),
            ("observability", "prometheus")
        );
        assert_eq!(
            prometheus_account(Some("prometheus")),
            ("monitoring", "prometheus")
        );
    }

    #[test]
    fn network_policy_defaults_to_on_with_istios_and_the_operators_labels() {
        let defaults = NetworkPolicy::new(None, "monitoring").expect("on by default");
        assert_eq!(defaults.gateway_pods["istio"], "ingressgateway");
        assert_eq!(
            defaults.prometheus_pods["app.kubernetes.io/name"],
            "prometheus"
        );
        assert_eq!(defaults.prometheus_namespace, "monitoring");
        let raw = input::NetworkPolicy {
            enabled: Some(true),
            gateway_pods: Some(BTreeMap::from([("istio".into(), "fleet-gateway".into())])),
            prometheus_pods: None,
        };
        let set = NetworkPolicy::new(Some(&raw), "observability").expect("on");
        assert_eq!(set.gateway_pods.len(), 1);
        assert_eq!(set.gateway_pods["istio"], "fleet-gateway");
        let off = input::NetworkPolicy {
            enabled: Some(false),
            ..raw
        };
        assert!(NetworkPolicy::new(Some(&off), "observability").is_none());
    }

    #[test]
    fn dashboards_are_on_with_the_sidecars_label_unless_turned_off() {
        let defaults = Dashboards::new(None).expect("on by default");
        assert_eq!(defaults.labels["grafana_dashboard"], "1");
        assert_eq!(defaults.folder_annotation, None);
        let off = input::Dashboards {
            enabled: Some(false),
            labels: None,
            folder_annotation: None,
        };
        assert!(Dashboards::new(Some(&off)).is_none());
        let set = input::Dashboards {
            enabled: None,
            labels: Some(BTreeMap::from([("dashboards".into(), "slipway".into())])),
            folder_annotation: Some("grafana_folder".into()),
        };
        let set = Dashboards::new(Some(&set)).expect("on");
        assert_eq!(
            set.labels.len(),
            1,
            "the overlay's labels replace the default"
        );
        assert_eq!(set.folder_annotation.as_deref(), Some("grafana_folder"));
    }

    #[test]
    fn monitoring_defaults_to_merged_metrics_scraped_by_slipway_without_labels() {
        let defaults = Monitoring::new(None);
        assert_eq!(defaults.scrape, ScrapeMode::Merged);
        assert!(!defaults.mesh_scraped);
        assert!(defaults.labels.is_empty());
        let raw = input::EnvironmentMonitoring {
            scrape: Some(input::ScrapeMode::IstioCerts),
            mesh_scraped: Some(true),
            labels: BTreeMap::from([("release".into(), "kube-prometheus-stack".into())]),
        };
        let set = Monitoring::new(Some(&raw));
        assert_eq!(set.scrape, ScrapeMode::IstioCerts);
        assert!(set.mesh_scraped);
        assert_eq!(set.labels["release"], "kube-prometheus-stack");
    }
}
