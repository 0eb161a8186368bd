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
    if let Some(interval) = &metrics.interval {
        if !is_prometheus_duration(&interval.value) {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_VALUE,
                    interval.span,
                    format!(
                        "`interval` `{}` is not a Prometheus duration; the Prometheus Operator refuses the monitor",
                        interval.value
                    ),
                )
                .with_hint("write whole numbers of units, largest first: `30s`, `1m`, `1m30s` (no fractions)"),
            );
        }
    }
    Some(Metrics {
        port: metrics.port.value.clone(),
        path: metrics.path.clone(),
        interval: metrics.interval.as_ref().map(|i| i.value.clone()),
    })
}

/// A duration as Prometheus and the Prometheus Operator's CRDs read it
/// (the `Duration` pattern of `monitoring.coreos.com/v1`:
/// `^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`):
/// whole numbers, each unit at most once, largest first.
pub fn is_prometheus_duration(text: &str) -> bool {
    const UNITS: [&str; 7] = ["y", "w", "d", "h", "m", "s", "ms"];
    if text == "0" {
        return true;
    }
    let mut rest = text;
    let mut next = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        let tail = &rest[digits..];
        // `ms` before `m`, so that `5ms` is not read as minutes and an `s`.
        let Some(unit) = (next..UNITS.len())
            .filter(|&u| tail.starts_with(UNITS[u]))
            .max_by_key(|&u| UNITS[u].len())
        else {
            return false;
        };
        next = unit + 1;
        rest = &tail[UNITS[unit].len()..];
    }
    !text.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        for ok in [
            "0",
            "30s",
            "1m",
            "1m30s",
            "1h",
            "2d",
            "1w",
            "1y",
            "500ms",
            "1h30m15s500ms",
        ] {
            assert!(is_prometheus_duration(ok), "{ok}");
        }
        for bad in ["", "1.5m", "30s1m", "1m1m", "m", "10", "1 m", "1M", "-1s"] {
            assert!(!is_prometheus_duration(bad), "{bad}");
        }
    }
}
