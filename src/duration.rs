//! Durations, as each consumer of a rendered duration reads it. The input
//! writes durations as Go does (`500ms`, `30s`, `1.5m`, `1h30m`; the
//! schema's `Duration` pattern); what a consumer accepts of those differs,
//! so each field's schema names its consumer's grammar as a `format`
//! (`schemas/blueprint.schema.json`), checked by [`Grammar::check`] on
//! every file and again on every merged service.

use std::time::Duration;

/// The rule one consumer applies to a duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grammar {
    /// Istio's `google.protobuf.Duration` fields (fault `fixedDelay`, route
    /// `timeout` and `perTryTimeout`, outlier detection `interval` and
    /// `baseEjectionTime`, TCP `connectTimeout`). The CRDs parse them as Go
    /// durations (`time.ParseDuration`: istio/api#852 shows its error) and
    /// refuse less than a millisecond (`duration(self) >= duration('1ms')`
    /// in `manifests/charts/base/files/crd-all.gen.yaml`); istiod's webhook
    /// also refuses what is not a whole number of milliseconds
    /// (`ValidateDuration`, `pkg/config/validation/agent/validation.go`).
    Istio,
    /// A canary step's `pause` in Argo Rollouts: `RolloutPause.DurationSeconds`
    /// (`pkg/apis/rollouts/v1alpha1/types.go`) parses a Go duration and
    /// truncates it to whole seconds in an int32, so `500ms` would not pause
    /// at all and `1.5s` would pause 1s.
    Pause,
    /// A canary analysis' `interval` and `scrapeInterval`. Argo Rollouts
    /// reads the interval as a Go duration; slipway writes the query window
    /// (at least the interval and four scrapes) into PromQL, whose range
    /// durations count whole milliseconds (`model.ParseDuration` in
    /// prometheus/common), and an empty window selects nothing.
    Analysis,
    /// The Prometheus Operator's `Duration` (`monitoring.coreos.com/v1`,
    /// pattern `^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`):
    /// whole numbers, each unit at most once, largest first.
    Prometheus,
    /// An ExternalSecret's `refreshInterval`: a `metav1.Duration`
    /// (external-secrets `apis/externalsecrets/v1/externalsecret_types.go`),
    /// which the operator decodes with Go's `time.ParseDuration`; `0s`
    /// fetches once and never refreshes (`getRequeueResult` in
    /// `pkg/controllers/externalsecret/externalsecret_controller.go`). A
    /// text Go cannot read makes the object undecodable for the operator.
    ExternalSecrets,
}

/// Why a consumer refuses a duration, and how to write it instead.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub why: String,
    pub hint: &'static str,
}

impl Grammar {
    pub const ALL: [Grammar; 5] = [
        Grammar::Istio,
        Grammar::Pause,
        Grammar::Analysis,
        Grammar::Prometheus,
        Grammar::ExternalSecrets,
    ];

    /// The schema's `format` naming this grammar.
    pub fn format(self) -> &'static str {
        match self {
            Grammar::Istio => "duration-istio",
            Grammar::Pause => "duration-pause",
            Grammar::Analysis => "duration-analysis",
            Grammar::Prometheus => "duration-prometheus",
            Grammar::ExternalSecrets => "duration-external-secrets",
        }
    }

    pub fn from_format(format: &str) -> Option<Grammar> {
        Grammar::ALL.into_iter().find(|g| g.format() == format)
    }

    /// Does the consumer accept `text`? Text that is not a duration at all
    /// passes: the schema's `Duration` pattern reports it once.
    pub fn check(self, text: &str) -> Result<(), Refusal> {
        if self == Grammar::Prometheus {
            return prometheus(text);
        }
        let length = match parse(text) {
            Ok(length) => length,
            Err(Unreadable::Syntax) => return Ok(()),
            Err(Unreadable::Overflow) => {
                return Err(Refusal {
                    why: "is longer than a Go duration can be (about 292 years)".into(),
                    hint: "write a shorter duration",
                });
            }
        };
        match self {
            Grammar::Istio => whole_millis(
                length,
                "is shorter than 1ms, the least Istio accepts",
                "is not a whole number of milliseconds, which Istio needs",
            ),
            Grammar::Analysis => whole_millis(
                length,
                "is shorter than 1ms, the least a PromQL query window counts",
                "is not a whole number of milliseconds, which the PromQL query window needs",
            ),
            Grammar::Pause => pause(length),
            Grammar::Prometheus | Grammar::ExternalSecrets => Ok(()),
        }
    }
}

/// At least a millisecond, in whole milliseconds.
fn whole_millis(length: Duration, short: &str, fraction: &str) -> Result<(), Refusal> {
    let hint = "write whole milliseconds, at least one, such as `250ms`, `5s` or `1m30s`";
    let why = if length < Duration::from_millis(1) {
        short
    } else if length.subsec_nanos() % 1_000_000 != 0 {
        fraction
    } else {
        return Ok(());
    };
    Err(Refusal {
        why: why.into(),
        hint,
    })
}

fn pause(length: Duration) -> Result<(), Refusal> {
    let hint = "write whole seconds, such as `30s`, `5m` or `1h`";
    if length < Duration::from_secs(1) {
        return Err(Refusal {
            why: "is shorter than a second: Argo Rollouts counts pauses in whole seconds, so this step would not pause".into(),
            hint,
        });
    }
    if length.subsec_nanos() != 0 {
        return Err(Refusal {
            why: format!(
                "is not a whole number of seconds: Argo Rollouts drops the fraction and pauses {}s",
                length.as_secs()
            ),
            hint,
        });
    }
    if length.as_secs() > i32::MAX as u64 {
        return Err(Refusal {
            why: "is longer than Argo Rollouts' longest pause (2147483647 seconds)".into(),
            hint: "write a shorter pause, or remove `pause`'s duration step for an indefinite one",
        });
    }
    Ok(())
}

fn prometheus(text: &str) -> Result<(), Refusal> {
    if is_prometheus(text) {
        return Ok(());
    }
    Err(Refusal {
        why: "is not a Prometheus duration; the Prometheus Operator refuses the monitor".into(),
        hint: "write whole numbers of units, largest first: `30s`, `1m`, `1m30s` (no fractions)",
    })
}

/// Why a text is not a duration.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Not of the schema's form.
    Syntax,
    /// Longer than Go's `time.Duration` (2^63 - 1 nanoseconds), which
    /// `time.ParseDuration` refuses.
    Overflow,
}

/// A duration of the schema's form (`500ms`, `1.5m`, `1h30m`), read as Go's
/// `time.ParseDuration` reads it: exactly, fractions truncated to the
/// nanosecond.
pub fn parse(text: &str) -> Result<Duration, Unreadable> {
    const UNITS: [(&str, u128); 4] = [
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    if text.is_empty() {
        return Err(Unreadable::Syntax);
    }
    let mut rest = text;
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let valid = |digits: &str| digits.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !valid(fraction) || (number.contains('.') && fraction.is_empty()) {
            return Err(Unreadable::Syntax);
        }
        let (unit, size) = UNITS
            .iter()
            .find(|(unit, _)| tail.starts_with(unit))
            .ok_or(Unreadable::Syntax)?;
        nanos = nanos.saturating_add(scaled(whole, fraction, *size));
        rest = &tail[unit.len()..];
    }
    if nanos > i64::MAX as u128 {
        return Err(Unreadable::Overflow);
    }
    let seconds = (nanos / 1_000_000_000) as u64;
    Ok(Duration::new(seconds, (nanos % 1_000_000_000) as u32))
}

/// `whole.fraction` units of `size` nanoseconds, truncated, saturating.
fn scaled(whole: &str, fraction: &str, size: u128) -> u128 {
    let mut total: u128 = 0;
    for digit in whole.bytes() {
        total = total
            .saturating_mul(10)
            .saturating_add(u128::from(digit - b'0'));
    }
    total = total.saturating_mul(size);
    // More digits than a nanosecond resolves change nothing (Go stops too).
    let mut scale = size;
    for digit in fraction.bytes() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        total = total.saturating_add(u128::from(digit - b'0') * scale);
    }
    total
}

fn is_prometheus(text: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> Option<u128> {
        parse(text).ok().map(|d| d.as_millis())
    }

    #[test]
    fn durations_read_as_go_reads_them() {
        assert_eq!(ms("30s"), Some(30_000));
        assert_eq!(ms("1m"), Some(60_000));
        assert_eq!(ms("1.5m"), Some(90_000));
        assert_eq!(ms("1h30m"), Some(5_400_000));
        assert_eq!(ms("500ms"), Some(500));
        assert_eq!(ms("1m500ms"), Some(60_500));
        assert_eq!(parse("0.0000005ms"), Ok(Duration::ZERO));
        assert_eq!(parse("1.000000001s"), Ok(Duration::new(1, 1)));
        for invalid in [
            "", "1", "m", "1d", "1m 2s", "{{ x }}", ".5s", "1.s", "1..2s",
        ] {
            assert_eq!(parse(invalid), Err(Unreadable::Syntax), "{invalid}");
        }
        assert_eq!(parse("2562047h"), Ok(Duration::from_secs(2_562_047 * 3600)));
        assert_eq!(parse("2562048h"), Err(Unreadable::Overflow));
        assert_eq!(
            parse("99999999999999999999999999999999999999999h"),
            Err(Unreadable::Overflow)
        );
    }

    #[test]
    fn istio_takes_whole_milliseconds_from_one() {
        for ok in ["1ms", "5s", "1.5s", "1.5m", "0.001s"] {
            assert_eq!(Grammar::Istio.check(ok), Ok(()), "{ok}");
        }
        for bad in ["0s", "0.5ms", "1.0005s", "0ms", "3000000h"] {
            assert!(Grammar::Istio.check(bad).is_err(), "{bad}");
        }
        // Not a duration at all: the pattern's error, not this one.
        assert_eq!(Grammar::Istio.check("soon"), Ok(()));
    }

    #[test]
    fn pauses_are_whole_seconds() {
        for ok in ["1s", "30s", "1.5m", "1h", "68h"] {
            assert_eq!(Grammar::Pause.check(ok), Ok(()), "{ok}");
        }
        let refused = |text| Grammar::Pause.check(text).unwrap_err().why;
        assert!(refused("500ms").contains("would not pause"));
        assert!(refused("1.5s").contains("pauses 1s"));
        assert!(refused("600000h").contains("longest pause"));
    }

    #[test]
    fn analysis_windows_are_whole_milliseconds() {
        assert_eq!(Grammar::Analysis.check("1m"), Ok(()));
        assert!(Grammar::Analysis.check("0s").is_err());
        assert!(Grammar::Analysis.check("0.5ms").is_err());
    }

    #[test]
    fn external_secrets_read_any_go_duration() {
        for ok in ["0s", "1h", "1.5m", "500ms", "2562047h"] {
            assert_eq!(Grammar::ExternalSecrets.check(ok), Ok(()), "{ok}");
        }
        assert!(Grammar::ExternalSecrets.check("2562048h").is_err());
    }

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
            assert_eq!(Grammar::Prometheus.check(ok), Ok(()), "{ok}");
        }
        for bad in ["", "1.5m", "30s1m", "1m1m", "m", "10", "1 m", "1M", "-1s"] {
            assert!(Grammar::Prometheus.check(bad).is_err(), "{bad}");
        }
    }
}
