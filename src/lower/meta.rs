//! Names, labels and metadata shared by every object of a service.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::model::Service;

pub const NAME_LABEL: &str = "app.kubernetes.io/name";

/// The pod selector: only the service name, which never changes.
pub fn selector_labels(service: &Service) -> BTreeMap<String, String> {
    BTreeMap::from([(NAME_LABEL.to_owned(), service.name.clone())])
}

pub fn selector(service: &Service) -> LabelSelector {
    LabelSelector {
        match_labels: Some(selector_labels(service)),
        ..LabelSelector::default()
    }
}

/// Labels on every object: the standard `app.kubernetes.io/*` set plus `team`.
pub fn labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = selector_labels(service);
    labels.insert("app.kubernetes.io/instance".into(), service.name.clone());
    labels.insert("app.kubernetes.io/part-of".into(), service.team.clone());
    labels.extend(managed_by());
    labels.insert("team".into(), service.team.clone());
    labels
}

/// The label that marks objects slipway manages.
pub fn managed_by() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_owned(),
        "slipway".to_owned(),
    )])
}

/// Labels of the workload and its pods, which also carry the version.
pub fn workload_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = labels(service);
    if let Some(version) = &service.version {
        labels.insert("app.kubernetes.io/version".into(), version.clone());
    }
    labels
}

/// Metadata of an object named `name` in the service's namespace.
pub fn object_meta(service: &Service, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(service.namespace.clone()),
        labels: Some(labels(service)),
        annotations: (!service.annotations.is_empty()).then(|| service.annotations.clone()),
        ..ObjectMeta::default()
    }
}

/// Argo CD syncs what a workload uses (ConfigMaps, AnalysisTemplates) one
/// wave before the workload.
pub fn sync_before_workloads(meta: &mut ObjectMeta) {
    meta.annotations
        .get_or_insert_default()
        .insert("argocd.argoproj.io/sync-wave".into(), "-1".into());
}
