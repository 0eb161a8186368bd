//! The canary analysis and the SLO alerts against Prometheus' own evaluator.
//!
//! This test renders the example platform (prod, us-east-1) and a gRPC
//! canary (`tests/fixtures/promtool/grpc-canary/`), and writes
//! `promtool test rules` inputs from the rendered objects into
//! `tests/fixtures/promtool/`, compared like golden files
//! (`UPDATE_GOLDEN=1 cargo test` rewrites them):
//!
//! - `<service>-analysis.test.yaml`: per scenario, synthetic Istio series
//!   and each AnalysisTemplate query, with the Rollout's args substituted,
//!   asserting the exact vector it returns;
//! - `<service>-slo.rules.yaml` (the PrometheusRule's groups) and
//!   `<service>-slo.test.yaml`: per scenario, which alerts fire.
//!
//! `.ci/run` runs `promtool test rules` on them, so there Prometheus checks
//! every vector and alert. Here, without promtool, each scenario's vector
//! goes through the metric's conditions by Argo Rollouts' rules
//! (`argo.rs`) and must give the scenario's phase. A query that changes
//! changes the files (this test fails until they are regenerated, and then
//! promtool judges them); a condition that changes fails here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use slipway::compile::{Selection, open};
use slipway::crd::argo::{AnalysisTemplate, Metric};
use slipway::crd::monitoring::{AlertRule, PrometheusRule};
use slipway::lower::Object;

use crate::argo::{Phase, evaluate};
use crate::rendering::render;
use crate::support::{golden, root};

const FIXTURES: &str = "tests/fixtures/promtool";
/// When every analysis scenario is measured, and when the alerts are read.
const ANALYSIS_EVAL_MINUTES: u32 = 10;
const SLO_EVAL_MINUTES: u32 = 30;
/// Requests per scrape interval of one kind of request.
const REQUESTS_PER_SCRAPE: u32 = 100;
/// The latency buckets of the synthetic histograms (a subset of Istio's).
const BUCKETS: [&str; 5] = ["100", "500", "1000", "5000", "+Inf"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http,
    Grpc,
}

/// One rendered service under test.
struct Case {
    project: &'static str,
    service: &'static str,
    protocol: Protocol,
    /// How often the synthetic series are scraped: the service's
    /// `scrapeInterval` (30s when the blueprint sets none).
    scrape_seconds: u32,
    analysis: bool,
    slo: bool,
}

const CASES: [Case; 3] = [
    Case {
        project: ".",
        service: "checkout",
        protocol: Protocol::Http,
        scrape_seconds: 30,
        analysis: true,
        slo: true,
    },
    Case {
        project: ".",
        service: "payments",
        protocol: Protocol::Grpc,
        scrape_seconds: 30,
        analysis: false,
        slo: true,
    },
    Case {
        project: "tests/fixtures/promtool/grpc-canary",
        service: "ledger",
        protocol: Protocol::Grpc,
        scrape_seconds: 15,
        analysis: true,
        slo: false,
    },
];

/// How a kind of request shows in the scrapes up to the evaluation time.
#[derive(Clone, Copy)]
enum Shape {
    /// Every scrape from the start.
    Steady,
    /// Requests until half-way, then none: the counters stay flat.
    Stopped,
    /// The series appears at the last scrape: one sample, no rate yet.
    LastScrapeOnly,
    /// Steady, but the scrape before the last one is missing.
    MissedScrape,
}

/// One kind of request to the canary or the stable Service.
#[derive(Clone, Copy)]
struct Requests {
    canary: bool,
    response_code: &'static str,
    grpc_status: Option<&'static str>,
    /// 50ms when fast, 3s when slow.
    slow: bool,
    /// Requests of this kind per scrape interval.
    per_scrape: u32,
    shape: Shape,
}

impl Requests {
    fn new(protocol: Protocol, canary: bool, failed: bool) -> Requests {
        let (response_code, grpc_status) = match (protocol, failed) {
            (Protocol::Http, false) => ("200", None),
            (Protocol::Http, true) => ("503", None),
            // gRPC calls fail with HTTP 200 and their status in the trailers.
            (Protocol::Grpc, false) => ("200", Some("0")),
            (Protocol::Grpc, true) => ("200", Some("14")),
        };
        Requests {
            canary,
            response_code,
            grpc_status,
            slow: false,
            per_scrape: REQUESTS_PER_SCRAPE,
            shape: Shape::Steady,
        }
    }

    fn code(self, response_code: &'static str, grpc_status: Option<&'static str>) -> Requests {
        Requests {
            response_code,
            grpc_status,
            ..self
        }
    }

    fn slow(self) -> Requests {
        Requests { slow: true, ..self }
    }

    fn shape(self, shape: Shape) -> Requests {
        Requests { shape, ..self }
    }

    fn per_scrape(self, per_scrape: u32) -> Requests {
        Requests { per_scrape, ..self }
    }
}

/// How a failed request of `protocol` shows in Istio's metrics.
fn failure(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "HTTP 503",
        Protocol::Grpc => "HTTP 200, gRPC status 14",
    }
}

/// A canary analysis scenario: what the canary served (the stable Service
/// serves healthy requests throughout), the vector each query returns, and
/// the phase Argo Rollouts gives that vector.
struct Scenario {
    name: String,
    canary: Vec<Requests>,
    success_rate: (Vec<f64>, Phase),
    latency: (Vec<f64>, Phase),
}

fn analysis_scenarios(protocol: Protocol) -> Vec<Scenario> {
    use Phase::{Failed, Inconclusive, Successful};
    let ok = Requests::new(protocol, true, false);
    let failed = Requests::new(protocol, true, true);
    let fast = (vec![99.0], Successful);
    let none = || (vec![], Inconclusive);
    let mut scenarios = vec![
        Scenario {
            name: "healthy".into(),
            canary: vec![ok],
            success_rate: (vec![1.0], Successful),
            latency: fast.clone(),
        },
        Scenario {
            name: format!("every request fails ({})", failure(protocol)),
            canary: vec![failed],
            success_rate: (vec![0.0], Failed),
            latency: fast.clone(),
        },
        Scenario {
            name: format!("half the requests fail ({})", failure(protocol)),
            canary: vec![ok, failed],
            success_rate: (vec![0.5], Failed),
            latency: fast.clone(),
        },
        Scenario {
            name: "p99 above the objective".into(),
            canary: vec![ok, ok.slow()],
            success_rate: (vec![1.0], Successful),
            // Half the requests in (1000, 5000]: 1000 + 4000 * 0.98.
            latency: (vec![4920.0], Failed),
        },
        Scenario {
            name: "no traffic yet".into(),
            canary: vec![],
            success_rate: none(),
            latency: none(),
        },
        Scenario {
            name: "traffic stopped".into(),
            canary: vec![ok.shape(Shape::Stopped)],
            success_rate: none(),
            latency: none(),
        },
        Scenario {
            name: "one scrape only".into(),
            canary: vec![
                ok.shape(Shape::LastScrapeOnly),
                failed.shape(Shape::LastScrapeOnly),
            ],
            success_rate: none(),
            latency: none(),
        },
        Scenario {
            name: "half fail, one scrape missed".into(),
            canary: vec![
                ok.shape(Shape::MissedScrape),
                failed.shape(Shape::MissedScrape),
            ],
            success_rate: (vec![0.5], Failed),
            latency: fast.clone(),
        },
    ];
    scenarios.extend(match protocol {
        Protocol::Http => vec![Scenario {
            name: "client errors (HTTP 404) are not failures".into(),
            canary: vec![ok, ok.code("404", None)],
            success_rate: (vec![1.0], Successful),
            latency: fast.clone(),
        }],
        Protocol::Grpc => vec![
            Scenario {
                name: "any gRPC status but OK fails, NOT_FOUND (5) too".into(),
                canary: vec![ok, ok.code("200", Some("5"))],
                success_rate: (vec![0.5], Failed),
                latency: fast.clone(),
            },
            Scenario {
                name: "HTTP 503 with gRPC status 14 counts once".into(),
                canary: vec![ok, ok.code("503", Some("14"))],
                success_rate: (vec![0.5], Failed),
                latency: fast,
            },
        ],
    });
    scenarios
}

/// An SLO scenario: what the service served, and which alerts fire.
struct SloScenario {
    name: String,
    requests: Vec<Requests>,
    fast_burn: bool,
    slow_burn: bool,
    latency: bool,
}

/// `between` is the share of failed requests halfway between the slow and
/// the fast burn threshold, out of 100,000.
fn slo_scenarios(protocol: Protocol, canary: bool, between: u32) -> Vec<SloScenario> {
    let ok = Requests::new(protocol, false, false).per_scrape(100_000);
    let failed = Requests::new(protocol, false, true);
    let mut scenarios = vec![
        SloScenario {
            name: "healthy".into(),
            requests: vec![ok],
            fast_burn: false,
            slow_burn: false,
            latency: false,
        },
        SloScenario {
            name: format!("every request fails ({})", failure(protocol)),
            requests: vec![failed.per_scrape(100_000)],
            fast_burn: true,
            slow_burn: true,
            latency: false,
        },
        SloScenario {
            name: "errors between the slow and the fast burn rate".into(),
            requests: vec![ok.per_scrape(100_000 - between), failed.per_scrape(between)],
            fast_burn: false,
            slow_burn: true,
            latency: false,
        },
        SloScenario {
            name: "p99 above the objective".into(),
            requests: vec![ok.slow()],
            fast_burn: false,
            slow_burn: false,
            latency: true,
        },
    ];
    if canary {
        scenarios.push(SloScenario {
            name: "the canary fails a tenth of the traffic".into(),
            requests: vec![
                ok.per_scrape(90_000),
                Requests {
                    canary: true,
                    ..failed.per_scrape(10_000)
                },
            ],
            fast_burn: true,
            slow_burn: true,
            latency: false,
        });
    }
    scenarios
}

// promtool's unit test format
// (https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/),
// shared with the dashboards' tests.

#[derive(Serialize)]
pub(crate) struct TestFile {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) rule_files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) evaluation_interval: Option<String>,
    pub(crate) tests: Vec<TestGroup>,
}

#[derive(Serialize)]
pub(crate) struct TestGroup {
    pub(crate) name: String,
    pub(crate) interval: String,
    pub(crate) input_series: Vec<InputSeries>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) promql_expr_test: Vec<ExprTest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) alert_rule_test: Vec<AlertTest>,
}

#[derive(Serialize)]
pub(crate) struct InputSeries {
    pub(crate) series: String,
    pub(crate) values: String,
}

#[derive(Serialize)]
pub(crate) struct ExprTest {
    pub(crate) expr: String,
    pub(crate) eval_time: String,
    pub(crate) exp_samples: Vec<Sample>,
}

#[derive(Serialize)]
pub(crate) struct Sample {
    pub(crate) labels: String,
    pub(crate) value: f64,
}

#[derive(Serialize)]
pub(crate) struct AlertTest {
    pub(crate) eval_time: String,
    pub(crate) alertname: String,
    pub(crate) exp_alerts: Vec<ExpectedAlert>,
}

#[derive(Serialize)]
pub(crate) struct ExpectedAlert {
    pub(crate) exp_labels: BTreeMap<String, String>,
    pub(crate) exp_annotations: BTreeMap<String, String>,
}

/// Istio's `istio_requests_total` and request-duration buckets for `requests`,
/// as the receiving sidecars of `service` (or its canary) report them. Each
/// kind of request comes from a caller of its own, so no two are one series.
fn series(
    requests: &[Requests],
    namespace: &str,
    service: &str,
    protocol: Protocol,
    scrapes: u32,
) -> Vec<InputSeries> {
    let mut out = Vec::new();
    for (caller, r) in requests.iter().enumerate() {
        let name = if r.canary {
            format!("{service}-canary")
        } else {
            service.to_owned()
        };
        let mut labels = format!(
            r#"reporter="destination",source_workload="client-{caller}",destination_service_namespace="{namespace}",destination_service_name="{name}",request_protocol="{}",response_code="{}""#,
            match protocol {
                Protocol::Http => "http",
                Protocol::Grpc => "grpc",
            },
            r.response_code
        );
        if let Some(status) = r.grpc_status {
            write!(labels, r#",grpc_response_status="{status}""#).expect("writes to a String");
        }
        out.push(InputSeries {
            series: format!("istio_requests_total{{{labels}}}"),
            values: values(r.shape, r.per_scrape, scrapes),
        });
        for le in BUCKETS {
            // Fast requests take 50ms, slow ones 3s.
            let counted = !r.slow || matches!(le, "5000" | "+Inf");
            out.push(InputSeries {
                series: format!(
                    r#"istio_request_duration_milliseconds_bucket{{{labels},le="{le}"}}"#
                ),
                values: values(r.shape, if counted { r.per_scrape } else { 0 }, scrapes),
            });
        }
    }
    out
}

/// A counter growing by `step` per scrape, in promtool's expanding notation
/// (`a+bxn` is n+1 samples, `_xn` n missing ones), up to scrape `scrapes`.
fn values(shape: Shape, step: u32, scrapes: u32) -> String {
    match shape {
        Shape::Steady => format!("0+{step}x{scrapes}"),
        Shape::Stopped => {
            let half = scrapes / 2;
            format!("0+{step}x{half} {}x{}", step * half, scrapes - half - 1)
        }
        Shape::LastScrapeOnly => format!("_x{scrapes} {step}"),
        Shape::MissedScrape => format!("0+{step}x{} _ {}", scrapes - 2, step * scrapes),
    }
}

/// Every rendered object of prod/us-east-1 of a project, by file path.
fn rendered(project: &str) -> BTreeMap<String, Object> {
    let (project, diags) = open(&root().join(project)).expect("opens");
    assert!(diags.is_empty(), "{diags:?}");
    let selection = Selection {
        env: Some("prod".into()),
        region: Some("us-east-1".into()),
        service: None,
    };
    render(&project, &selection)
        .objects
        .into_iter()
        .map(|(path, rendered)| (path, rendered.object))
        .collect()
}

/// The AnalysisTemplate's metrics with the Rollout's args substituted, as
/// Argo Rollouts runs them.
fn analysis_metrics(objects: &BTreeMap<String, Object>, service: &str) -> Vec<Metric> {
    let dir = format!("prod/us-east-1/{service}");
    let Some(Object::AnalysisTemplate(AnalysisTemplate { spec, .. })) =
        objects.get(&format!("{dir}/analysistemplate-{service}.yaml"))
    else {
        panic!("{service} has an AnalysisTemplate");
    };
    let Some(Object::Rollout(rollout)) = objects.get(&format!("{dir}/rollout-{service}.yaml"))
    else {
        panic!("{service} has a Rollout");
    };
    let args = &rollout
        .spec
        .strategy
        .canary
        .analysis
        .as_ref()
        .expect("analysis")
        .args;
    spec.metrics
        .iter()
        .map(|metric| {
            let mut metric = metric.clone();
            for arg in args {
                let value = arg
                    .value
                    .as_deref()
                    .expect("the Rollout gives every arg a value");
                let placeholder = format!("{{{{args.{}}}}}", arg.name);
                metric.provider.prometheus.query = metric
                    .provider
                    .prometheus
                    .query
                    .replace(&placeholder, value);
            }
            assert!(
                !metric.provider.prometheus.query.contains("{{"),
                "every arg of {} is given: {}",
                metric.name,
                metric.provider.prometheus.query
            );
            metric
        })
        .collect()
}

fn seconds(duration: &str) -> u32 {
    let (number, unit) = duration.split_at(duration.len() - 1);
    let number: u32 = number
        .parse()
        .unwrap_or_else(|_| panic!("a whole `{duration}`"));
    match unit {
        "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        _ => panic!("unit of `{duration}`"),
    }
}

/// The query window is the measuring interval or four scrapes, the longer,
/// and the first measurement waits for one window.
fn check_window(case: &Case, metric: &Metric, problems: &mut Vec<String>) {
    let windows = regex::Regex::new(r"\[(\w+)\]").expect("regex");
    let query = &metric.provider.prometheus.query;
    let found: Vec<&str> = windows
        .captures_iter(query)
        .map(|c| c.get(1).expect("group").as_str())
        .collect();
    let expected = seconds(&metric.interval).max(4 * case.scrape_seconds);
    for window in found.iter().copied().chain([metric.initial_delay.as_str()]) {
        if seconds(window) != expected {
            problems.push(format!(
                "{} {}: window or initialDelay `{window}`, expected {expected}s (interval {}, scrapes every {}s)",
                case.service, metric.name, metric.interval, case.scrape_seconds
            ));
        }
    }
    if found.is_empty() {
        problems.push(format!(
            "{} {}: no range in `{query}`",
            case.service, metric.name
        ));
    }
}

fn analysis_file(case: &Case, metrics: &[Metric], problems: &mut Vec<String>) -> TestFile {
    let scrapes = ANALYSIS_EVAL_MINUTES * 60 / case.scrape_seconds;
    let (success_rate, latency) = (
        metric(metrics, "success-rate"),
        metric(metrics, "latency-p99"),
    );
    let namespace = selected_namespace(&success_rate.provider.prometheus.query);
    let mut tests = Vec::new();
    for scenario in analysis_scenarios(case.protocol) {
        let stable = Requests::new(case.protocol, false, false);
        let requests: Vec<Requests> = [stable]
            .into_iter()
            .chain(scenario.canary.iter().copied())
            .collect();
        let mut outcomes = Vec::new();
        let mut exprs = Vec::new();
        for (metric, (vector, phase)) in [
            (success_rate, &scenario.success_rate),
            (latency, &scenario.latency),
        ] {
            let judged = evaluate(
                Some(&metric.success_condition),
                Some(&metric.failure_condition),
                vector,
            );
            if judged != *phase {
                problems.push(format!(
                    "{} `{}`: {} of {vector:?} is {judged}, expected {phase}",
                    case.service, scenario.name, metric.name
                ));
            }
            outcomes.push(format!("{} {vector:?} is {phase}", metric.name));
            exprs.push(ExprTest {
                expr: metric.provider.prometheus.query.clone(),
                eval_time: format!("{ANALYSIS_EVAL_MINUTES}m"),
                exp_samples: vector
                    .iter()
                    .map(|&value| Sample {
                        labels: "{}".into(),
                        value,
                    })
                    .collect(),
            });
        }
        tests.push(TestGroup {
            name: format!(
                "{} canary, {}: {}",
                case.service,
                scenario.name,
                outcomes.join(", ")
            ),
            interval: format!("{}s", case.scrape_seconds),
            input_series: series(&requests, &namespace, case.service, case.protocol, scrapes),
            promql_expr_test: exprs,
            alert_rule_test: Vec::new(),
        });
    }
    TestFile {
        rule_files: Vec::new(),
        evaluation_interval: None,
        tests,
    }
}

fn metric<'a>(metrics: &'a [Metric], name: &str) -> &'a Metric {
    metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("the analysis measures {name}"))
}

/// The namespace a query selects.
fn selected_namespace(query: &str) -> String {
    let re = regex::Regex::new(r#"destination_service_namespace="([^"]+)""#).expect("regex");
    re.captures(query).expect("the query selects a namespace")[1].to_owned()
}

/// The rule of the alert whose name ends in `suffix`.
fn alert<'a>(rule: &'a PrometheusRule, suffix: &str) -> &'a AlertRule {
    rule.spec
        .groups
        .iter()
        .flat_map(|g| &g.rules)
        .find(|r| r.alert.ends_with(suffix))
        .unwrap_or_else(|| panic!("an alert `*{suffix}`"))
}

/// The burn-rate threshold an alert compares both ratios with.
fn threshold(rule: &AlertRule) -> f64 {
    let re = regex::Regex::new(r"\) > ([0-9.]+) and ").expect("regex");
    re.captures(&rule.expr).expect("a burn-rate threshold")[1]
        .parse()
        .expect("a number")
}

fn slo_file(case: &Case, rule: &PrometheusRule) -> TestFile {
    let scrapes = SLO_EVAL_MINUTES * 60 / case.scrape_seconds;
    let namespace = rule.metadata.namespace.clone().expect("namespaced");
    let (fast, slow, latency) = (
        alert(rule, "ErrorBudgetFastBurn"),
        alert(rule, "ErrorBudgetSlowBurn"),
        alert(rule, "LatencyP99High"),
    );
    let between = ((threshold(fast) + threshold(slow)) / 2.0 * 100_000.0).round() as u32;
    let canary = case.service == "checkout";
    let tests = slo_scenarios(case.protocol, canary, between)
        .into_iter()
        .map(|scenario| {
            let firing: Vec<&str> = [
                (fast, scenario.fast_burn),
                (slow, scenario.slow_burn),
                (latency, scenario.latency),
            ]
            .iter()
            .filter(|(_, fires)| *fires)
            .map(|(rule, _)| rule.alert.as_str())
            .collect();
            TestGroup {
                name: format!(
                    "{} SLO, {}: {}",
                    case.service,
                    scenario.name,
                    if firing.is_empty() {
                        "no alert".to_owned()
                    } else {
                        format!("firing {}", firing.join(", "))
                    }
                ),
                interval: format!("{}s", case.scrape_seconds),
                input_series: series(
                    &scenario.requests,
                    &namespace,
                    case.service,
                    case.protocol,
                    scrapes,
                ),
                promql_expr_test: Vec::new(),
                alert_rule_test: [
                    (fast, scenario.fast_burn),
                    (slow, scenario.slow_burn),
                    (latency, scenario.latency),
                ]
                .into_iter()
                .map(|(rule, fires)| AlertTest {
                    eval_time: format!("{SLO_EVAL_MINUTES}m"),
                    alertname: rule.alert.clone(),
                    exp_alerts: fires
                        .then(|| ExpectedAlert {
                            exp_labels: rule.labels.clone(),
                            exp_annotations: rule.annotations.clone(),
                        })
                        .into_iter()
                        .collect(),
                })
                .collect(),
            }
        })
        .collect();
    TestFile {
        rule_files: vec![format!("{}-slo.rules.yaml", case.service)],
        evaluation_interval: Some(format!("{}s", case.scrape_seconds)),
        tests,
    }
}

/// A generated file: a header naming its source, then YAML.
fn generated<T: Serialize>(value: &T) -> String {
    format!(
        "# Generated by tests/it/promtool.rs from the rendered objects; `UPDATE_GOLDEN=1 cargo test`\n\
         # rewrites it, `promtool test rules` runs it (.ci/run).\n{}",
        slipway::emit::to_yaml(value)
    )
}

#[test]
fn promtool_inputs_are_current_and_argo_rollouts_judges_every_scenario() {
    let mut problems = Vec::new();
    let mut projects: BTreeMap<&str, BTreeMap<String, Object>> = BTreeMap::new();
    let dir = root().join(FIXTURES);
    let check = |name: String, text: String, problems: &mut Vec<String>| {
        if let Err(e) = golden(&dir.join(name), &text) {
            problems.push(e);
        }
    };
    for case in &CASES {
        let objects = projects
            .entry(case.project)
            .or_insert_with(|| rendered(case.project));
        if case.analysis {
            let metrics = analysis_metrics(objects, case.service);
            for metric in &metrics {
                check_window(case, metric, &mut problems);
            }
            let file = analysis_file(case, &metrics, &mut problems);
            check(
                format!("{}-analysis.test.yaml", case.service),
                generated(&file),
                &mut problems,
            );
        }
        if case.slo {
            let path = format!("prod/us-east-1/{0}/prometheusrule-{0}.yaml", case.service);
            let Some(Object::PrometheusRule(rule)) = objects.get(&path) else {
                panic!("{path} is rendered");
            };
            check(
                format!("{}-slo.rules.yaml", case.service),
                generated(&rule.spec),
                &mut problems,
            );
            check(
                format!("{}-slo.test.yaml", case.service),
                generated(&slo_file(case, rule)),
                &mut problems,
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// CI runs promtool over exactly these files, and fails when one fails.
#[test]
fn ci_runs_promtool_on_the_generated_files() {
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.contains(&format!("promtool test rules {FIXTURES}/*.test.yaml")),
        ".ci/run runs `promtool test rules {FIXTURES}/*.test.yaml`"
    );
}
