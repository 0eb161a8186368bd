//! Metrics scraping and service level objectives.

use super::traffic::{Port, is_http, unknown_port};
use crate::diag::{Code, Diagnostic};
use crate::input;
use crate::node::de::Spanned;

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
        path: metrics.path.as_ref().and_then(|p| metrics_path(p, diags)),
        interval: metrics.interval.as_ref().map(|i| i.value.clone()),
    })
}

/// The path Prometheus scrapes, which slipway also writes into the
/// AuthorizationPolicy (allowed for Prometheus, kept from the gateway) and
/// Istio's merge annotation. Empty is Prometheus' default, `/metrics`
/// (the Prometheus Operator: "If empty, Prometheus uses the default
/// value"). Istio's agent joins it to `localhost:<port>` as written
/// (`appMetricsURL`), and an AuthorizationPolicy path takes `{` and `}`
/// only as templates (`CheckValidPathTemplate`); a query is no path.
fn metrics_path(path: &Spanned<String>, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let text = &path.value;
    if text.is_empty() {
        return None;
    }
    let problem = if !text.starts_with('/') {
        Some("must start with `/`: Istio's agent appends it to the host and port as written")
    } else if text.contains(['{', '}']) {
        Some(
            "must not contain `{` or `}`, which Istio's AuthorizationPolicy paths read as templates",
        )
    } else if text.contains(['?', '#']) || text.chars().any(char::is_whitespace) {
        Some("must be a plain URL path, without a query, a fragment or spaces")
    } else {
        None
    };
    if let Some(problem) = problem {
        diags.push(
            Diagnostic::error(
                Code::INVALID_VALUE,
                path.span,
                format!("metrics `path` `{text}` {problem}"),
            )
            .with_hint("write the path the app serves metrics at, such as `/metrics`"),
        );
    }
    Some(text.clone())
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
    use crate::source::{FileId, Span};

    fn path(text: &str) -> (Option<String>, Vec<Diagnostic>) {
        let spanned = Spanned {
            span: Span {
                file: FileId(0),
                start: 0,
                end: 0,
            },
            value: text.to_owned(),
        };
        let mut diags = Vec::new();
        (metrics_path(&spanned, &mut diags), diags)
    }

    #[test]
    fn metrics_paths_are_plain_paths() {
        assert_eq!(path(""), (None, Vec::new()), "empty is Prometheus' default");
        assert!(path("/metrics").1.is_empty());
        assert!(path("/app/metrics.prom").1.is_empty());
        for bad in [
            "metrics",
            "/metrics{x}",
            "/metrics?format=text",
            "/a b",
            "/m#x",
        ] {
            assert_eq!(path(bad).1.len(), 1, "{bad}");
        }
    }
}
