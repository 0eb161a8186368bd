//! YAML text -> [`Node`] tree, refusing what YAML lets through but a
//! manifest compiler must not: duplicate keys, alias bombs, absurd nesting,
//! several documents in one file, tags, and numbers that YAML 1.1 and 1.2
//! read differently.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Tag};

use crate::diag::{Code, Diagnostic};
use crate::node::{Entry, Node, Scalar, ScalarKind, Value, is_ambiguous_octal};
use crate::source::{FileId, SourceFile, Span};

/// Deepest nesting of maps and sequences accepted in one file.
pub const MAX_DEPTH: usize = 64;
/// Most nodes one file may expand to, aliases included (bounds alias bombs).
pub const MAX_NODES: usize = 100_000;

mod block;

/// Parse one file holding exactly one YAML document.
///
/// Most files are plain block YAML, which [`block`] scans several times
/// faster than saphyr; its events are used only when they build a tree
/// without a diagnostic. Every other file, and every error, is saphyr's.
pub fn parse(file: &SourceFile, id: FileId) -> Result<Node, Diagnostic> {
    let fast = block::events(&file.text, id).and_then(|events| {
        let mut builder = Builder::new(file, id);
        for (event, span) in events {
            builder.event(event, span).ok()?;
        }
        builder.finish().ok()
    });
    if let Some(tree) = fast {
        return Ok(tree);
    }
    let mut builder = Builder::new(file, id);
    for event in Parser::new_from_str(&file.text) {
        let (event, span) = event.map_err(|e| builder.scan_error(&e))?;
        builder.event(event, builder.span(span.start, span.end))?;
    }
    builder.finish()
}

/// Do the fast scanner's events for `file` equal saphyr's (the node
/// events, spans included)? `Ok(false)`: the scanner declined the file;
/// `Err` shows where they part. For the differential test and fuzzer.
pub fn scanners_agree(file: &SourceFile, id: FileId) -> Result<bool, String> {
    let Some(fast) = block::events(&file.text, id) else {
        return Ok(false);
    };
    let builder = Builder::new(file, id);
    let mut saphyr = Vec::new();
    for event in Parser::new_from_str(&file.text) {
        let (event, span) =
            event.map_err(|e| format!("saphyr refuses what the scanner read: {e}"))?;
        if !matches!(
            event,
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd
        ) {
            saphyr.push((event, builder.span(span.start, span.end)));
        }
    }
    match fast.iter().zip(&saphyr).position(|(a, b)| a != b) {
        Some(i) => Err(format!(
            "event {i}: scanner {:?}, saphyr {:?}",
            fast[i], saphyr[i]
        )),
        None if fast.len() != saphyr.len() => Err(format!(
            "scanner read {} events, saphyr {}",
            fast.len(),
            saphyr.len()
        )),
        None => Ok(true),
    }
}

const EMPTY_HINT: &str = "a blueprint or overlay needs at least `apiVersion`, `kind` and `metadata`; delete the file if it is not needed";

enum Frame {
    Seq {
        span: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        span: Span,
        anchor: usize,
        entries: Vec<Entry>,
        /// Keys by name, built once a map outgrows a linear search.
        seen: HashMap<String, Span>,
        key: Option<(String, Span)>,
    },
}

struct Builder<'a> {
    file: &'a SourceFile,
    id: FileId,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
}

impl<'a> Builder<'a> {
    fn new(file: &'a SourceFile, id: FileId) -> Self {
        Builder {
            file,
            id,
            stack: Vec::new(),
            anchors: HashMap::new(),
            nodes: 0,
            root: None,
            documents: 0,
        }
    }

    fn finish(self) -> Result<Node, Diagnostic> {
        self.root.ok_or_else(|| {
            Diagnostic::file_error(
                Code::EMPTY_FILE,
                &self.file.name,
                "file has no YAML document",
            )
            .with_hint(EMPTY_HINT)
        })
    }

    fn span(&self, start: Marker, end: Marker) -> Span {
        let to_u32 = |m: Marker| {
            u32::try_from(self.file.offset_of(m.index(), m.line(), m.col())).unwrap_or(u32::MAX)
        };
        Span {
            file: self.id,
            start: to_u32(start),
            end: to_u32(end).max(to_u32(start)),
        }
    }

    fn scan_error(&self, error: &ScanError) -> Diagnostic {
        let at = self.span(*error.marker(), *error.marker());
        Diagnostic::error(
            Code::INVALID_YAML,
            at,
            format!("invalid YAML: {}", error.info()),
        )
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Diagnostic::error(
                        Code::SEVERAL_DOCUMENTS,
                        span,
                        "more than one YAML document in this file",
                    )
                    .with_hint("put each blueprint or overlay in a file of its own"));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                // A copy, not `into_owned`: the parser's own strings carry
                // spare capacity, which would stay in memory for the run.
                let node = self.scalar(text.to_string(), style, tag.as_deref(), span)?;
                self.complete(node, anchor)?;
            }
            Event::Alias(id) => self.alias(id, span)?,
            Event::SequenceStart(anchor, tag) => {
                self.refuse_tag(tag.as_deref(), span)?;
                self.open(Frame::Seq {
                    span,
                    anchor,
                    items: Vec::new(),
                })?;
            }
            Event::MappingStart(anchor, tag) => {
                self.refuse_tag(tag.as_deref(), span)?;
                self.open(Frame::Map {
                    span,
                    anchor,
                    entries: Vec::new(),
                    seen: HashMap::new(),
                    key: None,
                })?;
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(span)?,
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn scalar(
        &self,
        text: String,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: Span,
    ) -> Result<Node, Diagnostic> {
        let kind = match (style, tag) {
            (_, Some(tag)) if tag.is_yaml_core_schema() && tag.suffix == "str" => ScalarKind::Str,
            (_, Some(_)) => return Err(tag_error(span)),
            (ScalarStyle::Plain, None) if is_ambiguous_octal(&text) => {
                return Err(Diagnostic::error(
                    Code::AMBIGUOUS_NUMBER,
                    span,
                    format!("ambiguous number `{text}`"),
                )
                .with_label("YAML 1.1 (Kubernetes) reads this as octal, YAML 1.2 as decimal")
                .with_hint(format!(
                    "quote it (\"{text}\") if it is text, or write it without the leading zero"
                )));
            }
            (ScalarStyle::Plain, None) => ScalarKind::of_plain(&text),
            _ => ScalarKind::Str,
        };
        Ok(Node {
            span,
            value: Value::Scalar(Scalar { text, kind }),
        })
    }

    fn refuse_tag(&self, tag: Option<&Tag>, span: Span) -> Result<(), Diagnostic> {
        match tag {
            Some(_) => Err(tag_error(span)),
            None => Ok(()),
        }
    }

    fn open(&mut self, frame: Frame) -> Result<(), Diagnostic> {
        let span = frame_span(&frame);
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::error(Code::NESTING_TOO_DEEP, span, format!("nesting deeper than {MAX_DEPTH} levels"))
                .with_hint("blueprints and overlays are a few levels deep; this file looks generated or corrupt"));
        }
        self.count(1, span)?;
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, end: Span) -> Result<(), Diagnostic> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let end = self.collection_end(&frame, end);
        let (node, anchor) = match frame {
            Frame::Seq {
                span,
                anchor,
                items,
            } => (
                Node {
                    span: join(span, end),
                    value: Value::Seq(items),
                },
                anchor,
            ),
            Frame::Map {
                span,
                anchor,
                entries,
                ..
            } => (
                Node {
                    span: join(span, end),
                    value: Value::Map(entries),
                },
                anchor,
            ),
        };
        self.complete(node, anchor)
    }

    /// A flow collection ends at its closing bracket; a block collection at
    /// its last item, not at the next line where the parser noticed its end.
    fn collection_end(&self, frame: &Frame, end: Span) -> Span {
        let last = match frame {
            Frame::Seq { items, .. } => items.last().map(|n| n.span.end),
            Frame::Map { entries, .. } => entries.last().map(|e| e.value.span.end),
        };
        match last {
            Some(last)
                if self
                    .file
                    .text
                    .get(last as usize..end.start as usize)
                    .is_some_and(|gap| gap.contains('\n')) =>
            {
                Span {
                    start: last,
                    end: last,
                    ..end
                }
            }
            _ => end,
        }
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<(), Diagnostic> {
        let Some(size) = self.anchors.get(&id).map(Node::size) else {
            return Err(Diagnostic::error(
                Code::UNKNOWN_ANCHOR,
                span,
                "alias to an unknown anchor",
            ));
        };
        self.count(size, span)?;
        let mut node = self.anchors[&id].clone();
        node.span = span;
        self.complete(node, 0)
    }

    fn count(&mut self, nodes: usize, span: Span) -> Result<(), Diagnostic> {
        self.nodes += nodes;
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::error(
                Code::TOO_MANY_NODES,
                span,
                format!("file expands to more than {MAX_NODES} YAML nodes"),
            )
            .with_label("expansion limit reached here")
            .with_hint("aliases that refer to aliases multiply; write the values out instead"));
        }
        Ok(())
    }

    /// A finished node goes into its parent (or becomes the root).
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        if matches!(node.value, Value::Scalar(_)) {
            self.count(1, node.span)?;
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, seen, key, ..
            }) => match key.take() {
                Some((key, key_span)) => entries.push(Entry {
                    key,
                    key_span,
                    value: node,
                }),
                None => {
                    let span = node.span;
                    let name = key_text(node)?;
                    if let Some(first) = first_definition(entries, seen, &name, span) {
                        return Err(Diagnostic::error(
                            Code::DUPLICATE_KEY,
                            span,
                            format!("duplicate key `{name}`"),
                        )
                        .with_label("defined again here")
                        .with_related(first, "first defined here")
                        .with_hint("YAML readers disagree on which value wins; keep one"));
                    }
                    *key = Some((name, span));
                }
            },
        }
        Ok(())
    }
}

/// Maps up to this many entries are searched for duplicate keys linearly.
const LINEAR_KEYS: usize = 16;

/// Where `name` was first defined in a map, if it was; records it (at
/// `span`) when the map is large enough to keep an index of its keys.
fn first_definition(
    entries: &[Entry],
    seen: &mut HashMap<String, Span>,
    name: &str,
    span: Span,
) -> Option<Span> {
    if entries.len() < LINEAR_KEYS {
        return entries.iter().find(|e| e.key == name).map(|e| e.key_span);
    }
    if seen.is_empty() {
        seen.extend(entries.iter().map(|e| (e.key.clone(), e.key_span)));
    }
    if let Some(first) = seen.get(name) {
        return Some(*first);
    }
    seen.insert(name.to_owned(), span);
    None
}

fn key_text(node: Node) -> Result<String, Diagnostic> {
    match node.value {
        Value::Scalar(s) => Ok(s.text),
        _ => Err(Diagnostic::error(
            Code::COMPLEX_KEY,
            node.span,
            "mapping keys must be plain text",
        )
        .with_hint("complex keys (`? [a, b]`) have no meaning in a blueprint")),
    }
}

fn tag_error(span: Span) -> Diagnostic {
    Diagnostic::error(Code::YAML_TAG, span, "YAML tags are not supported")
        .with_hint("remove the `!tag`; quote the value if it is text")
}

fn frame_span(frame: &Frame) -> Span {
    match frame {
        Frame::Seq { span, .. } | Frame::Map { span, .. } => *span,
    }
}

fn join(start: Span, end: Span) -> Span {
    Span {
        end: end.end.max(start.end),
        ..start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;

    fn parse_text(text: &str) -> Result<Node, Diagnostic> {
        let mut sources = Sources::default();
        let id = sources.add("t.yaml".into(), "t.yaml".into(), text.into());
        parse(sources.get(id), id)
    }

    #[test]
    fn keeps_text_and_types_scalars() {
        let node = parse_text("a: no\nb: 1.10\nc: \"8080\"\nd: 8080\n").expect("parses");
        let scalar = |k: &str| match &node.get(k).expect("key").value {
            Value::Scalar(s) => (s.text.clone(), s.kind),
            other => panic!("not a scalar: {other:?}"),
        };
        assert_eq!(scalar("a"), ("no".into(), ScalarKind::Str));
        assert_eq!(scalar("b"), ("1.10".into(), ScalarKind::Float(1.1)));
        assert_eq!(scalar("c"), ("8080".into(), ScalarKind::Str));
        assert_eq!(scalar("d"), ("8080".into(), ScalarKind::Int(8080)));
    }

    #[test]
    fn refuses_duplicate_keys_in_nested_maps() {
        let err = parse_text("a:\n  x: 1\n  x: 2\n").expect_err("duplicate");
        assert_eq!(err.message, "duplicate key `x`");
        assert_eq!(err.related.len(), 1);
    }

    #[test]
    fn refuses_deep_nesting_without_recursing() {
        let flow = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = parse_text(&flow).expect_err("too deep");
        assert!(err.message.contains("recursion limit"), "{}", err.message);
        let block: String = (0..100).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let err = parse_text(&block).expect_err("too deep");
        assert!(
            err.message.contains("nesting deeper than 64"),
            "{}",
            err.message
        );
    }

    #[test]
    fn refuses_alias_bombs() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text += &format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", "));
        }
        let err = parse_text(&text).expect_err("bomb");
        assert!(err.message.contains("more than"), "{}", err.message);
    }

    #[test]
    fn refuses_ambiguous_octal_and_second_document() {
        assert!(parse_text("mode: 0755\n").is_err());
        assert!(parse_text("mode: \"0755\"\n").is_ok());
        assert!(parse_text("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn crlf_line_numbers_are_right() {
        let mut sources = Sources::default();
        let id = sources.add(
            "t.yaml".into(),
            "t.yaml".into(),
            "a: 1\r\nb: 0755\r\n".into(),
        );
        let err = parse(sources.get(id), id).expect_err("octal");
        assert_eq!(
            sources.locate(match err.location {
                crate::diag::Location::Span(s) => s,
                crate::diag::Location::File(_) => panic!("no span"),
            }),
            "t.yaml:2:4"
        );
    }
}
