//! A fast scanner for the plain block YAML that blueprints, overlays and
//! rendered objects are: block maps and lists, plain and double-quoted
//! scalars without escapes, one-line flow collections, `|` literals, and
//! comments on lines of their own or after a plain value or a key.
//!
//! It yields the events `saphyr-parser` yields, with the same spans, or
//! declines (`None`) at the first thing outside that subset: a tab, a
//! non-ASCII byte, an anchor, a tag, a multi-line plain or flow scalar, a
//! chomping indicator, a comment after a quoted scalar or a bracket, an
//! error. `parse` then asks saphyr, so every error and every unusual file
//! is saphyr's alone.

use std::borrow::Cow;

use saphyr_parser::{Event, ScalarStyle};

use crate::parse::MAX_DEPTH;
use crate::source::{FileId, Span};

/// The node events of `text` (no stream or document events), or `None`
/// when `text` leaves the subset.
pub fn events(text: &str, id: FileId) -> Option<Vec<(Event<'_>, Span)>> {
    let bytes = text.as_bytes();
    let printable = bytes
        .iter()
        .all(|&b| b == b'\n' || (b' '..=b'~').contains(&b));
    if !printable || bytes.last() != Some(&b'\n') {
        return None;
    }
    let mut scanner = Scanner {
        text,
        bytes,
        pos: 0,
        line_start: 0,
        id,
        depth: 0,
        events: Vec::with_capacity(text.len() / 8),
    };
    let col = scanner.next_line()?;
    if col != 0 {
        return None;
    }
    scanner.block_node(0)?;
    (scanner.pos == bytes.len()).then_some(scanner.events)
}

/// `None`: the text leaves the subset.
type Step = Option<()>;

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Start of the line `pos` is on.
    line_start: usize,
    id: FileId,
    depth: usize,
    events: Vec<(Event<'a>, Span)>,
}

impl<'a> Scanner<'a> {
    fn at(&self, offset: usize) -> u8 {
        self.bytes.get(self.pos + offset).copied().unwrap_or(b'\n')
    }

    fn col(&self) -> usize {
        self.pos - self.line_start
    }

    fn push(&mut self, event: Event<'a>, start: usize, end: usize) {
        let span = Span {
            file: self.id,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        };
        self.events.push((event, span));
    }

    fn scalar(&mut self, text: Cow<'a, str>, style: ScalarStyle, start: usize, end: usize) {
        self.push(Event::Scalar(text, style, 0, None), start, end);
    }

    /// From a line's start, skip blank lines, comment lines and the
    /// indentation: `pos` at the next token (or the end), its column if
    /// there is one.
    fn next_line(&mut self) -> Option<usize> {
        loop {
            self.line_start = self.pos;
            while self.at(0) == b' ' && self.pos < self.bytes.len() {
                self.pos += 1;
            }
            if self.pos >= self.bytes.len() {
                self.pos = self.bytes.len();
                return None;
            }
            match self.bytes[self.pos] {
                b'\n' => self.pos += 1,
                b'#' => self.skip_comment(),
                _ => return Some(self.col()),
            }
        }
    }

    /// From a `#` past the end of its line.
    fn skip_comment(&mut self) {
        while self.at(0) != b'\n' {
            self.pos += 1;
        }
        self.pos += 1;
    }

    /// Spaces and a comment after them, then the end of the line, which
    /// is consumed.
    fn end_line(&mut self) -> Step {
        let spaces = self.pos;
        self.skip_spaces();
        match self.at(0) {
            b'#' if self.pos > spaces => self.skip_comment(),
            b'\n' => self.pos += 1,
            _ => return None,
        }
        Some(())
    }

    fn is_dash_item(&self) -> bool {
        self.at(0) == b'-' && self.at(1) == b' '
    }

    fn nested(&mut self, inner: impl FnOnce(&mut Self) -> Step) -> Step {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        inner(self)?;
        self.depth -= 1;
        Some(())
    }

    /// A block map or list starting at `pos`, in column `col`.
    fn block_node(&mut self, col: usize) -> Step {
        if self.is_dash_item() {
            self.nested(|s| s.block_seq(col, false))
        } else {
            self.nested(|s| s.block_map(col))
        }
    }

    fn block_map(&mut self, col: usize) -> Step {
        let start = self.pos;
        self.push(Event::MappingStart(0, None), start, start);
        loop {
            // Document markers are saphyr's to read.
            if self.text[self.pos..].starts_with("---") || self.text[self.pos..].starts_with("...")
            {
                return None;
            }
            self.key()?;
            self.map_value(col)?;
            match (self.pos < self.bytes.len()).then(|| self.col()) {
                Some(c) if c == col && !self.is_dash_item() => {}
                Some(c) if c >= col => return None,
                _ => break,
            }
        }
        self.push(Event::MappingEnd, self.pos, self.pos);
        Some(())
    }

    /// A list of `- ` items in column `col`; `indentless` when it is a
    /// map's value in the map's own column (saphyr then starts it at its
    /// first item, not at the dash).
    fn block_seq(&mut self, col: usize, indentless: bool) -> Step {
        let dash = self.pos;
        let first = self.text[dash + 1..]
            .find(|c| c != ' ')
            .map(|i| dash + 1 + i)?;
        let start = if indentless { first } else { dash };
        self.push(Event::SequenceStart(0, None), start, start);
        loop {
            self.pos += 1;
            while self.at(0) == b' ' {
                self.pos += 1;
            }
            self.seq_item(col)?;
            match (self.pos < self.bytes.len()).then(|| self.col()) {
                Some(c) if c == col && self.is_dash_item() => {}
                Some(c) if c == col && indentless => break,
                Some(c) if c >= col => return None,
                _ => break,
            }
        }
        self.push(Event::SequenceEnd, self.pos, self.pos);
        Some(())
    }

    /// An item after its dash: a map written on the dash's line, or a
    /// one-line value.
    fn seq_item(&mut self, dash_col: usize) -> Step {
        let col = self.col();
        if self.starts_map() {
            self.nested(|s| s.block_map(col))
        } else {
            self.line_value(dash_col)
        }
    }

    /// Does a `key:` start at `pos`?
    fn starts_map(&self) -> bool {
        if self.at(0) != b'"' && !self.is_plain_start(BLOCK) {
            return false;
        }
        let rest = &self.bytes[self.pos..];
        let line = &rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())];
        let key_end = if line.first() == Some(&b'"') {
            line[1..].iter().position(|&b| b == b'"').map(|i| i + 2)
        } else {
            line.windows(2)
                .position(|w| w[0] == b':' && w[1] == b' ')
                .or_else(|| line.ends_with(b":").then(|| line.len() - 1))
        };
        key_end.is_some_and(|end| line.get(end) == Some(&b':'))
    }

    /// A map key, plain or double-quoted, up to its `:`.
    fn key(&mut self) -> Step {
        let start = self.pos;
        if self.at(0) == b'"' {
            self.double_quoted()?;
        } else {
            if !self.is_plain_start(BLOCK) {
                return None;
            }
            while self.at(0) != b':' {
                if !is_plain(self.at(0), BLOCK) {
                    return None;
                }
                self.pos += 1;
            }
            if self.bytes[self.pos - 1] == b' ' {
                return None;
            }
            let text = &self.text[start..self.pos];
            self.scalar(Cow::Borrowed(text), ScalarStyle::Plain, start, self.pos);
        }
        (self.at(0) == b':' && matches!(self.at(1), b' ' | b'\n')).then_some(())
    }

    /// After a key of the map in column `col`, at its `:`: the value.
    fn map_value(&mut self, col: usize) -> Step {
        let colon = self.pos;
        self.pos += 1;
        let after = self.pos + self.spaces_at(self.pos);
        if matches!(self.bytes.get(after), Some(b'\n' | b'#')) {
            self.end_line()?;
            return match self.next_line() {
                Some(c) if c > col => self.block_node(c),
                Some(c) if c == col && self.is_dash_item() => {
                    self.nested(|s| s.block_seq(col, true))
                }
                _ => {
                    self.scalar(Cow::Borrowed(""), ScalarStyle::Plain, colon, colon);
                    Some(())
                }
            };
        }
        self.pos = after;
        if self.at(0) == b'|' {
            return self.literal(col);
        }
        self.line_value(col)
    }

    /// A scalar or flow collection that ends its line, in a block
    /// collection in column `col`; no line after it may continue it.
    fn line_value(&mut self, col: usize) -> Step {
        match self.at(0) {
            b'"' => self.double_quoted()?,
            b'{' | b'[' => self.flow()?,
            _ => self.plain(BLOCK)?,
        }
        self.end_line()?;
        match self.next_line() {
            Some(c) if c > col => None,
            _ => Some(()),
        }
    }

    /// A `"..."` scalar without escapes or line breaks.
    fn double_quoted(&mut self) -> Step {
        let start = self.pos;
        let len = self.bytes[start + 1..]
            .iter()
            .position(|&b| matches!(b, b'"' | b'\\' | b'\n'))?;
        let end = start + 1 + len;
        // saphyr's span of a quoted scalar runs on over the spaces after it.
        if self.bytes[end] != b'"' || self.bytes.get(end + 1) == Some(&b' ') {
            return None;
        }
        self.pos = end + 1;
        let text = &self.text[start + 1..end];
        self.scalar(
            Cow::Borrowed(text),
            ScalarStyle::DoubleQuoted,
            start,
            self.pos,
        );
        Some(())
    }

    fn is_plain_start(&self, context: Context) -> bool {
        let first = self.at(0);
        first.is_ascii_alphanumeric()
            || matches!(first, b'/' | b'.' | b'_' | b'$' | b'(' | b'~' | b'=' | b'+')
            || (first == b'-' && is_plain(self.at(1), context) && self.at(1) != b' ')
    }

    /// A plain scalar on one line, its trailing spaces left out.
    fn plain(&mut self, context: Context) -> Step {
        if !self.is_plain_start(context) {
            return None;
        }
        let start = self.pos;
        let mut end = start;
        while !matches!(self.at(0), b'\n') && !context.ends(self.at(0)) {
            let byte = self.at(0);
            if byte == b' ' && self.at(1) == b'#' && !context.flow {
                break;
            }
            // saphyr reads what follows a space inside a flow scalar as a
            // new token's start (` -,` is an error there): leave it those.
            if byte == b' ' && context.flow && !matches!(self.at(1), b' ' | b',' | b']' | b'}') {
                return None;
            }
            if !is_plain(byte, context) || (byte == b':' && matches!(self.at(1), b' ' | b'\n')) {
                return None;
            }
            self.pos += 1;
            if byte != b' ' {
                end = self.pos;
            }
        }
        let text = &self.text[start..end];
        self.scalar(Cow::Borrowed(text), ScalarStyle::Plain, start, end);
        Some(())
    }

    /// `{...}` or `[...]` on one line.
    fn flow(&mut self) -> Step {
        self.nested(|s| {
            let open = s.pos;
            let (close, map) = match s.at(0) {
                b'{' => (b'}', true),
                _ => (b']', false),
            };
            let (start, end) = if map {
                (Event::MappingStart(0, None), Event::MappingEnd)
            } else {
                (Event::SequenceStart(0, None), Event::SequenceEnd)
            };
            s.push(start, open, open + 1);
            s.pos += 1;
            // saphyr's span of a bracket runs on over the spaces after it.
            if s.at(0) == b' ' {
                return None;
            }
            if s.at(0) != close {
                loop {
                    if map {
                        s.flow_key()?;
                    }
                    s.flow_value()?;
                    s.skip_spaces();
                    if s.at(0) != b',' {
                        break;
                    }
                    s.pos += 1;
                    s.skip_spaces();
                }
            }
            if s.at(0) != close || s.at(1) == b' ' {
                return None;
            }
            s.push(end, s.pos, s.pos + 1);
            s.pos += 1;
            Some(())
        })
    }

    fn skip_spaces(&mut self) {
        while self.at(0) == b' ' {
            self.pos += 1;
        }
    }

    /// A flow map's key and its `: `.
    fn flow_key(&mut self) -> Step {
        if self.at(0) == b'"' {
            self.double_quoted()?;
        } else {
            self.plain(FLOW_KEY)?;
            if self.bytes[self.pos - 1] == b' ' {
                return None;
            }
        }
        if self.at(0) != b':' || self.at(1) != b' ' {
            return None;
        }
        self.pos += 2;
        self.skip_spaces();
        Some(())
    }

    fn flow_value(&mut self) -> Step {
        match self.at(0) {
            b'"' => self.double_quoted(),
            b'{' | b'[' => self.flow(),
            _ => self.plain(FLOW),
        }
    }

    /// A `|` block scalar (clipped, indentation detected) after a key of
    /// the map in column `col`.
    fn literal(&mut self, col: usize) -> Step {
        self.pos += 1;
        if self.at(0) != b'\n' {
            return None;
        }
        self.pos += 1;
        self.line_start = self.pos;
        let indent = self.spaces_at(self.pos);
        if indent <= col || matches!(self.at(indent), b'\n') {
            return None;
        }
        let start = self.pos + indent;
        let mut value = String::new();
        let mut blank = 0;
        // saphyr ends the scalar's span after the indentation of the line
        // that ends it, be that a comment.
        let end = loop {
            let line = self.pos;
            let spaces = self.spaces_at(line);
            match self.bytes.get(line + spaces) {
                None => break line,
                Some(b'\n') if spaces == 0 => {
                    blank += 1;
                    self.pos += 1;
                    continue;
                }
                Some(b'\n') => return None,
                Some(_) if spaces < indent => break line + spaces,
                Some(_) => {}
            }
            let end = line + self.bytes[line..].iter().position(|&b| b == b'\n')?;
            value.extend(std::iter::repeat_n('\n', blank));
            blank = 0;
            value.push_str(&self.text[line + indent..end]);
            value.push('\n');
            self.pos = end + 1;
        };
        self.next_line();
        self.scalar(Cow::Owned(value), ScalarStyle::Literal, start, end);
        Some(())
    }

    fn spaces_at(&self, at: usize) -> usize {
        self.bytes[at..].iter().take_while(|&&b| b == b' ').count()
    }
}

/// Where a plain scalar is: it decides which bytes end or refuse it.
#[derive(Clone, Copy)]
struct Context {
    flow: bool,
    key: bool,
}

const BLOCK: Context = Context {
    flow: false,
    key: false,
};
const FLOW: Context = Context {
    flow: true,
    key: false,
};
const FLOW_KEY: Context = Context {
    flow: true,
    key: true,
};

impl Context {
    /// Does this byte end a plain scalar (not being part of it)?
    fn ends(self, byte: u8) -> bool {
        (self.flow && matches!(byte, b',' | b']' | b'}')) || (self.key && byte == b':')
    }
}

/// May this byte be inside a plain scalar here? Conservative: `#`,
/// quotes, `&`, `*`, `!`, `|`, `>`, `` ` ``, `\`, brackets and, in flow,
/// `:` and `,` are left to saphyr (or end the scalar: `plain` decides).
fn is_plain(byte: u8, context: Context) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b' ' | b'-'
                | b'_'
                | b'.'
                | b'/'
                | b'='
                | b'+'
                | b'~'
                | b'$'
                | b'('
                | b')'
                | b'^'
                | b'<'
                | b';'
                | b'%'
                | b'@'
        )
        || (!context.flow && matches!(byte, b':' | b','))
}
