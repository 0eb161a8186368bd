//! The parsed YAML tree: every node keeps its span and, for scalars, the
//! exact text the user wrote.
//!
//! Scalars are typed by the YAML 1.2 core schema (`no` is a string), and the
//! original text is kept, so `variables` can render `1.10` as written.

pub mod de;
pub mod json;
pub mod path;

use crate::source::Span;

#[derive(Clone, Debug)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

#[derive(Clone, Debug)]
pub struct Scalar {
    /// The text as written (after YAML unescaping of quoted styles).
    pub text: String,
    pub kind: ScalarKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScalarKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar(s) if s.kind == ScalarKind::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) if s.kind == ScalarKind::Str => Some(&s.text),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar(s) => match s.kind {
                ScalarKind::Bool(b) => Some(b),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under `key`, if this is a map that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    /// Follow a path of map keys and sequence indices (a JSON pointer, split).
    /// Returns the deepest node reached and, if the last step named a map key,
    /// that entry's key span.
    pub fn locate<'a>(&self, path: impl IntoIterator<Item = &'a str>) -> (&Node, Option<Span>) {
        let mut node = self;
        let mut key_span = None;
        for step in path {
            let next = match &node.value {
                Value::Map(entries) => entries.iter().find(|e| e.key == step).map(|e| {
                    key_span = Some(e.key_span);
                    &e.value
                }),
                Value::Seq(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
                Value::Scalar(_) => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        (node, key_span)
    }

    /// The JSON value the schema validator sees.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Scalar(s) => match s.kind {
                ScalarKind::Null => J::Null,
                ScalarKind::Bool(b) => J::Bool(b),
                ScalarKind::Int(i) => J::from(i),
                ScalarKind::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
                ScalarKind::Str => J::String(s.text.clone()),
            },
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Number of nodes in this tree, keys included.
    pub fn size(&self) -> usize {
        1 + match &self.value {
            Value::Scalar(_) => 0,
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|e| 1 + e.value.size()).sum(),
        }
    }
}

impl ScalarKind {
    /// Type a plain (unquoted) scalar by the YAML 1.2 core schema.
    pub fn of_plain(text: &str) -> Self {
        // Most plain scalars are words: only these can start anything else.
        let first = text.as_bytes().first().copied().unwrap_or_default();
        if !matches!(
            first,
            0 | b'0'..=b'9' | b'+' | b'-' | b'.' | b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F'
        ) {
            return Self::Str;
        }
        match text {
            "" | "~" | "null" | "Null" | "NULL" => return Self::Null,
            "true" | "True" | "TRUE" => return Self::Bool(true),
            "false" | "False" | "FALSE" => return Self::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
                return Self::Float(f64::INFINITY);
            }
            "-.inf" | "-.Inf" | "-.INF" => return Self::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => return Self::Float(f64::NAN),
            _ => {}
        }
        if let Some(int) = parse_int(text) {
            return int;
        }
        if is_float(text) {
            if let Ok(f) = text.parse::<f64>() {
                return Self::Float(f);
            }
        }
        Self::Str
    }

    pub fn type_name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "boolean",
            Self::Int(_) => "integer",
            Self::Float(_) => "number",
            Self::Str => "string",
        }
    }
}

fn parse_int(text: &str) -> Option<ScalarKind> {
    let (radix, digits) = if let Some(oct) = text.strip_prefix("0o") {
        (8, oct)
    } else if let Some(hex) = text.strip_prefix("0x") {
        (16, hex)
    } else {
        let body = text.strip_prefix(['-', '+']).unwrap_or(text);
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return Some(text.parse::<i64>().map_or_else(
            |_| ScalarKind::Float(text.parse().unwrap_or(f64::NAN)),
            ScalarKind::Int,
        ));
    };
    i64::from_str_radix(digits, radix).ok().map(ScalarKind::Int)
}

fn is_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok && (mantissa.contains('.') || exponent.is_some())
}

/// A plain scalar that YAML 1.1 and YAML 1.2 readers disagree on as a number
/// (`0755`: octal 493 in 1.1, decimal 755 in 1.2).
pub fn is_ambiguous_octal(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_follow_yaml_1_2_core() {
        assert_eq!(ScalarKind::of_plain("no"), ScalarKind::Str);
        assert_eq!(ScalarKind::of_plain("yes"), ScalarKind::Str);
        assert_eq!(ScalarKind::of_plain("on"), ScalarKind::Str);
        assert_eq!(ScalarKind::of_plain("false"), ScalarKind::Bool(false));
        assert_eq!(ScalarKind::of_plain("~"), ScalarKind::Null);
        assert_eq!(ScalarKind::of_plain("8080"), ScalarKind::Int(8080));
        assert_eq!(ScalarKind::of_plain("-3"), ScalarKind::Int(-3));
        assert_eq!(ScalarKind::of_plain("0x1F"), ScalarKind::Int(31));
        assert_eq!(ScalarKind::of_plain("1.10"), ScalarKind::Float(1.1));
        assert_eq!(ScalarKind::of_plain("1e3"), ScalarKind::Float(1000.0));
        assert_eq!(ScalarKind::of_plain("250m"), ScalarKind::Str);
        assert_eq!(ScalarKind::of_plain("1.2.3"), ScalarKind::Str);
        assert_eq!(ScalarKind::of_plain("."), ScalarKind::Str);
        assert_eq!(ScalarKind::of_plain("2024-01-01"), ScalarKind::Str);
    }

    #[test]
    fn leading_zero_integers_are_ambiguous() {
        assert!(is_ambiguous_octal("0755"));
        assert!(is_ambiguous_octal("-007"));
        assert!(!is_ambiguous_octal("0"));
        assert!(!is_ambiguous_octal("755"));
        assert!(!is_ambiguous_octal("0.5"));
    }
}
