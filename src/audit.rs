//! The guardrails over the rendered tree on disk, which is what Argo CD
//! syncs and what a person can edit by hand: no Secret with data, no pod
//! on the host network, no privileged container. slipway never renders
//! any of them (the render asserts it), so these rules find what someone
//! added or changed in the tree; `check` applies them.

use std::collections::BTreeMap;

use crate::diag::Diagnostic;
use crate::node::Node;
use crate::parse::parse;
use crate::rules::{Rule, Settings};
use crate::source::Sources;

/// Every finding of the tree rules in `files` (path under `root` -> text),
/// at the severities of the environment each path is in (its first
/// folder); paths of no known environment use `fallback`.
pub fn tree<'a>(
    root: &str,
    files: &BTreeMap<String, String>,
    settings: impl Fn(&str) -> Option<&'a Settings>,
    fallback: &Settings,
) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for (path, text) in files {
        let env = path.split('/').next().unwrap_or_default();
        let settings = settings(env).unwrap_or(fallback);
        for (rule, message) in findings(text) {
            let diag = Diagnostic::file_error(rule.code(), format!("{root}/{path}"), message);
            found.extend(settings.finding(rule, diag.with_hint(hint(rule))));
        }
    }
    found
}

fn hint(rule: Rule) -> &'static str {
    match rule {
        Rule::NoSecretData => {
            "reference Secrets from `secrets:`; create them outside Git (External Secrets, Sealed Secrets)"
        }
        _ => "remove it from the rendered tree; slipway renders every object there itself",
    }
}

/// What one document breaks. A file that is not one YAML mapping breaks
/// none of these rules (`check` reports it as stale all the same).
fn findings(text: &str) -> Vec<(Rule, String)> {
    let mut sources = Sources::default();
    let id = sources.add(String::new(), Default::default(), text.to_owned());
    let Ok(object) = parse(sources.get(id), id) else {
        return Vec::new();
    };
    let kind = object
        .get("kind")
        .and_then(Node::as_str)
        .unwrap_or_default();
    let name = object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or_default();
    let mut out = Vec::new();
    let has = |key: &str| {
        object
            .get(key)
            .is_some_and(|n| !n.is_null() && !is_empty(n))
    };
    if kind == "Secret" && (has("data") || has("stringData")) {
        out.push((
            Rule::NoSecretData,
            "is a Secret with data: secret values must never reach Git".to_owned(),
        ));
    }
    if let Some(pod) = pod_spec(&object, kind) {
        if pod.get("hostNetwork").and_then(Node::as_bool) == Some(true) {
            out.push((
                Rule::NoHostNetwork,
                format!("{kind} `{name}` uses the host network"),
            ));
        }
        for container in containers(pod) {
            let privileged = container
                .get("securityContext")
                .and_then(|s| s.get("privileged"))
                .and_then(Node::as_bool);
            if privileged == Some(true) {
                let container = container
                    .get("name")
                    .and_then(Node::as_str)
                    .unwrap_or_default();
                out.push((
                    Rule::NoPrivileged,
                    format!("container `{container}` of {kind} `{name}` is privileged"),
                ));
            }
        }
    }
    out
}

fn is_empty(node: &Node) -> bool {
    node.as_map().is_some_and(<[_]>::is_empty)
}

/// The pod spec of a workload or a pod.
fn pod_spec<'a>(object: &'a Node, kind: &str) -> Option<&'a Node> {
    let spec = object.get("spec")?;
    match kind {
        "Pod" => Some(spec),
        "CronJob" => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec"),
        _ => spec.get("template")?.get("spec"),
    }
}

fn containers(pod: &Node) -> impl Iterator<Item = &Node> {
    ["containers", "initContainers"]
        .into_iter()
        .filter_map(|key| pod.get(key))
        .filter_map(Node::as_seq)
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<Rule> {
        findings(text).into_iter().map(|(rule, _)| rule).collect()
    }

    #[test]
    fn secrets_with_data_are_found() {
        assert_eq!(
            found("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {k: dg==}\n"),
            [Rule::NoSecretData]
        );
        assert_eq!(
            found("kind: Secret\nstringData: {k: v}\n"),
            [Rule::NoSecretData]
        );
        assert!(found("kind: Secret\nmetadata: {name: empty}\n").is_empty());
        assert!(found("kind: ConfigMap\ndata: {k: v}\n").is_empty());
    }

    #[test]
    fn pods_on_the_host_network_or_privileged_are_found() {
        let deployment = "kind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      hostNetwork: true\n      containers:\n        - {name: app, securityContext: {privileged: true}}\n";
        assert_eq!(found(deployment), [Rule::NoHostNetwork, Rule::NoPrivileged]);
        let cron = "kind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {initContainers: [{name: i, securityContext: {privileged: true}}]}}}}}\n";
        assert_eq!(found(cron), [Rule::NoPrivileged]);
        assert!(
            found("kind: Deployment\nspec: {template: {spec: {hostNetwork: false}}}\n").is_empty()
        );
        assert!(found("not: [valid").is_empty());
    }
}
