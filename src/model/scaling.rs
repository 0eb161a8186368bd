//! Replica counts, autoscaling and disruption budgets.

use super::DEFAULT_CPU_TARGET;
use crate::diag::{Code, Diagnostic};
use crate::input;
use crate::node::de::Spanned;
use crate::source::Sources;

#[derive(Debug, PartialEq, Eq)]
pub enum Replicas {
    Fixed(i32),
    Auto { min: i32, max: i32, cpu_target: i32 },
}

#[derive(Debug)]
pub enum Disruption {
    MinAvailable(IntOrPercent),
    MaxUnavailable(IntOrPercent),
}

/// A number of pods, or a percentage of them (`"25%"`).
#[derive(Debug, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i32),
    Percent(String),
}

impl From<&input::IntOrPercent> for IntOrPercent {
    fn from(raw: &input::IntOrPercent) -> Self {
        match raw {
            input::IntOrPercent::Int(n) => IntOrPercent::Int(*n),
            input::IntOrPercent::Percent(p) => IntOrPercent::Percent(p.clone()),
        }
    }
}

pub(super) fn replicas(
    raw: &input::Blueprint,
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) -> Replicas {
    let scaling = raw.scaling.as_ref();
    let min = scaling.and_then(|s| s.min_replicas);
    let max = scaling.and_then(|s| s.max_replicas);
    let cpu_target = scaling
        .and_then(|s| s.target_cpu_utilization)
        .unwrap_or(DEFAULT_CPU_TARGET);
    match (min, max) {
        (Some(min), Some(max)) if min.value > max.value => {
            diags.push(
                Diagnostic::error(
                    Code::REPLICAS_OUT_OF_ORDER,
                    min.span,
                    format!(
                        "minReplicas ({}, from {}) is greater than maxReplicas ({}, from {})",
                        min.value,
                        sources.locate(min.span),
                        max.value,
                        sources.locate(max.span)
                    ),
                )
                .with_label("minReplicas set here")
                .with_related(max.span, "maxReplicas set here")
                .with_hint("raise maxReplicas or lower minReplicas in the overlay that sets it"),
            );
            Replicas::Fixed(min.value)
        }
        (Some(min), Some(max)) if min.value < max.value => Replicas::Auto {
            min: min.value,
            max: max.value,
            cpu_target,
        },
        (None, Some(max)) if max.value > 1 => Replicas::Auto {
            min: 1,
            max: max.value,
            cpu_target,
        },
        (Some(n), _) | (None, Some(n)) => Replicas::Fixed(n.value),
        (None, None) => Replicas::Fixed(1),
    }
}

/// CPU-utilization autoscaling is blind without CPU requests on every container.
pub(super) fn check_cpu_requests(
    raw: &input::Blueprint,
    replicas: &Replicas,
    diags: &mut Vec<Diagnostic>,
) {
    if !matches!(replicas, Replicas::Auto { .. }) {
        return;
    }
    for (name, container) in &raw.containers {
        let has_cpu = container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .is_some_and(|r| r.cpu.is_some());
        if !has_cpu {
            diags.push(
                Diagnostic::error(Code::AUTOSCALING_WITHOUT_CPU_REQUEST, container.image.span, format!("container `{name}` has no CPU request, but the service autoscales on CPU"))
                    .with_hint("set `resources.requests.cpu` on every container, or make the service fixed-size (minReplicas == maxReplicas)"),
            );
        }
    }
}

/// The number of a percentage (`"25%"`), which the schema has checked is
/// digits and `%`.
fn percent(text: &str) -> Option<u64> {
    text.strip_suffix('%')?.parse().ok()
}

/// A disruption budget's percentage may not pass 100% (kubernetes
/// `pkg/apis/policy/validation` `ValidatePodDisruptionBudgetSpec`:
/// `IsNotMoreThan100Percent`, "must not be greater than 100%").
fn check_percent(field: &str, value: &Spanned<input::IntOrPercent>, diags: &mut Vec<Diagnostic>) {
    if let input::IntOrPercent::Percent(p) = &value.value {
        if percent(p).is_none_or(|n| n > 100) {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_VALUE,
                    value.span,
                    format!("`{field}` is `{p}`; Kubernetes refuses a percentage over 100%"),
                )
                .with_hint("a disruption budget's percentage is of the service's pods: 0% to 100%"),
            );
        }
    }
}

pub(super) fn disruption(
    raw: &input::Blueprint,
    replicas: &Replicas,
    diags: &mut Vec<Diagnostic>,
) -> Option<Disruption> {
    let availability = raw.availability.as_ref()?;
    let fields = [
        ("minAvailable", &availability.min_available),
        ("maxUnavailable", &availability.max_unavailable),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            check_percent(field, value, diags);
        }
    }
    match (&availability.min_available, &availability.max_unavailable) {
        (Some(min), Some(max)) => {
            diags.push(
                Diagnostic::error(
                    Code::AVAILABILITY_CONFLICT,
                    min.span,
                    "`availability` sets both `minAvailable` and `maxUnavailable` after merging",
                )
                .with_related(max.span, "maxUnavailable set here")
                .with_hint(
                    "set the one you do not want to `null` in the overlay that adds the other",
                ),
            );
            None
        }
        (Some(min), None) => {
            let lowest = match replicas {
                Replicas::Fixed(n) | Replicas::Auto { min: n, .. } => *n,
            };
            let value = IntOrPercent::from(&min.value);
            let blocks = match &value {
                IntOrPercent::Int(m) => *m >= lowest,
                IntOrPercent::Percent(p) => percent(p).is_some_and(|p| p >= 100),
            };
            if blocks {
                diags.push(
                    Diagnostic::warning(Code::DRAIN_BLOCKED, min.span, format!("`minAvailable` leaves no pod to evict at {lowest} replica(s): node drains will block"))
                    .with_hint(if lowest > 1 {
                        format!("lower `minAvailable` below {lowest}, or use `maxUnavailable: 1`")
                    } else {
                        "one replica cannot be both protected and evicted: run 2 or more, or use `maxUnavailable: 1`".to_owned()
                    }),
                );
            }
            Some(Disruption::MinAvailable(value))
        }
        (None, Some(max)) => Some(Disruption::MaxUnavailable(IntOrPercent::from(&max.value))),
        (None, None) => None,
    }
}
