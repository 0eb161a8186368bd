//! A Grafana dashboard per service, as a ConfigMap the Grafana sidecar of
//! kube-prometheus-stack loads: request rate, errors and latency from
//! Istio's request metrics, with the same selector and the same count of
//! failures as the SLO alerts and the canary analysis, and the SLO's error
//! budget when there is one.
//!
//! Only HTTP, HTTP2 and GRPC ports have Istio request metrics, so a service
//! without one (a worker) gets no dashboard. The ConfigMap lives beside
//! the service: kube-prometheus-stack's sidecar searches every namespace
//! (its values: `grafana.sidecar.dashboards.searchNamespace: ALL`) for
//! ConfigMaps labelled `grafana_dashboard: "1"`, and writes each data key
//! as a file that Grafana's file provider loads.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::meta::object_meta;
use super::monitoring::{BURN_ALERTS, error_ratio, number, requests_selector};
use crate::crd::grafana::{
    Dashboard, DataSourceRef, FieldConfig, FieldDefaults, GridPos, PROMETHEUS, Panel,
    SCHEMA_VERSION, Target, Templating, TimeRange, Variable,
};
use crate::model::{Dashboards, Environment, Service, is_http};
use crate::names::derived_name;

/// Grafana's longest dashboard uid (grafana/grafana
/// `pkg/util/shortid_generator.go`, `MaxUIDLength`).
pub const MAX_UID: usize = 40;

/// The window of each panel's rates: Grafana's `$__rate_interval`, at
/// least four scrape intervals of the datasource and one step of the graph.
pub const RATE_WINDOW: &str = "$__rate_interval";

/// The period of the error budget. The SLO alerts' burn-rate factors are
/// those of a 30-day budget.
const BUDGET_PERIOD: &str = "30d";

/// The datasource variable, and what every panel and query names as its
/// datasource: any Prometheus datasource, picked on the dashboard.
const DATASOURCE_VARIABLE: &str = "datasource";

/// Panels' height in grid units, and the grid's width.
const ROW_HEIGHT: u32 = 8;
const GRID_WIDTH: u32 = 24;

pub fn config_map(service: &Service, env: &Environment) -> Option<ConfigMap> {
    let settings = env.dashboards.as_ref()?;
    if !service.ports.iter().any(|p| is_http(p.protocol)) {
        return None;
    }
    // Plain structs with string keys: serializing them cannot fail.
    let json =
        serde_json::to_string_pretty(&dashboard(service)).expect("a dashboard serializes to JSON");
    Some(ConfigMap {
        metadata: metadata(service, settings),
        data: Some(BTreeMap::from([(data_key(service), json + "\n")])),
        ..ConfigMap::default()
    })
}

/// The file the sidecar writes the dashboard to: it writes every data key
/// of every namespace into its folder (kiwigrid/k8s-sidecar, without
/// `UNIQUE_FILENAMES`), so the key names the namespace too, and two
/// environments sharing a cluster (each in its own namespaces) never
/// overwrite each other's dashboards.
fn data_key(service: &Service) -> String {
    format!("{}_{}.json", service.namespace, service.name)
}

fn metadata(service: &Service, settings: &Dashboards) -> ObjectMeta {
    // Shortened like the canary Service's name, to a Service name's 63.
    let name = derived_name(&service.name, "-dashboard", 63);
    let mut meta = object_meta(service, &name);
    meta.labels
        .get_or_insert_default()
        .extend(settings.labels.clone());
    if let Some(key) = &settings.folder_annotation {
        // A relative folder under the sidecar's own (kiwigrid/k8s-sidecar,
        // `FOLDER_ANNOTATION`), which Grafana turns into a folder with
        // `foldersFromFilesStructure`: one per team.
        meta.annotations
            .get_or_insert_default()
            .insert(key.clone(), service.team.clone());
    }
    meta
}

/// The dashboard's uid: `<namespace>_<service>` (neither holds `_`, so no
/// two services share it), shortened with a hash past Grafana's 40
/// characters.
fn uid(service: &Service) -> String {
    derived_name(
        &format!("{}_{}", service.namespace, service.name),
        "",
        MAX_UID,
    )
}

fn dashboard(service: &Service) -> Dashboard {
    let selector = requests_selector(service);
    let mut panels = vec![
        requests(&selector),
        errors(&selector),
        latency(service, &selector),
    ];
    if let Some(availability) = service.slo.as_ref().and_then(|s| s.availability) {
        panels.extend(error_budget(&selector, availability));
    }
    for (index, panel) in panels.iter_mut().enumerate() {
        panel.id = u32::try_from(index + 1).unwrap_or(u32::MAX);
    }
    Dashboard {
        uid: uid(service),
        title: format!("{} ({})", service.name, service.namespace),
        description: format!(
            "Requests to {} in {} from Istio's request metrics, as the service's own sidecars report them. Rendered by slipway: edit the blueprint, not this dashboard.",
            service.name, service.namespace
        ),
        tags: vec!["slipway".into(), service.team.clone()],
        editable: false,
        time: TimeRange {
            from: "now-6h".into(),
            to: "now".into(),
        },
        refresh: "1m".into(),
        schema_version: SCHEMA_VERSION,
        templating: Templating {
            list: vec![Variable {
                name: DATASOURCE_VARIABLE.into(),
                label: "Data source".into(),
                type_: "datasource".into(),
                query: PROMETHEUS.into(),
            }],
        },
        panels,
    }
}

fn datasource() -> DataSourceRef {
    DataSourceRef {
        type_: PROMETHEUS.into(),
        uid: format!("${{{DATASOURCE_VARIABLE}}}"),
    }
}

/// A panel at `[x, y, w]` of the grid, its queries as `(expr, legend)`.
fn panel(
    type_: &str,
    title: &str,
    description: String,
    [x, y, w]: [u32; 3],
    unit: &str,
    queries: Vec<(String, String)>,
) -> Panel {
    let ref_ids = ('A'..='Z').map(String::from);
    Panel {
        id: 0,
        type_: type_.into(),
        title: title.into(),
        description,
        grid_pos: GridPos {
            h: ROW_HEIGHT,
            w,
            x,
            y,
        },
        datasource: datasource(),
        targets: queries
            .into_iter()
            .zip(ref_ids)
            .map(|((expr, legend_format), ref_id)| Target {
                ref_id,
                datasource: datasource(),
                expr,
                legend_format,
            })
            .collect(),
        field_config: FieldConfig {
            defaults: FieldDefaults {
                unit: unit.into(),
                min: Some(0),
                max: None,
            },
        },
    }
}

fn requests(selector: &str) -> Panel {
    panel(
        "timeseries",
        "Requests",
        "Requests per second, by HTTP response code (gRPC calls answer 200 and carry their status apart).".into(),
        [0, 0, GRID_WIDTH / 2],
        "reqps",
        vec![(
            format!(
                "sum by (response_code) (rate(istio_requests_total{{{selector}}}[{RATE_WINDOW}]))"
            ),
            "{{response_code}}".into(),
        )],
    )
}

fn errors(selector: &str) -> Panel {
    panel(
        "timeseries",
        "Error ratio",
        "Share of requests that failed: 5xx responses and gRPC calls whose status is not OK, counted as the SLO alerts and the canary analysis count them.".into(),
        [GRID_WIDTH / 2, 0, GRID_WIDTH / 2],
        "percentunit",
        vec![(error_ratio(selector, RATE_WINDOW), "errors".into())],
    )
}

fn latency(service: &Service, selector: &str) -> Panel {
    let mut queries: Vec<(String, String)> = [("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99")]
        .into_iter()
        .map(|(quantile, legend)| {
            (
                format!(
                    "histogram_quantile({quantile}, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[{RATE_WINDOW}])))"
                ),
                legend.to_owned(),
            )
        })
        .collect();
    if let Some(p99) = service.slo.as_ref().and_then(|s| s.p99_latency_ms) {
        queries.push((format!("vector({p99})"), "p99 objective".into()));
    }
    panel(
        "timeseries",
        "Latency",
        "Request duration percentiles, as the service's sidecars measure them.".into(),
        [0, ROW_HEIGHT, GRID_WIDTH / 2],
        "ms",
        queries,
    )
}

/// The budget left over the last 30 days, and how fast it burns over the
/// SLO alerts' long windows, whose thresholds are in the description.
fn error_budget(selector: &str, availability: f64) -> [Panel; 2] {
    let budget = number(1.0 - availability / 100.0);
    let mut remaining = panel(
        "stat",
        "Error budget remaining (30 days)",
        format!(
            "Share of the error budget of the {availability}% availability objective ({budget} of requests may fail) not spent over the last 30 days."
        ),
        [GRID_WIDTH / 2, ROW_HEIGHT, GRID_WIDTH / 6],
        "percentunit",
        vec![(
            format!("1 - {} / {budget}", error_ratio(selector, BUDGET_PERIOD)),
            "remaining".into(),
        )],
    );
    remaining.field_config.defaults.min = None;
    remaining.field_config.defaults.max = Some(1);
    let thresholds: Vec<String> = BURN_ALERTS
        .iter()
        .map(|(name, long, short, factor, ..)| format!("{name}: {factor}x over {long} and {short}"))
        .collect();
    let burn = panel(
        "timeseries",
        "Error budget burn rate",
        format!(
            "How many times faster than the 30-day budget allows requests fail; 1 spends it exactly in 30 days. The alerts fire at {}.",
            thresholds.join(", ")
        ),
        [
            GRID_WIDTH / 2 + GRID_WIDTH / 6,
            ROW_HEIGHT,
            GRID_WIDTH / 2 - GRID_WIDTH / 6,
        ],
        "none",
        BURN_ALERTS
            .iter()
            .map(|(_, long, ..)| {
                (
                    format!("{} / {budget}", error_ratio(selector, long)),
                    format!("over {long}"),
                )
            })
            .collect(),
    );
    [remaining, burn]
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
";

    fn dashboards(blueprint: &str, environment: &str) -> Vec<ConfigMap> {
        let (objects, diags) = render(blueprint, environment);
        assert!(diags.is_empty(), "{diags:?}");
        objects
            .into_iter()
            .filter_map(|o| match o {
                Object::ConfigMap(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    const HTTP: &str = "service: {ports: {http: {port: 80, targetPort: 8080, protocol: HTTP}}}\n";

    #[test]
    fn a_service_with_an_http_port_gets_one_with_the_sidecars_label() {
        let found = dashboards(&format!("{BLUEPRINT}{HTTP}"), "");
        assert_eq!(found.len(), 1);
        let meta = &found[0].metadata;
        assert_eq!(meta.name.as_deref(), Some("shop-dashboard"));
        assert_eq!(
            meta.labels.as_ref().expect("labels")["grafana_dashboard"],
            "1"
        );
        assert_eq!(meta.annotations, None);
        let data = found[0].data.as_ref().expect("data");
        let json: serde_json::Value =
            serde_json::from_str(&data["web-dev_shop.json"]).expect("JSON");
        assert_eq!(json["uid"], "web-dev_shop");
        // No SLO: requests, errors, latency.
        assert_eq!(json["panels"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn workers_and_tcp_services_get_none_and_an_overlay_may_turn_them_off() {
        let tcp = "service: {ports: {db: {port: 5432, protocol: TCP}}}\n";
        assert!(dashboards(BLUEPRINT, "").is_empty());
        assert!(dashboards(&format!("{BLUEPRINT}{tcp}"), "").is_empty());
        let off = "  dashboards: {enabled: false}\n";
        assert!(dashboards(&format!("{BLUEPRINT}{HTTP}"), off).is_empty());
    }

    #[test]
    fn the_overlay_sets_the_labels_and_the_folder_annotation() {
        let settings =
            "  dashboards: {labels: {dashboards: slipway}, folderAnnotation: grafana_folder}\n";
        let found = dashboards(&format!("{BLUEPRINT}{HTTP}"), settings);
        let meta = &found[0].metadata;
        let labels = meta.labels.as_ref().expect("labels");
        assert_eq!(labels["dashboards"], "slipway");
        assert!(
            !labels.contains_key("grafana_dashboard"),
            "replaced, not added to"
        );
        assert_eq!(
            meta.annotations.as_ref().expect("annotations")["grafana_folder"],
            "web"
        );
    }

    #[test]
    fn an_slo_adds_the_error_budget() {
        let slo = "monitoring: {slo: {availability: 99.9, p99LatencyMs: 250}}\n";
        let found = dashboards(&format!("{BLUEPRINT}{HTTP}{slo}"), "");
        let data = found[0].data.as_ref().expect("data");
        let json: serde_json::Value =
            serde_json::from_str(&data["web-dev_shop.json"]).expect("JSON");
        let titles: Vec<&str> = json["panels"]
            .as_array()
            .expect("panels")
            .iter()
            .filter_map(|p| p["title"].as_str())
            .collect();
        assert_eq!(
            titles,
            [
                "Requests",
                "Error ratio",
                "Latency",
                "Error budget remaining (30 days)",
                "Error budget burn rate"
            ]
        );
        let remaining = json["panels"][3]["targets"][0]["expr"]
            .as_str()
            .expect("expr");
        assert!(remaining.ends_with("[30d]))) / 0.001"), "{remaining}");
        let objective = json["panels"][2]["targets"][3]["expr"]
            .as_str()
            .expect("expr");
        assert_eq!(objective, "vector(250)");
    }

    #[test]
    fn uids_fit_grafana_and_stay_distinct() {
        let short = derived_name("shop-dev_web", "", MAX_UID);
        assert_eq!(short, "shop-dev_web");
        let long = format!("{}_{}", "n".repeat(40), "a".repeat(30));
        let other = format!("{}_{}", "n".repeat(40), "b".repeat(30));
        let (one, two) = (
            derived_name(&long, "", MAX_UID),
            derived_name(&other, "", MAX_UID),
        );
        assert_eq!(one.len(), MAX_UID);
        assert_ne!(one, two);
        assert!(
            one.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{one}"
        );
    }
}
