//! Grafana's dashboard JSON model, the fields slipway sets: not a custom
//! resource but the payload of a ConfigMap that Grafana's dashboard sidecar
//! writes to the folder its file provider reads. Names as in Grafana's
//! model (grafana/grafana `kinds/dashboard/dashboard_kind.cue`); the datasource variable and
//! references as kube-prometheus-stack's own dashboards write them
//! (`templates/grafana/dashboards-1.14/*.yaml`).

use serde::Serialize;

/// The dashboard schema version kube-prometheus-stack's dashboards carry;
/// Grafana migrates older ones on load and leaves this one as it is.
pub const SCHEMA_VERSION: u32 = 39;

/// The plugin id of Grafana's Prometheus datasource.
pub const PROMETHEUS: &str = "prometheus";

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// At most 40 letters, digits, `-` and `_` (grafana/grafana
    /// `pkg/util/shortid_generator.go`, `MaxUIDLength`).
    pub uid: String,
    /// Unique within its folder: Grafana refuses a second dashboard of the
    /// same title in one folder.
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub editable: bool,
    pub time: TimeRange,
    pub refresh: String,
    pub schema_version: u32,
    pub templating: Templating,
    pub panels: Vec<Panel>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TimeRange {
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Templating {
    pub list: Vec<Variable>,
}

/// A dashboard variable; slipway's only one picks the datasource: type
/// `datasource`, its `query` the plugin id.
#[derive(Clone, Debug, Serialize)]
pub struct Variable {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub query: String,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    pub id: u32,
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub description: String,
    pub grid_pos: GridPos,
    pub datasource: DataSourceRef,
    pub targets: Vec<Target>,
    pub field_config: FieldConfig,
}

/// Where a panel sits on the dashboard's 24-column grid.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct GridPos {
    pub h: u32,
    pub w: u32,
    pub x: u32,
    pub y: u32,
}

/// A datasource by plugin type and uid; the uid `${datasource}` is the
/// datasource variable's value.
#[derive(Clone, Debug, Serialize)]
pub struct DataSourceRef {
    #[serde(rename = "type")]
    pub type_: String,
    pub uid: String,
}

/// A Prometheus query of a panel.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub ref_id: String,
    pub datasource: DataSourceRef,
    pub expr: String,
    pub legend_format: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FieldConfig {
    pub defaults: FieldDefaults,
}

#[derive(Clone, Debug, Serialize)]
pub struct FieldDefaults {
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}
