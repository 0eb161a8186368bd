//! Log shipping to ELK: a blueprint's `logging` becomes the pod annotations
//! Filebeat's hints-based autodiscover reads (elastic/beats
//! `filebeat/autodiscover/builder/hints/logs.go`; the hints are listed in
//! https://www.elastic.co/guide/en/beats/filebeat/current/configuration-autodiscover-hints.html).
//!
//! The annotations go on the pod template: Filebeat reads the pods'
//! annotations, not the workload's. The opt-out is pod-wide
//! (`co.elastic.logs/enabled`); the format and multiline hints name each of
//! the blueprint's containers (`co.elastic.logs.<container>/...`), so that
//! the injected `istio-proxy`, whose Envoy access log is plain text, is
//! read as it is. Filebeat turns `json.*` and `multiline.*` hints into the
//! `ndjson` and `multiline` parsers of a filestream input, and into the
//! `json` and `multiline` options of the older `container` and `log`
//! inputs: the same annotations serve both.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::model::{LogFormat, Logging, Service};

/// The prefix of Filebeat's log hints.
pub const HINTS: &str = "co.elastic.logs";

/// `json.*` hints for a line that is one JSON object: its keys become the
/// event's fields (`keys_under_root`), replacing what Filebeat set under
/// the same names, such as `message` (`overwrite_keys`), and a line that
/// is not JSON keeps its text and gets `error.message` (`add_error_key`).
const JSON_HINTS: [(&str, &str); 3] = [
    ("json.keys_under_root", "true"),
    ("json.overwrite_keys", "true"),
    ("json.add_error_key", "true"),
];

pub fn annotate_pods(service: &Service, template: &mut PodTemplateSpec) {
    let Some(logging) = &service.logging else {
        return;
    };
    template
        .metadata
        .get_or_insert_default()
        .annotations
        .get_or_insert_default()
        .extend(hints(service, logging));
}

/// Filebeat reads `enabled` as the pod's switch, "true" too, so a
/// Filebeat that ships only pods that ask (`hints.default_config.enabled:
/// false`) ships this one. Hints of a pod that opted out are never read.
fn hints(service: &Service, logging: &Logging) -> BTreeMap<String, String> {
    let mut hints = BTreeMap::from([(format!("{HINTS}/enabled"), logging.enabled.to_string())]);
    if !logging.enabled {
        return hints;
    }
    for container in &service.containers {
        let mut hint = |name: &str, value: String| {
            hints.insert(format!("{HINTS}.{}/{name}", container.name), value);
        };
        if logging.format == LogFormat::Json {
            for (name, value) in JSON_HINTS {
                hint(name, value.to_owned());
            }
        }
        if let Some(multiline) = &logging.multiline {
            hint("multiline.pattern", multiline.pattern.clone());
            hint("multiline.negate", multiline.negate.to_string());
            hint("multiline.match", multiline.match_.as_str().to_owned());
        }
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::Object;
    use crate::lower::testing::render;

    const BLUEPRINT: &str = "apiVersion: slipway.dev/v1alpha1
kind: Blueprint
metadata: {name: shop, team: web}
containers:
  app: {image: registry.example.com/shop:1.0}
  cache: {image: registry.example.com/cache:7.2}
";

    /// The pod template's annotations, and the workload's own.
    fn annotations(logging: &str) -> [BTreeMap<String, String>; 2] {
        let (objects, diags) = render(&format!("{BLUEPRINT}logging: {logging}\n"), "");
        assert!(diags.is_empty(), "{diags:?}");
        let deployment = objects
            .iter()
            .find_map(|o| match o {
                Object::Deployment(d) => Some(d),
                _ => None,
            })
            .expect("a Deployment");
        let pod = deployment.spec.template.metadata.as_ref();
        [
            pod.and_then(|m| m.annotations.clone()).unwrap_or_default(),
            deployment.metadata.annotations.clone().unwrap_or_default(),
        ]
    }

    #[test]
    fn format_and_multiline_name_each_container_of_the_blueprint() {
        let [pod, workload] =
            annotations("{format: json, multiline: {pattern: '^\\[', negate: true, match: after}}");
        assert!(workload.is_empty(), "hints go on the pods: {workload:?}");
        assert_eq!(pod["co.elastic.logs/enabled"], "true");
        for container in ["app", "cache"] {
            let hint = |name: &str| pod[&format!("co.elastic.logs.{container}/{name}")].clone();
            assert_eq!(hint("json.keys_under_root"), "true");
            assert_eq!(hint("multiline.pattern"), "^\\[");
            assert_eq!(hint("multiline.negate"), "true");
            assert_eq!(hint("multiline.match"), "after");
        }
        assert!(
            !pod.keys()
                .any(|k| k.starts_with("co.elastic.logs.istio-proxy/")),
            "the sidecar's text log is read as it is"
        );
    }

    #[test]
    fn an_opt_out_is_the_pods_switch_alone() {
        let [pod, _] = annotations("{enabled: false, format: json}");
        let hints: Vec<&String> = pod.keys().filter(|k| k.starts_with(HINTS)).collect();
        assert_eq!(hints, ["co.elastic.logs/enabled"]);
        assert_eq!(pod["co.elastic.logs/enabled"], "false");
    }

    #[test]
    fn without_logging_there_are_no_hints() {
        let (objects, _) = render(BLUEPRINT, "");
        let pods = objects.iter().find_map(|o| match o {
            Object::Deployment(d) => d.spec.template.metadata.clone(),
            _ => None,
        });
        let annotations = pods.and_then(|m| m.annotations).unwrap_or_default();
        assert!(!annotations.keys().any(|k| k.starts_with(HINTS)));
    }
}
