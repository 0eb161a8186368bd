//! What the kubelet makes of the rendered pods.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use slipway::compile::{Selection, open};
use slipway::lower::Object;

use crate::rendering::render;
use crate::support::root;

/// `$(NAME)` references in a value, as the kubelet's expansion reads them
/// (`$$` escapes a `$`).
fn references(value: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix('$') {
            rest = escaped;
        } else if let Some(inner) = after.strip_prefix('(') {
            let Some(end) = inner.find(')') else { break };
            found.push(inner[..end].to_owned());
            rest = &inner[end + 1..];
        } else {
            rest = after;
        }
    }
    found
}

fn templates(object: &Object) -> Option<&PodTemplateSpec> {
    match object {
        Object::Deployment(d) => Some(&d.spec.template),
        Object::Rollout(r) => Some(&r.spec.template),
        _ => None,
    }
}

/// Kubernetes expands `$(NAME)` only from variables defined earlier in the
/// container's `env`: every reference to a variable of the same container
/// must find it above.
#[test]
fn every_env_reference_to_a_sibling_variable_resolves() {
    let (project, _) = open(root()).expect("opens");
    let rendered = render(&project, &Selection::default());
    let mut references_seen = 0;
    for (path, object) in &rendered.objects {
        let Some(spec) = templates(&object.object).and_then(|t| t.spec.as_ref()) else {
            continue;
        };
        for container in &spec.containers {
            let env = container.env.as_deref().unwrap_or_default();
            for (index, var) in env.iter().enumerate() {
                for name in references(var.value.as_deref().unwrap_or_default()) {
                    let Some(defined) = env.iter().position(|v| v.name == name) else {
                        continue; // a service link or a variable from elsewhere
                    };
                    references_seen += 1;
                    assert!(
                        defined < index,
                        "{path}: `{}` refers to `{name}`, which comes after it",
                        var.name
                    );
                }
            }
        }
    }
    assert!(
        references_seen > 0,
        "the example platform refers to a sibling variable"
    );
}
