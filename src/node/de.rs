//! A serde `Deserializer` over [`Node`], so the raw input types in
//! `crate::input` are plain `#[derive(Deserialize)]` structs, and a
//! [`Spanned`] wrapper that keeps the span of any value.
//!
//! Asked for a string, any scalar yields the text as written: this is how
//! `variables: {DEBUG: no, VERSION: 1.10}` stay `"no"` and `"1.10"`.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{Entry, Node, ScalarKind, Value};
use crate::source::{FileId, Span};

/// A deserialization error, at the node where it happened.
#[derive(Debug)]
pub struct Error {
    pub span: Option<Span>,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            span: None,
            message: msg.to_string(),
        }
    }
}

/// Deserialize a `T` from a node tree.
pub fn from_node<'de, T: Deserialize<'de>>(node: &'de Node) -> Result<T, Error> {
    T::deserialize(node)
}

/// A value together with the span it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Spanned<T> {
    pub span: Span,
    pub value: T,
}

const SPANNED: &str = "$slipway::Spanned";
const SPANNED_FIELDS: &[&str] = &["$file", "$start", "$end", "$value"];

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value with a source span")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let mut next_u32 = |name: &str| -> Result<u32, A::Error> {
                    match map.next_key::<String>()? {
                        Some(key) if key == name => map.next_value(),
                        _ => Err(de::Error::custom("Spanned needs the slipway deserializer")),
                    }
                };
                let (file, start, end) =
                    (next_u32("$file")?, next_u32("$start")?, next_u32("$end")?);
                let value = match map.next_key::<String>()? {
                    Some(_) => map.next_value()?,
                    None => {
                        return Err(de::Error::custom("Spanned needs the slipway deserializer"));
                    }
                };
                Ok(Spanned {
                    span: Span {
                        file: FileId(file),
                        start,
                        end,
                    },
                    value,
                })
            }
        }
        deserializer.deserialize_struct(
            SPANNED,
            SPANNED_FIELDS,
            SpannedVisitor(std::marker::PhantomData),
        )
    }
}

impl Node {
    fn error(&self, message: impl fmt::Display) -> Error {
        Error {
            span: Some(self.span),
            message: message.to_string(),
        }
    }

    fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar(s) => s.kind.type_name(),
            Value::Seq(_) => "list",
            Value::Map(_) => "map",
        }
    }

    fn mismatch(&self, expected: &str) -> Error {
        self.error(format!("expected {expected}, found {}", self.kind_name()))
    }
}

/// Errors from nested nodes keep their span; others get this node's.
fn at(node: &Node, mut error: Error) -> Error {
    error.span.get_or_insert(node.span);
    error
}

impl<'de> Deserializer<'de> for &'de Node {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.value {
            Value::Scalar(s) => match s.kind {
                ScalarKind::Null => visitor.visit_unit(),
                ScalarKind::Bool(b) => visitor.visit_bool(b),
                ScalarKind::Int(i) => visitor.visit_i64(i),
                ScalarKind::Float(f) => visitor.visit_f64(f),
                ScalarKind::Str => visitor.visit_borrowed_str(&s.text),
            },
            Value::Seq(items) => visitor.visit_seq(Seq(items.iter())),
            Value::Map(entries) => visitor.visit_map(Map {
                entries: entries.iter(),
                value: None,
            }),
        }
        .map_err(|e| at(self, e))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.value {
            Value::Scalar(s) if s.kind != ScalarKind::Null => visitor.visit_borrowed_str(&s.text),
            _ => Err(self.mismatch("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED {
            return visitor.visit_map(SpannedAccess {
                node: self,
                step: 0,
            });
        }
        match &self.value {
            Value::Map(_) => self.deserialize_any(visitor),
            _ => Err(self.mismatch(&format!("a map with fields {}", fields.join(", ")))),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.value {
            Value::Map(_) => self.deserialize_any(visitor),
            _ => Err(self.mismatch("a map")),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.value {
            Value::Seq(_) => self.deserialize_any(visitor),
            _ => Err(self.mismatch("a list")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.value {
            Value::Scalar(s) => visitor
                .visit_enum(s.text.as_str().into_deserializer())
                .map_err(|e: Error| at(self, e)),
            _ => Err(self.mismatch("one of the listed names")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf unit unit_struct tuple tuple_struct identifier ignored_any
    }
}

struct Seq<'de>(std::slice::Iter<'de, Node>);

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0.next().map(|node| seed.deserialize(node)).transpose()
    }
}

struct Map<'de> {
    entries: std::slice::Iter<'de, Entry>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(&entry.value);
        let key = de::value::BorrowedStrDeserializer::<Error>::new(&entry.key);
        seed.deserialize(key).map(Some).map_err(|mut e| {
            e.span.get_or_insert(entry.key_span);
            e
        })
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(node) => seed.deserialize(node),
            None => Err(de::Error::custom("value without a key")),
        }
    }
}

/// Feeds a [`Spanned`] its file, start, end and then the value itself.
struct SpannedAccess<'de> {
    node: &'de Node,
    step: usize,
}

impl<'de> MapAccess<'de> for SpannedAccess<'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(name) = SPANNED_FIELDS.get(self.step) else {
            return Ok(None);
        };
        seed.deserialize(de::value::BorrowedStrDeserializer::new(name))
            .map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let span = self.node.span;
        self.step += 1;
        match self.step {
            1 => seed.deserialize(span.file.0.into_deserializer()),
            2 => seed.deserialize(span.start.into_deserializer()),
            3 => seed.deserialize(span.end.into_deserializer()),
            _ => seed.deserialize(self.node),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::parse::parse;
    use crate::source::Sources;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Probe {
        name: Spanned<String>,
        count: Option<u32>,
        vars: BTreeMap<String, String>,
    }

    #[test]
    fn strings_keep_their_text_and_spans_survive() {
        let mut sources = Sources::default();
        let id = sources.add(
            "t.yaml".into(),
            "t.yaml".into(),
            "name: web\ncount: 3\nvars: {A: no, B: 1.10, C: 8080}\n".into(),
        );
        let node = parse(sources.get(id), id).expect("parses");
        let probe: Probe = from_node(&node).expect("deserializes");
        assert_eq!(probe.name.value, "web");
        assert_eq!(sources.locate(probe.name.span), "t.yaml:1:7");
        assert_eq!(probe.count, Some(3));
        assert_eq!(probe.vars["A"], "no");
        assert_eq!(probe.vars["B"], "1.10");
        assert_eq!(probe.vars["C"], "8080");
    }

    #[test]
    fn errors_point_at_the_offending_node() {
        let mut sources = Sources::default();
        let id = sources.add(
            "t.yaml".into(),
            "t.yaml".into(),
            "name: web\ncount: many\nvars: {}\n".into(),
        );
        let node = parse(sources.get(id), id).expect("parses");
        let err = from_node::<Probe>(&node).expect_err("count is not a number");
        assert_eq!(sources.locate(err.span.expect("span")), "t.yaml:2:8");
    }
}
