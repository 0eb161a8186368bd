//! Checks over the rendered objects of one cluster: what the API server
//! would refuse, caught at compile time and pinned to the blueprint.

mod facts;
mod references;
mod routes;

pub use facts::Facts;

use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rayon::prelude::*;

use crate::diag::{Code, Diagnostic};
use crate::lower::{Kind, Object, ObjectId, Rendered};
use crate::model::External;
use crate::names::{self, MAX_ANNOTATION_BYTES, MAX_CONFIG_MAP_BYTES};

/// Every problem in one cluster's objects. `external` lists the mesh
/// identities and pods that live outside them (the ingress gateway,
/// Prometheus).
pub fn cluster(objects: &[Rendered], external: &External) -> Vec<Diagnostic> {
    let facts: Vec<Facts> = objects.par_iter().map(Facts::of).collect();
    let mut diags = across(&facts);
    diags.extend(references(&facts, external));
    diags.par_extend(objects.par_iter().flat_map_iter(object));
    diags
}

/// What one object alone breaks: names, label values, sizes.
pub fn object(rendered: &Rendered) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    check_object(rendered, &rendered.object.id(), &mut found);
    found
}

/// What a cluster's objects break together that the input can cause: two
/// sources rendering the same object (two services whose derived names
/// meet). Every render runs it.
pub fn across(facts: &[Facts]) -> Vec<Diagnostic> {
    let mut twice = Vec::new();
    duplicates(facts, &mut twice);
    twice
}

/// Every reference between a cluster's objects resolves, and every
/// namespace with workloads is STRICT: consistency that lowering builds in
/// and no input can break, so a render asserts it (debug builds and the
/// fuzz target) instead of paying for it on every run; `tests/it/check.rs`
/// breaks object sets on purpose to show each check finds its case.
pub fn references(facts: &[Facts], external: &External) -> Vec<Diagnostic> {
    references::check(facts, external)
}

/// Two objects of the same kind, namespace and name.
fn duplicates(facts: &[Facts], diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<(Kind, &str, &str), &Facts> = HashMap::with_capacity(facts.len());
    for object in facts {
        let key = (object.kind, object.namespace.as_str(), object.name.as_str());
        if let Some(first) = seen.insert(key, object) {
            diags.push(
                Diagnostic::error(
                    Code::DUPLICATE_OBJECT,
                    object.origin,
                    format!(
                        "{} and {} both render {} `{}/{}`",
                        first.owner, object.owner, object.kind, object.namespace, object.name
                    ),
                )
                .with_related(first.origin, "also rendered from here")
                .with_hint("two services may not produce the same object; rename one of them"),
            );
        }
    }
}

fn check_object(rendered: &Rendered, id: &ObjectId, diags: &mut Vec<Diagnostic>) {
    let at = |message: String| Diagnostic::error(Code::INVALID_OBJECT, rendered.origin, message);
    let name_rule = match rendered.object {
        Object::Service(_) => names::dns1035_label(&id.name, 63),
        Object::Namespace(_) => names::dns1123_label(&id.name, 63),
        _ => names::dns1123_subdomain(&id.name),
    };
    if let Err(reason) = name_rule {
        diags.push(at(format!("{} name `{}` {reason}", id.kind, id.name)));
    }
    let meta = rendered.object.metadata();
    for (key, value) in meta.labels.iter().flatten() {
        if let Err(reason) = names::label_value(value) {
            diags.push(at(format!(
                "label `{key}` of {} `{}`: value `{value}` {reason}",
                id.kind, id.name
            )));
        }
    }
    let size = |meta: &ObjectMeta| -> usize {
        meta.annotations
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum()
    };
    let annotations = size(meta);
    if annotations > MAX_ANNOTATION_BYTES {
        diags.push(at(format!(
            "annotations of {} `{}` are {annotations} bytes; the limit is {MAX_ANNOTATION_BYTES}",
            id.kind, id.name
        )));
    }
    // The pod template's are held to the same limit
    // (`ValidatePodTemplateSpec` calls `ValidateAnnotations`).
    let pod = match &rendered.object {
        Object::Deployment(d) => d.spec.template.metadata.as_ref(),
        Object::Rollout(r) => r.spec.template.metadata.as_ref(),
        _ => None,
    };
    if let Some(pod) = pod.map(size).filter(|&n| n > MAX_ANNOTATION_BYTES) {
        diags.push(at(format!(
            "pod annotations of {} `{}` are {pod} bytes; the limit is {MAX_ANNOTATION_BYTES}",
            id.kind, id.name
        )));
    }
    if let Object::VirtualService(routes) = &rendered.object {
        routes::unreachable(rendered, id, &routes.spec.http, diags);
    }
    if let Object::ConfigMap(config) = &rendered.object {
        // The values of text and binary files count alike, their keys not
        // (kubernetes `pkg/apis/core/validation` `ValidateConfigMap`:
        // `totalSize += len(value)` over `Data` and `BinaryData`).
        let text = config.data.iter().flatten().map(|(_, v)| v.len());
        let binary = (config.binary_data.iter().flatten()).map(|(_, v)| v.0.len());
        let size: usize = text.chain(binary).sum();
        if size > MAX_CONFIG_MAP_BYTES {
            diags.push(
                at(format!(
                    "the files of ConfigMap `{}` are {size} bytes; the limit is {MAX_CONFIG_MAP_BYTES}",
                    id.name
                ))
                .with_hint("large files belong in the image or a volume, not in `files`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::lower::Owner;
    use crate::source::{FileId, Span};

    /// The per-object checks alone: these sets have no workloads to refer to.
    fn only_names(objects: &[Rendered]) -> Vec<Diagnostic> {
        cluster(objects, &External::default())
            .into_iter()
            .filter(|d| !d.message.contains("selects no pods"))
            .collect()
    }

    fn origin(start: u32) -> Span {
        Span {
            file: FileId(0),
            start,
            end: start + 1,
        }
    }

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("shop".into()),
            ..ObjectMeta::default()
        }
    }

    fn account(service: &str, name: &str, at: u32) -> Rendered {
        let object = Object::ServiceAccount(ServiceAccount {
            metadata: meta(name),
            ..ServiceAccount::default()
        });
        Rendered {
            owner: Owner::Service(service.into()),
            origin: origin(at),
            object,
        }
    }

    #[test]
    fn a_clean_cluster_passes() {
        assert!(only_names(&[account("web", "web", 1), account("api", "api", 2)]).is_empty());
    }

    #[test]
    fn two_services_rendering_the_same_object_are_refused_naming_both() {
        let diags = only_names(&[account("web", "shared", 1), account("api", "shared", 2)]);
        assert_eq!(diags.len(), 1);
        assert_eq!(
            diags[0].message,
            "service `web` and service `api` both render ServiceAccount `shop/shared`"
        );
        assert_eq!(diags[0].related[0].0, origin(1));
    }

    #[test]
    fn names_and_label_values_kubernetes_would_refuse() {
        let mut bad = account("web", "Web_1", 1);
        if let Object::ServiceAccount(sa) = &mut bad.object {
            sa.metadata.labels = Some(BTreeMap::from([("team".into(), "x".repeat(64))]));
        }
        let messages: Vec<String> = only_names(&[bad]).into_iter().map(|d| d.message).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].starts_with("ServiceAccount name `Web_1`"));
        assert!(messages[1].contains("label values are limited to 63"));
    }

    #[test]
    fn oversized_config_maps_and_annotations_are_refused() {
        let big = "x".repeat(MAX_CONFIG_MAP_BYTES + 1);
        let mut metadata = meta("web-config");
        metadata.annotations = Some(BTreeMap::from([(
            "note".into(),
            "y".repeat(MAX_ANNOTATION_BYTES),
        )]));
        let config = ConfigMap {
            metadata,
            data: Some(BTreeMap::from([("k".into(), big)])),
            ..ConfigMap::default()
        };
        let rendered = Rendered {
            owner: Owner::Service("web".into()),
            origin: origin(1),
            object: Object::ConfigMap(config),
        };
        let messages: Vec<String> = only_names(&[rendered])
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].starts_with("annotations of ConfigMap `web-config`"));
        assert!(messages[1].starts_with("the files of ConfigMap `web-config` are"));
    }
}
