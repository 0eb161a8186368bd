//! Prometheus Operator: monitoring.coreos.com/v1 ServiceMonitor and PrometheusRule.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;

use super::kind;

pub type ServiceMonitor = super::Custom<ServiceMonitorSpec>;
pub type PrometheusRule = super::Custom<PrometheusRuleSpec>;

kind!(
    ServiceMonitorSpec,
    "monitoring.coreos.com/v1",
    "ServiceMonitor"
);
kind!(
    PrometheusRuleSpec,
    "monitoring.coreos.com/v1",
    "PrometheusRule"
);

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ServiceMonitorSpec {
    pub selector: LabelSelector,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Endpoint {
    pub port: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PrometheusRuleSpec {
    pub groups: Vec<RuleGroup>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<AlertRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AlertRule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}
