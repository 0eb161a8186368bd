//! How Filebeat reads a service's logs: the settings its hints-based
//! autodiscover takes from pod annotations, and the one rule on them that
//! needs more than the schema, a multiline pattern Go's `regexp` compiles.

use crate::diag::{Code, Diagnostic};
use crate::go_regexp;
use crate::input;

/// A blueprint's `logging`, defaults applied.
#[derive(Debug)]
pub struct Logging {
    /// false: Filebeat ships none of the pod's logs.
    pub enabled: bool,
    pub format: LogFormat,
    pub multiline: Option<Multiline>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// One JSON object per line.
    Json,
}

/// Lines that make one event: Filebeat's `multiline` settings.
#[derive(Debug)]
pub struct Multiline {
    pub pattern: String,
    pub negate: bool,
    pub match_: MultilineMatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MultilineMatch {
    After,
    Before,
}

impl MultilineMatch {
    /// As Filebeat spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            MultilineMatch::After => "after",
            MultilineMatch::Before => "before",
        }
    }
}

pub(super) fn logging(raw: &input::Blueprint, diags: &mut Vec<Diagnostic>) -> Option<Logging> {
    let raw = raw.logging.as_ref()?;
    let multiline = raw.multiline.as_ref().and_then(|m| {
        if let Err(reason) = go_regexp::check(&m.pattern.value) {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_PATTERN,
                    m.pattern.span,
                    format!("multiline pattern `{}` {reason}", m.pattern.value),
                )
                .with_label("Filebeat compiles this with Go's regexp")
                .with_hint("write the pattern in Go's RE2 syntax (https://pkg.go.dev/regexp/syntax), e.g. '^\\[' or '^[0-9]{4}-'"),
            );
            return None;
        }
        Some(Multiline {
            pattern: m.pattern.value.clone(),
            negate: m.negate.unwrap_or(false),
            match_: match m.match_ {
                input::MultilineMatch::After => MultilineMatch::After,
                input::MultilineMatch::Before => MultilineMatch::Before,
            },
        })
    });
    Some(Logging {
        enabled: raw.enabled.unwrap_or(true),
        format: match raw.format {
            Some(input::LogFormat::Json) => LogFormat::Json,
            Some(input::LogFormat::Text) | None => LogFormat::Text,
        },
        multiline,
    })
}
