//! Policy: guardrails on what may run where, checked against the rules'
//! catalog in `rules` with each environment's severities. Each finding
//! names the blueprint or overlay line responsible.
//!
//! Most rules read the resolved model, which knows where every value came
//! from; a few read the rendered objects, as a last line of defence for
//! properties slipway never sets.

use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::diag::Diagnostic;
use crate::lower::{Object, Rendered};
use crate::model::{Cluster, Replicas, Service};
use crate::rules::Rule;

/// Every finding of the model-level rules in one cluster.
pub fn check(cluster: &Cluster) -> Vec<Diagnostic> {
    let settings = &cluster.env.policy;
    let env = &cluster.env.name;
    let mut found = Vec::new();
    for service in &cluster.services {
        found.extend(min_replicas(service, env));
        found.extend(disruption_budget(service, env));
        found.extend(readiness_probe(service, env));
        found.extend(resources(service, env));
        found.extend(image_pinned(service, env));
        found.extend(no_fault_injection(service, env));
    }
    found
        .into_iter()
        .filter_map(|(id, diag)| settings.finding(id, diag))
        .collect()
}

type Finding = (Rule, Diagnostic);

fn hint(rule: Rule) -> String {
    format!(
        "or, if this environment may differ, set `policy: {{{}: {{severity: warning, reason: ...}}}}` in its overlay",
        rule.id()
    )
}

fn min_replicas(service: &Service, env: &str) -> Option<Finding> {
    let lowest = match service.replicas {
        Replicas::Fixed(n) | Replicas::Auto { min: n, .. } => n,
    };
    (lowest < 2).then(|| {
        let id = Rule::MinReplicas;
        let diag = Diagnostic::error(
            id.code(),
            service.replicas_span,
            format!(
                "`{}` runs {lowest} replica in `{env}`; at least 2 keep it up during a node drain",
                service.name
            ),
        )
        .with_hint(format!(
            "set `scaling.minReplicas: 2` in the overlay, {}",
            hint(id)
        ));
        (id, diag)
    })
}

fn disruption_budget(service: &Service, env: &str) -> Option<Finding> {
    service.disruption.is_none().then(|| {
        let id = Rule::DisruptionBudget;
        let diag = Diagnostic::error(
            id.code(),
            service.origin,
            format!("`{}` has no PodDisruptionBudget in `{env}`", service.name),
        )
        .with_hint(format!(
            "set `availability: {{maxUnavailable: 1}}` (or `minAvailable`), {}",
            hint(id)
        ));
        (id, diag)
    })
}

/// Only a service with ports gets traffic (its Service sends it to the main
/// container): a queue worker without ports has nothing to be ready for.
fn readiness_probe(service: &Service, env: &str) -> Option<Finding> {
    if service.ports.is_empty() {
        return None;
    }
    let main = service.containers.first()?;
    main.readiness.is_none().then(|| {
        let id = Rule::ReadinessProbe;
        let diag = Diagnostic::error(
            id.code(),
            main.image_span,
            format!("container `{}` of `{}` has no readiness probe in `{env}`: its Service sends it traffic before it is ready", main.name, service.name),
        )
        .with_hint(format!("add `readinessProbe` to the container, {}", hint(id)));
        (id, diag)
    })
}

fn resources(service: &Service, env: &str) -> Vec<Finding> {
    let id = Rule::Resources;
    service
        .containers
        .iter()
        .filter_map(|c| {
                        let missing: Vec<&str> = [
                (c.requests.cpu.is_none(), "a CPU request"),
                (c.requests.memory.is_none(), "a memory request"),
                (c.limits.memory.is_none(), "a memory limit"),
            ]
            .into_iter()
            .filter_map(|(absent, what)| absent.then_some(what))
            .collect();
            (!missing.is_empty()).then(|| {
                let diag = Diagnostic::error(
                    id.code(),
                    c.image_span,
                                        format!("container `{}` of `{}` is missing {} in `{env}`", c.name, service.name, and_list(&missing)),
                )
                .with_hint(format!("set `resources.requests.cpu`, `resources.requests.memory` and `resources.limits.memory`, {}", hint(id)));
                (id, diag)
            })
        })
        .collect()
}

fn image_pinned(service: &Service, env: &str) -> Vec<Finding> {
    let id = Rule::ImagePinned;
    service
        .containers
        .iter()
        .filter_map(|c| {
            let why = unpinned(&c.image)?;
            let diag = Diagnostic::error(
                id.code(),
                c.image_span,
                format!(
                    "image of container `{}` of `{}` {why} in `{env}`",
                    c.name, service.name
                ),
            )
            .with_hint(format!(
                "pin it by digest (`@sha256:...`) or a version tag such as `:1.8.2`, {}",
                hint(id)
            ));
            Some((id, diag))
        })
        .collect()
}

/// `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Why an image reference is not pinned, if it is not.
pub fn unpinned(image: &str) -> Option<&'static str> {
    if image.contains("@sha256:") {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let Some((_, tag)) = last.split_once(':') else {
        return Some("has no tag, so it means `latest`");
    };
    if tag == "latest" {
        return Some("uses the tag `latest`");
    }
    let version = tag.strip_prefix('v').unwrap_or(tag);
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return Some("uses a tag that is not a version and can move");
    }
    None
}

fn no_fault_injection(service: &Service, env: &str) -> Option<Finding> {
    let fault = service.mesh.fault.as_ref()?;
    let diag = Diagnostic::error(
        Rule::NoFaultInjection.code(),
        fault.span,
        format!("fault injection for `{}` in `{env}`", service.name),
    )
    .with_label("introduced here")
    .with_hint(
        "inject faults in dev or staging overlays; in prod set `mesh: {faultInjection: null}`",
    );
    Some((Rule::NoFaultInjection, diag))
}

/// The pod rules (`no-host-network`, `no-privileged`) over rendered
/// objects, whatever the environment's severities. slipway never sets
/// either property, so a render asserts this finds nothing (debug builds
/// and the fuzz target); a user can only meet the rules in the rendered
/// tree on disk, where `audit` applies them.
pub fn pod_violations(objects: &[Rendered]) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for rendered in objects {
        let template = match &rendered.object {
            Object::Deployment(d) => &d.spec.template,
            Object::Rollout(r) => &r.spec.template,
            _ => continue,
        };
        found.extend(pod_findings(rendered, template).into_iter().map(|(_, d)| d));
    }
    found
}

fn pod_findings(rendered: &Rendered, template: &PodTemplateSpec) -> Vec<Finding> {
    let Some(spec) = &template.spec else {
        return Vec::new();
    };
    let id = rendered.object.id();
    let mut out = Vec::new();
    if spec.host_network == Some(true) {
        let diag = Diagnostic::error(
            Rule::NoHostNetwork.code(),
            rendered.origin,
            format!(
                "{} `{}/{}` uses the host network",
                id.kind, id.namespace, id.name
            ),
        );
        out.push((Rule::NoHostNetwork, diag));
    }
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for container in
        containers.filter(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true))
    {
        let diag = Diagnostic::error(
            Rule::NoPrivileged.code(),
            rendered.origin,
            format!(
                "container `{}` of {} `{}/{}` is privileged",
                container.name, id.kind, id.namespace, id.name
            ),
        );
        out.push((Rule::NoPrivileged, diag));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_images() {
        assert_eq!(unpinned("r.example.com/a/b:1.8.2"), None);
        assert_eq!(unpinned("r.example.com/a/b:v2.0.0-rc.1"), None);
        assert_eq!(unpinned("r.example.com:5000/a/b@sha256:0123"), None);
        assert!(unpinned("r.example.com/a/b").is_some());
        assert!(unpinned("r.example.com:5000/a/b").is_some());
        assert!(unpinned("r.example.com/a/b:latest").is_some());
        assert!(unpinned("r.example.com/a/b:main").is_some());
    }
}
