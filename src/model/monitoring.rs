//! Metrics scraping and service level objectives.

use super::traffic::{Port, is_http, unknown_port};
use crate::diag::{Code, Diagnostic};
use crate::input;

#[derive(Debug)]
pub struct Metrics {
    pub port: String,
    pub path: Option<String>,
    pub interval: Option<String>,
}

#[derive(Debug)]
pub struct Slo {
    /// Percent of requests that succeed, e.g. 99.9.
    pub availability: Option<f64>,
    pub p99_latency_ms: Option<u32>,
}

pub(super) fn metrics(
    raw: &input::Blueprint,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Option<Metrics> {
    let metrics = raw.monitoring.as_ref()?.metrics.as_ref()?;
    if !ports.iter().any(|p| p.name == metrics.port.value) {
        diags.push(unknown_port(metrics.port.span, &metrics.port.value, ports));
        return None;
    }
    Some(Metrics {
        port: metrics.port.value.clone(),
        path: metrics.path.clone(),
        interval: metrics.interval.as_ref().map(|i| i.value.clone()),
    })
}

/// SLO alerts read Istio's request metrics, which exist for HTTP ports only.
pub(super) fn slo(
    raw: &input::Blueprint,
    ports: &[Port],
    diags: &mut Vec<Diagnostic>,
) -> Option<Slo> {
    let slo = raw.monitoring.as_ref()?.slo.as_ref()?;
    if !ports.iter().any(|p| is_http(p.protocol)) {
        diags.push(
            Diagnostic::error(
                Code::SLO_WITHOUT_HTTP,
                slo.span,
                "an SLO needs an HTTP port: its alerts read Istio request metrics",
            )
            .with_hint(
                "add a port with `protocol: HTTP`, `HTTP2` or `GRPC`, or remove `monitoring.slo`",
            ),
        );
        return None;
    }
    Some(Slo {
        availability: slo.value.availability,
        p99_latency_ms: slo.value.p99_latency_ms,
    })
}
