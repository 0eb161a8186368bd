//! Edits of an input file as text, in place: a string is set at a path of
//! map keys by replacing exactly the bytes of its scalar, or, where keys
//! are missing, by inserting them (a block of lines at the mapping's
//! indentation, or `, key: value` inside a flow mapping). Every other byte
//! stays as it was: comments, order, blank lines, quoting, line endings.
//!
//! Each edit is checked by parsing the new text again: the tree must be
//! the old one with exactly that value set, or the edit is refused (a
//! value shared through an anchor, a form this module does not write
//! into). `set-image` uses it; what the edited project compiles to is the
//! pipeline's to check.

use std::ops::Range;

use serde_json::Value as Json;

use crate::diag::{Code, Diagnostic};
use crate::node::{Entry, Node, ScalarKind, Value};
use crate::parse::parse;
use crate::source::{FileId, SourceFile, Span};

/// What setting a value did to a file's text.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The file sets the path to that value already (at this span).
    Unchanged(Span),
    Changed(Edit),
}

/// A file's new text.
#[derive(Debug, PartialEq, Eq)]
pub struct Edit {
    pub text: String,
    /// Where the value is in the new text: its node's span there.
    pub at: Range<usize>,
    /// The value it replaced, if the path was set.
    pub old: Option<String>,
}

/// Set the string at `path` (map keys from the root) in `file` to `value`.
/// `Err` is a diagnostic in `file` (registered as `id`): the text does
/// not parse, a step of the path is not a mapping, or the edit cannot be
/// made without changing more than the value.
pub fn set_string(
    file: &SourceFile,
    id: FileId,
    path: &[&str],
    value: &str,
) -> Result<Outcome, Diagnostic> {
    let tree = parse(file, id)?;
    let expected = expected(&tree, path, value);
    let mut node = &tree;
    let mut key_span = None;
    let mut indents = Vec::new();
    for (depth, key) in path.iter().enumerate() {
        let Value::Map(entries) = &node.value else {
            return Err(not_a_map(node, &path[..depth], &path[depth..]));
        };
        if let Some(first) = entries.first() {
            indents.push(first.key_span);
        }
        match entries.iter().find(|e| e.key == *key) {
            Some(entry) => {
                node = &entry.value;
                key_span = Some(entry.key_span);
            }
            None => {
                let change = Insertion {
                    file,
                    map: node,
                    entries,
                    indents: &indents,
                    keys: &path[depth..],
                    value,
                };
                return change
                    .candidates()
                    .and_then(|candidates| {
                        first_valid(file, id, (path, &expected), candidates, None)
                    })
                    .map(Outcome::Changed)
                    .map_err(|error| error.at(node.span, &path[..depth]));
            }
        }
    }
    match &node.value {
        Value::Scalar(s) if s.kind == ScalarKind::Str && s.text == value => {
            Ok(Outcome::Unchanged(node.span))
        }
        Value::Scalar(s) if !s.text.is_empty() || s.kind != ScalarKind::Null => {
            let old = Some(s.text.clone());
            replacements(file, key_span, node.span, value)
                .and_then(|candidates| first_valid(file, id, (path, &expected), candidates, old))
                .map(Outcome::Changed)
                .map_err(|error| error.at(node.span, path))
        }
        _ => Err(not_a_map(node, path, &[])),
    }
}

/// Why an edit was refused, before it is placed in the file.
struct Refusal {
    message: String,
    label: &'static str,
    hint: &'static str,
}

impl Refusal {
    fn at(self, span: Span, path: &[&str]) -> Diagnostic {
        let at = if path.is_empty() {
            "the top level".to_owned()
        } else {
            format!("`{}`", path.join("."))
        };
        Diagnostic::error(
            Code::CANNOT_EDIT,
            span,
            format!("cannot edit {at} in place: {}", self.message),
        )
        .with_label(self.label)
        .with_hint(self.hint)
    }
}

const BY_HAND: &str = "make this change by hand";

/// A step of the path is not a mapping (a null that would remove the key,
/// a list, a scalar): nothing can be put under it without changing what it is.
fn not_a_map(node: &Node, at: &[&str], rest: &[&str]) -> Diagnostic {
    let what = match &node.value {
        Value::Scalar(s) if s.kind == ScalarKind::Null => "null",
        Value::Scalar(_) => "a scalar",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
    };
    let place = if at.is_empty() {
        "the file".to_owned()
    } else {
        format!("`{}`", at.join("."))
    };
    let message = if rest.is_empty() {
        format!("{place} is {what}, not a string")
    } else {
        format!(
            "{place} is {what}, so `{}` cannot be set under it",
            rest.join(".")
        )
    };
    Diagnostic::error(Code::CANNOT_EDIT, node.span, message)
        .with_label(format!("{what} here"))
        .with_hint("change it by hand: a null removes the key from the layers below, and only you can say whether it should")
}

/// The tree the edit must produce: the old one with the value set.
fn expected(tree: &Node, path: &[&str], value: &str) -> Json {
    let mut json = tree.to_json();
    set_json(&mut json, path, value);
    json
}

fn set_json(json: &mut Json, path: &[&str], value: &str) {
    let Some((key, rest)) = path.split_first() else {
        *json = Json::String(value.to_owned());
        return;
    };
    if !json.is_object() {
        *json = Json::Object(serde_json::Map::new());
    }
    if let Json::Object(map) = json {
        set_json(map.entry(*key).or_insert(Json::Null), rest, value);
    }
}

/// One way to write the change: `insert` replaces `range` of the text.
struct Candidate {
    range: Range<usize>,
    insert: String,
}

/// The first candidate whose text parses to the expected tree, with the
/// value's span in it (as the parser gives it, so as every later stage
/// names it).
fn first_valid(
    file: &SourceFile,
    id: FileId,
    (path, expected): (&[&str], &Json),
    candidates: Vec<Candidate>,
    old: Option<String>,
) -> Result<Edit, Refusal> {
    for candidate in candidates {
        let mut text = file.text.clone();
        text.replace_range(candidate.range, &candidate.insert);
        let edited = SourceFile::new(file.name.clone(), file.path.clone(), text);
        let Ok(tree) = parse(&edited, id) else {
            continue;
        };
        let value = path.iter().try_fold(&tree, |node, key| node.get(key));
        if let (Some(value), true) = (value, tree.to_json() == *expected) {
            let at = value.span.start as usize..value.span.end as usize;
            return Ok(Edit {
                text: edited.text,
                at,
                old,
            });
        }
    }
    Err(Refusal {
        message: "the edit would change other values too".into(),
        label: "shared through a YAML anchor or alias?",
        hint: "make this change by hand: a value under an anchor changes wherever its alias is used",
    })
}

/// Replacing a scalar (after `key`): in its own quoting style where that
/// can hold the value, else plain, else double-quoted.
fn replacements(
    file: &SourceFile,
    key: Option<Span>,
    span: Span,
    value: &str,
) -> Result<Vec<Candidate>, Refusal> {
    let text = &file.text;
    let range = span.start as usize..end_of(text, span);
    // A block scalar's span starts at its text, after the indicator.
    let before = key.map_or(0, |k| k.end as usize);
    let block = text[before..range.start].lines().any(|line| {
        line.split('#')
            .next()
            .is_some_and(|l| l.contains(['|', '>']))
    });
    if block {
        return Err(Refusal {
            message: "the value is a block scalar (`|` or `>`)".into(),
            label: "a block scalar",
            hint: "write the value on the key's line (`image: registry.example.com/team/app:1.2.3`), then run the command again",
        });
    }
    let styles: &[Style] = match text.as_bytes().get(range.start) {
        Some(b'"') => &[Style::Double],
        Some(b'\'') => &[Style::Single, Style::Double],
        _ => &[Style::Plain, Style::Double],
    };
    Ok(styles
        .iter()
        .map(|style| Candidate {
            range: range.clone(),
            insert: style.write(value),
        })
        .collect())
}

#[derive(Clone, Copy)]
enum Style {
    Plain,
    Single,
    Double,
}

impl Style {
    fn write(self, value: &str) -> String {
        match self {
            Style::Plain => value.to_owned(),
            Style::Single => format!("'{}'", value.replace('\'', "''")),
            Style::Double => {
                let mut out = String::from("\"");
                for c in value.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                        c => out.push(c),
                    }
                }
                out.push('"');
                out
            }
        }
    }
}

/// Keys missing under an existing mapping, to be inserted with the value.
struct Insertion<'a> {
    file: &'a SourceFile,
    map: &'a Node,
    entries: &'a [Entry],
    /// The first key of each block mapping on the way, outermost first
    /// (for the indentation step).
    indents: &'a [Span],
    keys: &'a [&'a str],
    value: &'a str,
}

impl Insertion<'_> {
    fn candidates(&self) -> Result<Vec<Candidate>, Refusal> {
        let text = &self.file.text;
        let start = self.map.span.start as usize;
        if text.as_bytes().get(start) == Some(&b'{') {
            return Ok(self.inside_flow());
        }
        // A block mapping has a first key (an empty one is written `{}`).
        let first = self.entries.first().ok_or_else(unclear_indentation)?;
        let indent = column(text, first.key_span).ok_or_else(unclear_indentation)?;
        let step = self.step().ok_or_else(unclear_indentation)?;
        let last = self
            .entries
            .last()
            .map_or(start, |e| end_of(text, e.value.span));
        let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
        // After the line holding the mapping's last value (and any comment
        // ending it), and the comment lines indented under that value.
        let mut at = if last == 0 || text[..last].ends_with('\n') {
            last
        } else {
            text[last..].find('\n').map_or(text.len(), |i| last + i + 1)
        };
        while let Some(line) = text[at..].split_inclusive('\n').next() {
            let body = line.trim_start_matches(' ');
            if !(body.starts_with('#') && line.len() - body.len() > indent) {
                break;
            }
            at += line.len();
        }
        let lead = if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
            eol
        } else {
            ""
        };
        let tail = if lead.is_empty() { eol } else { "" };
        Ok([Style::Plain, Style::Double]
            .iter()
            .map(|style| {
                let mut insert = lead.to_owned();
                for (depth, key) in self.keys.iter().enumerate() {
                    insert.push_str(&" ".repeat(indent + depth * step));
                    insert.push_str(key);
                    insert.push(':');
                    if depth + 1 < self.keys.len() {
                        insert.push_str(eol);
                    } else {
                        insert.push(' ');
                    }
                }
                insert.push_str(&style.write(self.value));
                insert.push_str(tail);
                Candidate {
                    range: at..at,
                    insert,
                }
            })
            .collect())
    }

    /// `, key: {key: value}` after the flow mapping's last value, or
    /// `key: ...` inside an empty one.
    fn inside_flow(&self) -> Vec<Candidate> {
        let (at, lead) = match self.entries.last() {
            None => (self.map.span.start as usize + 1, ""),
            Some(last) => (end_of(&self.file.text, last.value.span), ", "),
        };
        [Style::Plain, Style::Double]
            .iter()
            .map(|style| {
                let mut insert = lead.to_owned();
                for (depth, key) in self.keys.iter().enumerate() {
                    insert.push_str(key);
                    insert.push_str(": ");
                    if depth + 1 < self.keys.len() {
                        insert.push('{');
                    }
                }
                insert.push_str(&style.write(self.value));
                insert.push_str(&"}".repeat(self.keys.len() - 1));
                Candidate {
                    range: at..at,
                    insert,
                }
            })
            .collect()
    }

    /// How much deeper the file indents a nested mapping: from this
    /// mapping and its parent, or from a block mapping inside this one,
    /// else two spaces.
    fn step(&self) -> Option<usize> {
        let text = &self.file.text;
        let nested = self.entries.iter().find_map(|e| match &e.value.value {
            Value::Map(inner)
                if text.as_bytes().get(e.value.span.start as usize) != Some(&b'{') =>
            {
                Some((e.key_span, inner.first()?.key_span))
            }
            _ => None,
        });
        let pair = match self.indents {
            [.., outer, inner] => Some((*outer, *inner)),
            _ => nested,
        };
        let Some((outer, inner)) = pair else {
            return Some(2);
        };
        let step = column(text, inner)?.checked_sub(column(text, outer)?)?;
        (step > 0).then_some(step)
    }
}

fn unclear_indentation() -> Refusal {
    Refusal {
        message: "cannot tell the mapping's indentation".into(),
        label: "keys of this mapping",
        hint: BY_HAND,
    }
}

/// Where a node's text ends. The parser's spans of quoted scalars and
/// flow collections reach over what follows them up to the next token
/// (spaces, a comment, a line break): they end at the closing quote or
/// bracket.
fn end_of(text: &str, span: Span) -> usize {
    let start = span.start as usize;
    let range = &text[start..span.end as usize];
    let closing = match range.as_bytes().first() {
        Some(b'\'') => closing_quote(range, b'\''),
        Some(b'"') => closing_quote(range, b'"'),
        Some(b'[') => range.rfind(']').map(|i| i + 1),
        Some(b'{') => range.rfind('}').map(|i| i + 1),
        _ => None,
    };
    start + closing.unwrap_or_else(|| range.trim_end_matches([' ', '\t', '\r', '\n']).len())
}

/// The end of a quoted scalar starting `text`: after the quote that closes
/// it (`''` is a quote inside single quotes, `\"` inside double quotes).
fn closing_quote(text: &str, quote: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The column of a key that starts its line after spaces only.
fn column(text: &str, key: Span) -> Option<usize> {
    let start = key.start as usize;
    let line = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let prefix = &text[line..start];
    prefix.bytes().all(|b| b == b' ').then_some(prefix.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;

    const IMAGE: &str = "registry.example.com/team/web:2.5.0";

    fn set(text: &str, path: &str, value: &str) -> Result<Outcome, Diagnostic> {
        let mut sources = Sources::default();
        let id = sources.add("o.yaml".into(), "o.yaml".into(), text.into());
        let path: Vec<&str> = path.split('.').collect();
        set_string(sources.get(id), id, &path, value)
    }

    fn edited(text: &str, path: &str, value: &str) -> String {
        match set(text, path, value) {
            Ok(Outcome::Changed(edit)) => {
                let at = &edit.text[edit.at.clone()];
                assert!(
                    at.trim_start_matches(['"', '\'']).starts_with(value),
                    "{at}"
                );
                edit.text
            }
            other => panic!("not changed: {other:?}"),
        }
    }

    fn refused(text: &str, path: &str) -> String {
        match set(text, path, IMAGE) {
            Err(diag) => {
                assert_eq!(diag.code, Code::CANNOT_EDIT);
                diag.message
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn an_existing_value_is_replaced_byte_for_byte() {
        let text = "# head\nservices:\n  web:   # the storefront\n    containers:\n      app:\n        image: registry.example.com/team/web:2.4.1   # bumped by CI\n\n        # resources next\n        resources: {}\n";
        let want = text.replace("web:2.4.1", "web:2.5.0");
        assert_eq!(
            edited(text, "services.web.containers.app.image", IMAGE),
            want
        );
    }

    #[test]
    fn quoting_is_kept_and_added_only_where_needed() {
        let path = "a.image";
        // A quoted scalar's span reaches the comment: the spaces stay.
        assert_eq!(
            edited("a:\n  image: 'x:1'   # pinned\n", path, "y:2"),
            "a:\n  image: 'y:2'   # pinned\n"
        );
        assert_eq!(
            edited("a:\n  image: \"x:1\"\n", path, IMAGE),
            format!("a:\n  image: \"{IMAGE}\"\n")
        );
        assert_eq!(
            edited("a:\n  image: 'x:1'\n", path, IMAGE),
            format!("a:\n  image: '{IMAGE}'\n")
        );
        // Plain would be a number, a boolean, or a comment.
        assert_eq!(
            edited("a:\n  image: x\n", path, "1.10"),
            "a:\n  image: \"1.10\"\n"
        );
        assert_eq!(
            edited("a:\n  image: x\n", path, "true"),
            "a:\n  image: \"true\"\n"
        );
        assert_eq!(
            edited("a:\n  image: x\n", path, "x #y"),
            "a:\n  image: \"x #y\"\n"
        );
        assert_eq!(
            edited("a:\n  image: x\n", path, "it's"),
            "a:\n  image: it's\n"
        );
        assert_eq!(
            edited("a: {image: x}\n", path, "a,b"),
            "a: {image: \"a,b\"}\n"
        );
    }

    #[test]
    fn the_same_value_is_unchanged() {
        let text = "a:\n  image: \"registry.example.com/team/web:2.5.0\"\n";
        assert!(matches!(
            set(text, "a.image", IMAGE),
            Ok(Outcome::Unchanged(_))
        ));
    }

    #[test]
    fn missing_levels_are_inserted_at_the_mapping_indentation() {
        let text = "kind: Overlay\nservices:\n    web:\n        availability: null  # no PDB in dev\n    # the worker follows\n    worker:\n        scaling: {minReplicas: 1}\nregionOverrides: {}\n";
        let want = "kind: Overlay\nservices:\n    web:\n        availability: null  # no PDB in dev\n        containers:\n            app:\n                image: registry.example.com/team/web:2.5.0\n    # the worker follows\n    worker:\n        scaling: {minReplicas: 1}\nregionOverrides: {}\n";
        assert_eq!(
            edited(text, "services.web.containers.app.image", IMAGE),
            want
        );
        let want = "kind: Overlay\nservices:\n    web:\n        availability: null  # no PDB in dev\n    # the worker follows\n    worker:\n        scaling: {minReplicas: 1}\n    api:\n        containers:\n            app:\n                image: registry.example.com/team/web:2.5.0\nregionOverrides: {}\n";
        assert_eq!(
            edited(text, "services.api.containers.app.image", IMAGE),
            want
        );
    }

    #[test]
    fn comments_under_the_last_value_stay_with_it() {
        let text = "services:\n  web:\n    scaling:\n      minReplicas: 1\n      # maxReplicas: 4\n  # the worker\n  worker: {}\n";
        let want = "services:\n  web:\n    scaling:\n      minReplicas: 1\n      # maxReplicas: 4\n    image: x\n  # the worker\n  worker: {}\n";
        assert_eq!(edited(text, "services.web.image", "x"), want);
        // A double-quoted value with an escaped quote, then a comment.
        let text = "a:\n  image: \"x\\\"y\"  # c\n";
        assert_eq!(
            edited(text, "a.image", "z:1"),
            "a:\n  image: \"z:1\"  # c\n"
        );
    }

    #[test]
    fn a_missing_top_level_key_goes_at_the_end() {
        let text = "kind: Overlay\ndefaults:\n  scaling: {minReplicas: 1}\n# trailing comment\n";
        let want = "kind: Overlay\ndefaults:\n  scaling: {minReplicas: 1}\nservices:\n  web:\n    containers:\n      app:\n        image: registry.example.com/team/web:2.5.0\n# trailing comment\n";
        assert_eq!(
            edited(text, "services.web.containers.app.image", IMAGE),
            want
        );
        // No newline at the end of the file.
        let want = "kind: Overlay\nservices:\n  web:\n    image: x";
        assert_eq!(edited("kind: Overlay", "services.web.image", "x"), want);
    }

    #[test]
    fn flow_mappings_get_the_entry_inside() {
        let text = "services:\n  web:\n    containers:\n      app: {command: [/bin/web], args: [--port=8080] }  # keep\n";
        let want = "services:\n  web:\n    containers:\n      app: {command: [/bin/web], args: [--port=8080], image: registry.example.com/team/web:2.5.0 }  # keep\n";
        assert_eq!(
            edited(text, "services.web.containers.app.image", IMAGE),
            want
        );
        let text = "services:\n  web: {containers: {}}\n";
        let want =
            "services:\n  web: {containers: {app: {image: registry.example.com/team/web:2.5.0}}}\n";
        assert_eq!(
            edited(text, "services.web.containers.app.image", IMAGE),
            want
        );
        let text = "services: {web: {scaling: {minReplicas: 1}}}\n";
        let want = "services: {web: {scaling: {minReplicas: 1}, containers: {app: {image: registry.example.com/team/web:2.5.0}}}}\n";
        assert_eq!(
            edited(text, "services.web.containers.app.image", IMAGE),
            want
        );
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let text = "services:\r\n  web:\r\n    availability: null\r\n  worker:\r\n    containers:\r\n      app:\r\n        image: old:1\r\n";
        let want = "services:\r\n  web:\r\n    availability: null\r\n    containers:\r\n      app:\r\n        image: registry.example.com/team/web:2.5.0\r\n  worker:\r\n    containers:\r\n      app:\r\n        image: old:1\r\n";
        assert_eq!(
            edited(text, "services.web.containers.app.image", IMAGE),
            want
        );
        let want = text.replace("old:1", IMAGE);
        assert_eq!(
            edited(text, "services.worker.containers.app.image", IMAGE),
            want
        );
    }

    #[test]
    fn shared_nulls_and_block_scalars_are_refused() {
        let text = "a: &img old:1\nservices:\n  web:\n    image: *img\n";
        let message = refused(text, "a");
        assert!(
            message.contains("would change other values too"),
            "{message}"
        );
        let message = refused(
            "services:\n  web: null\n",
            "services.web.containers.app.image",
        );
        assert_eq!(
            message,
            "`services.web` is null, so `containers.app.image` cannot be set under it"
        );
        for text in [
            "a:\n  image: |\n    old\n",
            "a:\n  image: >-  # folded\n    old\n  k: 1\n",
        ] {
            let message = refused(text, "a.image");
            assert!(message.contains("block scalar"), "{message}");
        }
        // Inserting after a block scalar keeps it whole.
        let text = "s:\n  a:\n    args: >-\n      old\n  b: 1\n";
        let want = "s:\n  a:\n    args: >-\n      old\n    image: x\n  b: 1\n";
        assert_eq!(edited(text, "s.a.image", "x"), want);
        let message = refused("a: {b}\n", "a.image");
        assert!(message.contains("would change other values"), "{message}");
    }

    #[test]
    fn the_new_value_replaces_only_its_own_alias() {
        // An alias used as the value is replaced; the anchor stays.
        let text = "a: &img old:1\nservices:\n  web:\n    image: *img\n";
        let want = format!("a: &img old:1\nservices:\n  web:\n    image: {IMAGE}\n");
        assert_eq!(edited(text, "services.web.image", IMAGE), want);
    }
}
