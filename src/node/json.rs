//! The tree as an instance of the JSON Schema validator (`jsonschema`'s
//! `Json` representation), so schema checks read the nodes themselves
//! instead of a `serde_json` copy of each tree.
//!
//! It answers exactly as [`Node::to_json`] would: the same types, numbers
//! and member order; `.inf` and `.nan`, which JSON cannot hold, are null.

use std::borrow::Cow;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, Node as JsonNode, NodeIdentity, Object};
use serde_json::{Number, Value as JsonValue};

use super::{Entry, Node, Scalar, ScalarKind, Value};
use crate::source::{FileId, Span};

/// The representation: instances are `&Node`.
pub struct Tree;

impl Json for Tree {
    type Node<'a> = &'a Node;
    type PreparedKey = String;
    /// Holds the name node `propertyNames` checks.
    type StringBuffer = Option<Node>;

    // Maps are vectors searched linearly: one pass over the members beats
    // a lookup per required name once there are two of them.
    const KEYS_PER_LOOKUP: usize = 2;
    // A tree: no node is its own descendant.
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    /// A name is in no file: the validator reports paths, not spans.
    fn with_string_node<T>(
        buffer: &mut Option<Node>,
        string: &str,
        f: impl FnOnce(&Node) -> T,
    ) -> T {
        f(buffer.insert(Node {
            span: Span {
                file: FileId(0),
                start: 0,
                end: 0,
            },
            value: Value::Scalar(Scalar {
                text: string.to_owned(),
                kind: ScalarKind::Str,
            }),
        }))
    }
}

impl Node {
    /// The scalar's JSON number, if it is one JSON can hold.
    fn number(&self) -> Option<Number> {
        match &self.value {
            Value::Scalar(s) => match s.kind {
                ScalarKind::Int(i) => Some(Number::from(i)),
                ScalarKind::Float(f) => Number::from_f64(f),
                _ => None,
            },
            _ => None,
        }
    }
}

impl<'a> JsonNode<'a, Tree> for &'a Node {
    type Object = &'a [Entry];
    type Array = &'a [Node];
    type Number = Number;

    fn as_object(&self) -> Option<&'a [Entry]> {
        self.as_map()
    }

    fn as_array(&self) -> Option<&'a [Node]> {
        self.as_seq()
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        Node::as_str(self).map(Cow::Borrowed)
    }

    fn as_number(&self) -> Option<Number> {
        self.number()
    }

    fn as_boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn is_null(&self) -> bool {
        self.json_type() == JsonType::Null
    }

    fn json_type(&self) -> JsonType {
        match &self.value {
            Value::Map(_) => JsonType::Object,
            Value::Seq(_) => JsonType::Array,
            Value::Scalar(s) => match s.kind {
                ScalarKind::Str => JsonType::String,
                ScalarKind::Bool(_) => JsonType::Boolean,
                ScalarKind::Int(_) => JsonType::Number,
                ScalarKind::Float(f) if f.is_finite() => JsonType::Number,
                ScalarKind::Float(_) | ScalarKind::Null => JsonType::Null,
            },
        }
    }

    /// `enum` and `const` compare strings without building a JSON value.
    fn equals_value(&self, expected: &JsonValue) -> bool {
        match Node::as_str(self) {
            Some(text) => expected.as_str() == Some(text),
            None => jsonschema::json::cmp::equal(&self.to_json(), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, JsonValue> {
        Cow::Owned(self.to_json())
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Node>(self) as usize))
    }
}

impl<'a> Object<'a, Tree> for &'a [Entry] {
    type Node = &'a Node;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        <[Entry]>::len(self)
    }

    fn get(&self, key: &String) -> Option<&'a Node> {
        self.iter().find(|e| e.key == *key).map(|e| &e.value)
    }

    fn members(&self) -> Members<'a> {
        Members(self.iter())
    }
}

/// A map's entries as (name, value) pairs.
pub struct Members<'a>(std::slice::Iter<'a, Entry>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|e| (e.key.as_str(), &e.value))
    }
}

impl<'a> Array<'a, Tree> for &'a [Node] {
    type Node = &'a Node;
    type ElementsIter = std::slice::Iter<'a, Node>;

    fn len(&self) -> usize {
        <[Node]>::len(self)
    }

    fn elements(&self) -> std::slice::Iter<'a, Node> {
        self.iter()
    }
}
