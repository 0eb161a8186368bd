//! The kind registry: one declaration per kind slipway renders, carrying
//! its type, the folders it may appear in, and (by its position) its place
//! in the object order. The `Object` enum, the kind's API version and name,
//! the order of objects, and the kinds Argo CD's AppProjects allow are all
//! derived from it: adding a kind is one line here, and nothing else can
//! forget it.

use std::fmt;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::crd::TypeMeta;
use crate::crd::argo::{AnalysisTemplate, Rollout};
use crate::crd::argocd::{AppProject, Application};
use crate::crd::external_secrets::ExternalSecret;
use crate::crd::istio::{
    AuthorizationPolicy, DestinationRule, PeerAuthentication, Telemetry, VirtualService,
};
use crate::crd::monitoring::{PodMonitor, PrometheusRule, ServiceMonitor};

/// The kinds of folder of the rendered tree (see `Owner`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Folder {
    /// `<service>/`
    Service,
    /// `_namespaces/<namespace>/`
    Namespace,
    /// `_gateway/`
    Gateway,
    /// `<env>/_argocd/`
    ArgoCd,
    /// `<env>/_bootstrap/`
    Bootstrap,
}

/// Where objects of a kind live in the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

macro_rules! kinds {
    ($( $variant:ident($stored:ty) as $typed:ty, $scope:ident, [$($folder:ident),+]; )+) => {
        /// A rendered object.
        #[derive(Clone, Debug, Serialize)]
        #[serde(untagged)]
        pub enum Object {
            $( $variant($stored), )+
        }

        /// Every kind slipway renders. The declaration order is the
        /// documented object order: what an object uses comes before it
        /// (the namespace before what lives in it, a ConfigMap before the
        /// workload that mounts it).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $( $variant, )+
        }

        impl Kind {
            /// Every kind, in object order.
            pub const ALL: &'static [Kind] = &[$( Kind::$variant, )+];

            /// `apiVersion`, as `group/version` (`v1` for the core group).
            pub fn api_version(self) -> &'static str {
                match self {
                    $( Kind::$variant => <$typed as TypeMeta>::API_VERSION, )+
                }
            }

            /// The kind's name, as in `kind:`.
            pub fn name(self) -> &'static str {
                match self {
                    $( Kind::$variant => <$typed as TypeMeta>::KIND, )+
                }
            }

            pub fn scope(self) -> Scope {
                match self {
                    $( Kind::$variant => Scope::$scope, )+
                }
            }

            /// The folders objects of this kind are rendered into.
            pub fn folders(self) -> &'static [Folder] {
                match self {
                    $( Kind::$variant => &[$( Folder::$folder, )+], )+
                }
            }
        }

        impl Object {
            pub fn kind(&self) -> Kind {
                match self {
                    $( Object::$variant(_) => Kind::$variant, )+
                }
            }

            pub fn metadata(&self) -> &ObjectMeta {
                match self {
                    $( Object::$variant(o) => &o.metadata, )+
                }
            }
        }
    };
}

kinds! {
    Namespace(Namespace) as Namespace, Cluster, [Namespace];
    PeerAuthentication(PeerAuthentication) as PeerAuthentication, Namespaced, [Namespace];
    Telemetry(Telemetry) as Telemetry, Namespaced, [Namespace];
    ServiceAccount(ServiceAccount) as ServiceAccount, Namespaced, [Service];
    ConfigMap(ConfigMap) as ConfigMap, Namespaced, [Service];
    ExternalSecret(ExternalSecret) as ExternalSecret, Namespaced, [Service];
    AnalysisTemplate(AnalysisTemplate) as AnalysisTemplate, Namespaced, [Service];
    Service(Service) as Service, Namespaced, [Service];
    Deployment(Box<Deployment>) as Deployment, Namespaced, [Service];
    Rollout(Box<Rollout>) as Rollout, Namespaced, [Service];
    HorizontalPodAutoscaler(HorizontalPodAutoscaler) as HorizontalPodAutoscaler, Namespaced, [Service];
    PodDisruptionBudget(PodDisruptionBudget) as PodDisruptionBudget, Namespaced, [Service];
    DestinationRule(DestinationRule) as DestinationRule, Namespaced, [Service];
    VirtualService(VirtualService) as VirtualService, Namespaced, [Service, Gateway];
    AuthorizationPolicy(AuthorizationPolicy) as AuthorizationPolicy, Namespaced, [Service];
    NetworkPolicy(NetworkPolicy) as NetworkPolicy, Namespaced, [Namespace, Service];
    ServiceMonitor(ServiceMonitor) as ServiceMonitor, Namespaced, [Service];
    PodMonitor(PodMonitor) as PodMonitor, Namespaced, [Service];
    PrometheusRule(PrometheusRule) as PrometheusRule, Namespaced, [Service];
    AppProject(AppProject) as AppProject, Namespaced, [ArgoCd, Bootstrap];
    Application(Box<Application>) as Application, Namespaced, [ArgoCd, Bootstrap];
}

impl Kind {
    /// The API group: `""` for the core group.
    pub fn group(self) -> &'static str {
        self.api_version()
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The kinds that may appear in any of `folders`, in object order.
    pub fn in_folders(folders: &[Folder]) -> impl Iterator<Item = Kind> + '_ {
        Kind::ALL
            .iter()
            .copied()
            .filter(|kind| kind.folders().iter().any(|f| folders.contains(f)))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_groups_come_from_the_types() {
        assert_eq!(Kind::Deployment.api_version(), "apps/v1");
        assert_eq!(Kind::Deployment.group(), "apps");
        assert_eq!(Kind::Namespace.group(), "");
        assert_eq!(Kind::VirtualService.group(), "networking.istio.io");
        assert_eq!(Kind::Application.name(), "Application");
    }

    #[test]
    fn kinds_are_unique_by_group_and_name() {
        let mut seen: Vec<(&str, &str)> = Kind::ALL.iter().map(|k| (k.group(), k.name())).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), Kind::ALL.len());
    }

    #[test]
    fn the_order_puts_what_is_used_before_its_users() {
        assert!(Kind::Namespace < Kind::ServiceAccount);
        assert!(Kind::ConfigMap < Kind::Deployment);
        assert!(Kind::ExternalSecret < Kind::Deployment);
        assert!(Kind::ExternalSecret < Kind::Rollout);
        assert!(Kind::AnalysisTemplate < Kind::Rollout);
        assert!(Kind::Service < Kind::ServiceMonitor);
        assert!(Kind::Deployment < Kind::PodMonitor);
        assert!(Kind::Rollout < Kind::PodMonitor);
        assert!(Kind::Namespace < Kind::NetworkPolicy);
    }
}
