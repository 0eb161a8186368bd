//! Checks over the rendered objects of one cluster: what the API server
//! would refuse, caught at compile time and pinned to the blueprint.

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::emit::to_yaml;
use crate::lower::{Object, ObjectId, Rendered};
use crate::names;

/// Kubernetes' limit on the total size of an object's annotations.
pub const MAX_ANNOTATION_BYTES: usize = 256 * 1024;
/// Kubernetes' limit on a ConfigMap's data.
pub const MAX_CONFIG_MAP_BYTES: usize = 1024 * 1024;

/// Every problem in one cluster's objects.
pub fn cluster(objects: &[Rendered]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut seen: BTreeMap<ObjectId, &Rendered> = BTreeMap::new();
    for rendered in objects {
        let id = rendered.object.id();
        check_object(rendered, &id, &mut diags);
        if let Some(first) = seen.insert(id.clone(), rendered) {
            diags.push(
                Diagnostic::error(
                    rendered.origin,
                    format!(
                        "`{}` and `{}` both render {} `{}/{}`",
                        first.service, rendered.service, id.kind, id.namespace, id.name
                    ),
                )
                .with_related(first.origin, "also rendered from here")
                .with_hint("two services may not produce the same object; rename one of them"),
            );
        }
    }
    diags
}

fn check_object(rendered: &Rendered, id: &ObjectId, diags: &mut Vec<Diagnostic>) {
    let at = |message: String| Diagnostic::error(rendered.origin, message);
    let name_rule = match rendered.object {
        Object::Service(_) => names::dns1035_label(&id.name, 63),
        _ => names::dns1123_label(&id.name, 253),
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
    let annotations: usize = meta
        .annotations
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    if annotations > MAX_ANNOTATION_BYTES {
        diags.push(at(format!(
            "annotations of {} `{}` are {annotations} bytes; the limit is {MAX_ANNOTATION_BYTES}",
            id.kind, id.name
        )));
    }
    if let Object::ConfigMap(config) = &rendered.object {
        let size = to_yaml(config).len();
        if size > MAX_CONFIG_MAP_BYTES {
            diags.push(
                at(format!(
                    "ConfigMap `{}` is {size} bytes; the limit is {MAX_CONFIG_MAP_BYTES}",
                    id.name
                ))
                .with_hint("large files belong in the image or a volume, not in `files`"),
            );
        }
    }
}
