//! Policy: guardrails on what may run where. Each rule has a stable id, a
//! default severity per kind of environment, and a message naming the
//! blueprint or overlay line responsible. Overlays change a rule's severity,
//! or turn it off, in their `policy:` section, always with a reason.
//!
//! Most rules read the resolved model, which knows where every value came
//! from; a few read the rendered objects, as a last line of defence for
//! properties slipway never sets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::diag::Diagnostic;
use crate::input::{RuleSetting, RuleSeverity};
use crate::lower::{Object, Rendered};
use crate::model::{Cluster, Replicas, Service};

/// Where a rule applies unless an overlay says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Environments named `prod` or `production`.
    Production,
    Everywhere,
}

/// A built-in rule.
#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    pub scope: Scope,
    pub summary: &'static str,
}

pub const RULES: [Rule; 9] = [
    Rule {
        id: "prod-min-replicas",
        scope: Scope::Production,
        summary: "at least 2 replicas",
    },
    Rule {
        id: "prod-disruption-budget",
        scope: Scope::Production,
        summary: "a PodDisruptionBudget",
    },
    Rule {
        id: "prod-readiness-probe",
        scope: Scope::Production,
        summary: "a readiness probe on the main container",
    },
    Rule {
        id: "prod-resources",
        scope: Scope::Production,
        summary: "CPU and memory requests and a memory limit on every container",
    },
    Rule {
        id: "prod-image-pinned",
        scope: Scope::Production,
        summary: "images pinned by digest or an immutable version tag",
    },
    Rule {
        id: "prod-no-fault-injection",
        scope: Scope::Production,
        summary: "no fault injection",
    },
    Rule {
        id: "no-privileged",
        scope: Scope::Everywhere,
        summary: "no privileged containers",
    },
    Rule {
        id: "no-host-network",
        scope: Scope::Everywhere,
        summary: "no host network",
    },
    Rule {
        id: "no-secret-data",
        scope: Scope::Everywhere,
        summary: "no Secret objects with data",
    },
];

/// The severity of every rule in one environment, defaults and overlay applied.
#[derive(Debug, Clone)]
pub struct Settings {
    severities: BTreeMap<&'static str, RuleSeverity>,
}

impl Settings {
    pub fn new(production: bool, overrides: &BTreeMap<String, RuleSetting>) -> Settings {
        let severities = RULES
            .iter()
            .map(|rule| {
                let default = match (rule.scope, production) {
                    (Scope::Everywhere, _) | (Scope::Production, true) => RuleSeverity::Error,
                    (Scope::Production, false) => RuleSeverity::Off,
                };
                (
                    rule.id,
                    overrides.get(rule.id).map_or(default, |s| s.severity),
                )
            })
            .collect();
        Settings { severities }
    }

    fn severity(&self, id: &str) -> RuleSeverity {
        self.severities
            .get(id)
            .copied()
            .unwrap_or(RuleSeverity::Off)
    }

    /// A finding of rule `id`, at its configured severity; none if it is off.
    fn finding(&self, id: &'static str, diag: Diagnostic) -> Option<Diagnostic> {
        let diag = Diagnostic {
            message: format!("[{id}] {}", diag.message),
            ..diag
        };
        match self.severity(id) {
            RuleSeverity::Error => Some(diag),
            RuleSeverity::Warning => Some(Diagnostic {
                severity: crate::diag::Severity::Warning,
                ..diag
            }),
            RuleSeverity::Off => None,
        }
    }
}

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

type Finding = (&'static str, Diagnostic);

fn hint(id: &str) -> String {
    format!(
        "or, if this environment may differ, set `policy: {{{id}: {{severity: warning, reason: ...}}}}` in its overlay"
    )
}

fn min_replicas(service: &Service, env: &str) -> Option<Finding> {
    let lowest = match service.replicas {
        Replicas::Fixed(n) | Replicas::Auto { min: n, .. } => n,
    };
    (lowest < 2).then(|| {
        let id = "prod-min-replicas";
        let diag = Diagnostic::error(
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
        let id = "prod-disruption-budget";
        let diag = Diagnostic::error(
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

fn readiness_probe(service: &Service, env: &str) -> Option<Finding> {
    let main = service.containers.first()?;
    main.readiness.is_none().then(|| {
        let id = "prod-readiness-probe";
        let diag = Diagnostic::error(
            main.image_span,
            format!("container `{}` of `{}` has no readiness probe in `{env}`: it gets traffic before it is ready", main.name, service.name),
        )
        .with_hint(format!("add `readinessProbe` to the container, {}", hint(id)));
        (id, diag)
    })
}

fn resources(service: &Service, env: &str) -> Vec<Finding> {
    let id = "prod-resources";
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
    let id = "prod-image-pinned";
    service
        .containers
        .iter()
        .filter_map(|c| {
            let why = unpinned(&c.image)?;
            let diag = Diagnostic::error(
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
        fault.span,
        format!("fault injection for `{}` in `{env}`", service.name),
    )
    .with_label("introduced here")
    .with_hint(
        "inject faults in dev or staging overlays; in prod set `mesh: {faultInjection: null}`",
    );
    Some(("prod-no-fault-injection", diag))
}

/// The rules over rendered objects, everywhere: properties slipway never
/// sets, checked so that no future emitter can set them unnoticed.
pub fn check_objects(objects: &[Rendered], settings: &Settings) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for rendered in objects {
        let template = match &rendered.object {
            Object::Deployment(d) => &d.spec.template,
            Object::Rollout(r) => &r.spec.template,
            _ => continue,
        };
        found.extend(pod_findings(rendered, template));
    }
    found
        .into_iter()
        .filter_map(|(id, diag)| settings.finding(id, diag))
        .collect()
}

fn pod_findings(rendered: &Rendered, template: &PodTemplateSpec) -> Vec<Finding> {
    let Some(spec) = &template.spec else {
        return Vec::new();
    };
    let id = rendered.object.id();
    let mut out = Vec::new();
    if spec.host_network == Some(true) {
        let diag = Diagnostic::error(
            rendered.origin,
            format!(
                "{} `{}/{}` uses the host network",
                id.kind, id.namespace, id.name
            ),
        );
        out.push(("no-host-network", diag));
    }
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for container in
        containers.filter(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true))
    {
        let diag = Diagnostic::error(
            rendered.origin,
            format!(
                "container `{}` of {} `{}/{}` is privileged",
                container.name, id.kind, id.namespace, id.name
            ),
        );
        out.push(("no-privileged", diag));
    }
    out
}

/// The rule over the emitted YAML: no document is a Secret with data.
/// Secret values must never reach Git.
pub fn check_tree<'a>(
    files: impl IntoIterator<Item = (&'a String, &'a String)>,
    settings: &Settings,
) -> Vec<Diagnostic> {
    files
        .into_iter()
        .filter(|(_, text)| {
            // Top-level keys start a line; `kind` is near the top.
            let secret = text.starts_with("kind: Secret\n") || text.contains("\nkind: Secret\n");
            secret && text.lines().any(|l| l.starts_with("data:") || l.starts_with("stringData:"))
        })
        .filter_map(|(path, _)| {
            let diag = Diagnostic::file_error(path.as_str(), "is a Secret with data: secret values must never reach Git")
                .with_hint("reference Secrets from `secrets:`; create them outside Git (External Secrets, Sealed Secrets)");
            settings.finding("no-secret-data", diag)
        })
        .collect()
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

    #[test]
    fn severities_follow_scope_and_overlay() {
        let prod = Settings::new(true, &BTreeMap::new());
        assert_eq!(prod.severity("prod-min-replicas"), RuleSeverity::Error);
        let dev = Settings::new(false, &BTreeMap::new());
        assert_eq!(dev.severity("prod-min-replicas"), RuleSeverity::Off);
        assert_eq!(dev.severity("no-host-network"), RuleSeverity::Error);
        let setting = RuleSetting {
            severity: RuleSeverity::Warning,
            reason: "single-AZ test cluster".into(),
        };
        let relaxed = Settings::new(
            true,
            &BTreeMap::from([("prod-min-replicas".to_owned(), setting)]),
        );
        assert_eq!(relaxed.severity("prod-min-replicas"), RuleSeverity::Warning);
    }

    #[test]
    fn secrets_with_data_are_found_in_the_tree() {
        let settings = Settings::new(false, &BTreeMap::new());
        let files = BTreeMap::from([
            (
                "a/secret-x.yaml".to_owned(),
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  k: dg==\n".to_owned(),
            ),
            (
                "a/configmap-y.yaml".to_owned(),
                "apiVersion: v1\nkind: ConfigMap\ndata:\n  k: v\n".to_owned(),
            ),
            (
                "a/secret-z.yaml".to_owned(),
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: z\n".to_owned(),
            ),
        ]);
        let found: Vec<String> = check_tree(&files, &settings)
            .into_iter()
            .map(|d| format!("{}: {}", d.position(&Default::default()), d.message))
            .collect();
        assert_eq!(
            found,
            [
                "a/secret-x.yaml: [no-secret-data] is a Secret with data: secret values must never reach Git"
            ]
        );
        let off = RuleSetting {
            severity: RuleSeverity::Off,
            reason: "test".into(),
        };
        let disabled = Settings::new(false, &BTreeMap::from([("no-secret-data".to_owned(), off)]));
        assert!(check_tree(&files, &disabled).is_empty());
    }
}
