//! The Grafana dashboards of the example platform and the fleet, read as
//! Grafana's sidecar and file provider read them, and their queries against
//! Prometheus' own parser and evaluator.
//!
//! Grafana refuses a dashboard whose uid is longer than 40 characters or
//! holds other characters than letters, digits, `-` and `_`
//! (grafana/grafana `pkg/util/shortid_generator.go`), and a second
//! dashboard with the same uid, or (before Grafana 11.3) the same title in
//! one folder; the sidecar writes each data key as a file, which the
//! provider loads when it ends in `.json`.
//!
//! The queries of prod/us-east-1's dashboards, with Grafana's
//! `$__rate_interval` as `5m`, are written to
//! `tests/fixtures/promtool/dashboards.rules.yaml` as recording rules and
//! `dashboards.test.yaml` as `promtool test rules` scenarios (golden files:
//! `UPDATE_GOLDEN=1 cargo test` rewrites them); `.ci/run` runs promtool on
//! them, which parses every query and checks what the error and budget
//! panels show for synthetic Istio series.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use slipway::compile::{Selection, open};
use slipway::lower::{MAX_DASHBOARD_UID, Object, RATE_WINDOW, Rendered};

use crate::promtool::{ExprTest, InputSeries, Sample, TestFile, TestGroup};
use crate::rendering::render;
use crate::support::{golden, root};

/// A dashboard ConfigMap: where it was rendered, the object, its JSON.
struct Found {
    path: String,
    service: String,
    rendered: Rendered,
    json: Value,
}

fn dashboards(project: &str, selection: &Selection) -> (Vec<Found>, BTreeMap<String, Rendered>) {
    let (project, diags) = open(&root().join(project)).expect("opens");
    assert!(diags.is_empty(), "{diags:?}");
    let objects = render(&project, selection).objects;
    let found = objects
        .iter()
        .filter_map(|(path, rendered)| {
            let Object::ConfigMap(config) = &rendered.object else {
                return None;
            };
            let labels = config.metadata.labels.as_ref()?;
            labels.get("grafana_dashboard")?;
            let data = config.data.as_ref().expect("data");
            assert_eq!(data.len(), 1, "{path}: one dashboard per ConfigMap");
            let (key, text) = data.iter().next().expect("one key");
            let service = labels["app.kubernetes.io/name"].clone();
            let namespace = config.metadata.namespace.as_deref().expect("namespaced");
            // The sidecar writes every key into one folder: the namespace
            // keeps two environments on one cluster apart.
            assert_eq!(key, &format!("{namespace}_{service}.json"), "{path}");
            let json = serde_json::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
            Some(Found {
                path: path.clone(),
                service,
                rendered: rendered.clone(),
                json,
            })
        })
        .collect();
    (found, objects)
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` in {value}"))
}

fn targets(dashboard: &Value) -> impl Iterator<Item = (&Value, &Value)> {
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| {
            panel["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .map(move |target| (panel, target))
        })
}

/// The `<env>/<region>` of a rendered path.
fn cluster_of(path: &str) -> String {
    path.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
}

/// Services whose Service has a port Istio reports requests for.
fn http_services(objects: &BTreeMap<String, Rendered>) -> BTreeSet<(String, String)> {
    objects
        .iter()
        .filter_map(|(path, rendered)| match &rendered.object {
            Object::Service(service) => {
                let ports = service.spec.as_ref()?.ports.as_ref()?;
                let http = ports
                    .iter()
                    .any(|p| matches!(p.app_protocol.as_deref(), Some("http" | "http2" | "grpc")));
                let name = service.metadata.labels.as_ref()?["app.kubernetes.io/name"].clone();
                http.then(|| (cluster_of(path), name))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn every_service_with_an_http_port_has_a_dashboard_grafana_loads() {
    for project in [".", "tests/fixtures/platforms/fleet"] {
        let (found, objects) = dashboards(project, &Selection::default());
        let with: BTreeSet<(String, String)> = found
            .iter()
            .map(|f| (cluster_of(&f.path), f.service.clone()))
            .collect();
        assert_eq!(with, http_services(&objects), "{project}: workers get none");
        assert!(!with.is_empty(), "{project}");
        let mut uids = BTreeSet::new();
        let mut titles = BTreeSet::new();
        for Found {
            path,
            rendered,
            json,
            ..
        } in &found
        {
            let uid = str_of(json, "uid");
            assert!(uid.len() <= MAX_DASHBOARD_UID, "{path}: {uid}");
            assert!(
                uid.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{path}: {uid}"
            );
            assert!(
                uids.insert((cluster_of(path), uid.to_owned())),
                "{path}: {uid}"
            );
            let meta = rendered.object.metadata();
            let folder = meta
                .annotations
                .as_ref()
                .and_then(|a| a.get("grafana_folder"))
                .cloned();
            let title = str_of(json, "title").to_owned();
            assert!(titles.insert((cluster_of(path), folder, title)), "{path}");
            // Any Prometheus datasource, picked on the dashboard.
            let variables = json["templating"]["list"].as_array().expect("variables");
            assert!(variables.iter().any(|v| str_of(v, "name") == "datasource"
                && str_of(v, "type") == "datasource"
                && str_of(v, "query") == "prometheus"));
            for (panel, target) in targets(json) {
                for source in [&panel["datasource"], &target["datasource"]] {
                    assert_eq!(str_of(source, "uid"), "${datasource}", "{path}");
                    assert_eq!(str_of(source, "type"), "prometheus", "{path}");
                }
                let expr = str_of(target, "expr");
                assert!(
                    expr.contains("istio_request") || expr.starts_with("vector("),
                    "{path}: {expr}"
                );
            }
        }
    }
}

#[test]
fn the_overlays_labels_and_folder_annotation_reach_the_config_maps() {
    let (found, _) = dashboards(".", &Selection::default());
    for Found { path, rendered, .. } in &found {
        let meta = rendered.object.metadata();
        let labels = meta.labels.as_ref().expect("labels");
        assert_eq!(labels["grafana_dashboard"], "1", "{path}");
        let folder = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get("grafana_folder"));
        // prod and staging put each dashboard in its team's folder; dev
        // leaves folders to the provider.
        match path.split('/').next() {
            Some("prod" | "staging") => assert_eq!(folder, Some(&labels["team"]), "{path}"),
            _ => assert_eq!(folder, None, "{path}"),
        }
    }
}

#[test]
fn error_budget_panels_come_with_an_availability_objective() {
    let (found, objects) = dashboards(".", &Selection::default());
    for Found {
        path,
        service,
        json,
        ..
    } in &found
    {
        let rule = path.replace(
            &format!("configmap-{service}-dashboard.yaml"),
            &format!("prometheusrule-{service}.yaml"),
        );
        let burns = match objects.get(&rule).map(|r| &r.object) {
            Some(Object::PrometheusRule(rule)) => rule.spec.groups[0]
                .rules
                .iter()
                .any(|r| r.alert.ends_with("ErrorBudgetFastBurn")),
            _ => false,
        };
        let budget =
            targets(json).any(|(panel, _)| str_of(panel, "title").starts_with("Error budget"));
        assert_eq!(budget, burns, "{path}");
    }
}

#[derive(Serialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Serialize)]
struct RuleGroup {
    name: String,
    rules: Vec<Record>,
}

#[derive(Serialize)]
struct Record {
    record: String,
    expr: String,
}

/// How promtool gets a query: Grafana's rate window as five minutes.
fn query(target: &Value) -> String {
    str_of(target, "expr").replace(RATE_WINDOW, "5m")
}

/// A recording rule name for a panel's query.
fn record_name(service: &str, panel: &Value, target: &Value) -> String {
    format!(
        "slipway_dashboard:{}:panel{}_{}",
        service.replace('-', "_"),
        panel["id"],
        str_of(target, "refId")
    )
}

/// A scenario: per scrape, `ok` requests that succeed and `failed` that
/// fail (a 503, or a gRPC status 14 with HTTP 200).
struct Scenario {
    name: &'static str,
    ok: u32,
    failed: u32,
}

const SCENARIOS: [Scenario; 2] = [
    Scenario {
        name: "healthy",
        ok: 100,
        failed: 0,
    },
    Scenario {
        name: "a quarter of the requests fail",
        ok: 75,
        failed: 25,
    },
];

/// The services under test in prod/us-east-1: HTTP with a canary and an
/// SLO, and gRPC with an SLO.
const SERVICES: [(&str, &str, bool); 2] = [
    ("checkout", "commerce-prod", false),
    ("payments", "payments-prod", true),
];

fn series(
    service: &str,
    namespace: &str,
    grpc: bool,
    failed: bool,
    per_scrape: u32,
) -> InputSeries {
    // Istio leaves `grpc_response_status` empty (no label) for HTTP.
    let (code, status) = match (grpc, failed) {
        (false, false) => ("200", String::new()),
        (false, true) => ("503", String::new()),
        (true, false) => ("200", r#",grpc_response_status="0""#.to_owned()),
        (true, true) => ("200", r#",grpc_response_status="14""#.to_owned()),
    };
    InputSeries {
        series: format!(
            r#"istio_requests_total{{reporter="destination",destination_service_namespace="{namespace}",destination_service_name="{service}",response_code="{code}"{status}}}"#
        ),
        values: format!("0+{per_scrape}x60"),
    }
}

/// What the error ratio, the 30-day budget remaining and the burn rates
/// show, by panel title, for a scenario against an availability of
/// `availability` percent. The budget is compared as the query writes it
/// (`1 - 99.9 / 100` in binary floating point is not 0.001).
fn expected(panel: &str, scenario: &Scenario, availability: f64) -> Option<f64> {
    let ratio = f64::from(scenario.failed) / f64::from(scenario.ok + scenario.failed);
    let budget = ((1.0 - availability / 100.0) * 1e9).round() / 1e9;
    match panel {
        "Error ratio" => Some(ratio),
        "Error budget remaining (30 days)" => Some(1.0 - ratio / budget),
        "Error budget burn rate" => Some(ratio / budget),
        _ => None,
    }
}

#[test]
fn dashboard_queries_are_current_and_promtool_checks_them() {
    let selection = Selection {
        env: Some("prod".into()),
        region: Some("us-east-1".into()),
        service: None,
    };
    let (found, _) = dashboards(".", &selection);
    let groups = found
        .iter()
        .map(|f| RuleGroup {
            name: format!("{}.dashboard", f.service),
            rules: targets(&f.json)
                .map(|(panel, target)| Record {
                    record: record_name(&f.service, panel, target),
                    expr: query(target),
                })
                .collect(),
        })
        .collect();
    let mut tests = Vec::new();
    for (service, namespace, grpc) in SERVICES {
        let found = found
            .iter()
            .find(|f| f.service == service)
            .expect("a dashboard");
        let availability = availability(&found.json);
        for scenario in &SCENARIOS {
            let mut input_series = vec![series(service, namespace, grpc, false, scenario.ok)];
            if scenario.failed > 0 {
                input_series.push(series(service, namespace, grpc, true, scenario.failed));
            }
            let promql_expr_test = targets(&found.json)
                .filter_map(|(panel, target)| {
                    let value = expected(str_of(panel, "title"), scenario, availability)?;
                    Some(ExprTest {
                        expr: query(target),
                        eval_time: "30m".into(),
                        exp_samples: vec![Sample {
                            labels: "{}".into(),
                            value,
                        }],
                    })
                })
                .collect::<Vec<_>>();
            // The error ratio, the budget left, and two burn rates.
            assert_eq!(promql_expr_test.len(), 4, "{service}: a panel was renamed");
            tests.push(TestGroup {
                name: format!("{service} dashboard, {}", scenario.name),
                interval: "30s".into(),
                input_series,
                promql_expr_test,
                alert_rule_test: Vec::new(),
            });
        }
    }
    let dir = root().join("tests/fixtures/promtool");
    let mut problems = Vec::new();
    for (name, text) in [
        ("dashboards.rules.yaml", generated(&RuleFile { groups })),
        (
            "dashboards.test.yaml",
            generated(&TestFile {
                rule_files: vec!["dashboards.rules.yaml".into()],
                evaluation_interval: Some("30s".into()),
                tests,
            }),
        ),
    ] {
        if let Err(e) = golden(&dir.join(name), &text) {
            problems.push(e);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The availability objective a dashboard's budget panel states.
fn availability(dashboard: &Value) -> f64 {
    let (panel, _) = targets(dashboard)
        .find(|(panel, _)| str_of(panel, "title").starts_with("Error budget remaining"))
        .expect("a budget panel");
    let description = str_of(panel, "description");
    let percent = description
        .split_whitespace()
        .find_map(|word| word.strip_suffix('%'))
        .expect("the objective in the description");
    percent.parse().expect("a number")
}

fn generated<T: Serialize>(value: &T) -> String {
    format!(
        "# Generated by tests/it/dashboards.rs from the rendered dashboards; `UPDATE_GOLDEN=1 cargo test`\n\
         # rewrites it, `promtool test rules` runs it (.ci/run).\n{}",
        slipway::emit::to_yaml(value)
    )
}
