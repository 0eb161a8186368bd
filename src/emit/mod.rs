//! Deterministic YAML for typed objects. Keys keep the order of the typed
//! structs (apiVersion, kind, metadata, spec), maps are sorted, and every
//! string that a YAML 1.1 reader (Kubernetes, PyYAML) would take for
//! something else (`no`, `on`, `1.10`, `0755`, `2024-01-01`, `~`) is quoted.

use rayon::prelude::*;
use serde::Serialize;

mod writer;

use crate::lower::Rendered;

/// Path of an object's file in the rendered tree:
/// `<env>/<region>/<owner folder>/<kind>-<name>.yaml`, all lowercase; the
/// owner folder is the service's name, `_namespaces/<namespace>` or
/// `_gateway`. Objects of a whole environment are in `<env>/_argocd/` and
/// `<env>/_bootstrap/`.
pub fn path(env: &str, region: Option<&str>, rendered: &Rendered) -> String {
    let id = rendered.object.id();
    let owner = rendered.owner.dir();
    let kind = id.kind.name();
    let mut path = String::with_capacity(
        env.len() + region.map_or(0, str::len) + owner.len() + kind.len() + id.name.len() + 9,
    );
    for part in [Some(env), region, Some(&owner)].into_iter().flatten() {
        path.push_str(part);
        path.push('/');
    }
    path.extend(kind.chars().map(|c| c.to_ascii_lowercase()));
    path.push('-');
    path.push_str(&id.name);
    path.push_str(".yaml");
    path
}

/// Documents of objects that are not needed afterwards, in the folder of
/// an environment (and region): each object is freed as soon as it is
/// emitted, so memory holds either an object or its document, not both.
pub fn into_documents(
    env: &str,
    region: Option<&str>,
    objects: Vec<Rendered>,
) -> Vec<(String, String)> {
    objects
        .into_par_iter()
        .map(|rendered| (path(env, region, &rendered), to_yaml(&rendered.object)))
        .collect()
}

/// Write documents as one multi-document stream, each headed by its path.
pub fn write_stream(
    documents: &[(String, String)],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    for (path, document) in documents {
        writeln!(out, "---\n# Source: {path}")?;
        out.write_all(document.as_bytes())?;
    }
    out.flush()
}

/// One object as a YAML document (no `---`), ending in a newline.
pub fn to_yaml<T: Serialize>(object: &T) -> String {
    // Typed objects always serialize: string keys, finite numbers.
    writer::to_yaml(object).unwrap_or_default()
}

/// A string: plain where that is unambiguous, a literal block for
/// multi-line text, double-quoted otherwise.
pub(crate) fn string(out: &mut String, text: &str, level: usize) {
    if is_plain_safe(text) {
        out.push_str(text);
    } else if !literal_block(out, text, level) {
        double_quoted(out, text);
    }
}

/// Can `text` be written without quotes and read back as the same string
/// by YAML 1.1 and 1.2 readers alike? Conservative: when unsure, quote.
pub fn is_plain_safe(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if is_reserved(text) {
        return false;
    }
    if (first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.'))
        && (looks_numeric(text) || looks_like_date(text))
    {
        return false;
    }
    if matches!(
        first,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b' '
            | b'\t'
    ) && !(first == b'-' && bytes.len() > 1 && bytes[1] != b' ')
    {
        return false;
    }
    if text.ends_with([' ', ':']) || text.starts_with("---") || text.starts_with("...") {
        return false;
    }
    match scan_ascii(bytes) {
        Ascii::Printable => return true,
        Ascii::PrintableWithSpaces => {
            return !bytes.windows(2).any(|pair| matches!(pair, b": " | b" #"));
        }
        Ascii::Other => {}
    }
    // One pass: control characters, `: `, ` #`, `:<tab>`, and the
    // non-ASCII characters YAML treats as breaks or a byte order mark.
    let mut previous = 0u8;
    for (i, &byte) in bytes.iter().enumerate() {
        let unsafe_byte = match byte {
            0..=0x1f | 0x7f => true,
            b' ' => previous == b':',
            b'#' => previous == b' ',
            // A character's first byte; continuation bytes (0x80..0xC0) are not boundaries.
            0xC0.. => {
                matches!(
                    text[i..].chars().next(),
                    Some('\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}')
                ) || is_c1(&text[i..])
            }
            _ => false,
        };
        if unsafe_byte {
            return false;
        }
        previous = byte;
    }
    true
}

/// A word YAML 1.1 reads as a boolean or null, or one of 1.1's special
/// keys; a `match`, which compares by length first (keys such as `name`
/// and `type` reach it often).
fn is_reserved(text: &str) -> bool {
    matches!(
        text,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
            | "null"
            | "Null"
            | "NULL"
            | "~"
            | "="
            | "<<"
    )
}

/// What [`scan_ascii`] found.
#[derive(PartialEq, Eq, Debug)]
enum Ascii {
    /// Printable ASCII without spaces: nothing inside needs quoting.
    Printable,
    /// Printable ASCII with spaces: `: ` and ` #` need quoting.
    PrintableWithSpaces,
    /// Control or non-ASCII characters.
    Other,
}

/// Classify the bytes in branch-free chunks, the common case for the
/// strings of a manifest being short printable ASCII.
fn scan_ascii(bytes: &[u8]) -> Ascii {
    let (mut printable, mut spaces) = (true, false);
    for chunk in bytes.chunks(16) {
        for &b in chunk {
            printable &= b.wrapping_sub(b' ') < 0x5f;
            spaces |= b == b' ';
        }
        if !printable {
            return Ascii::Other;
        }
    }
    if spaces {
        Ascii::PrintableWithSpaces
    } else {
        Ascii::Printable
    }
}

/// A C1 control character (U+0080 to U+009F) at the start of `rest`.
fn is_c1(rest: &str) -> bool {
    rest.chars().next().is_some_and(char::is_control)
}

/// Anything a YAML 1.1 or 1.2 reader might take for a number: ints in any
/// base, floats, sexagesimals (`1:30`), `.inf`, `.nan`, `1.10`, `0755`, `1_000`.
fn looks_numeric(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    if body.eq_ignore_ascii_case(".inf") || body.eq_ignore_ascii_case(".nan") {
        return true;
    }
    let starts_numeric = body.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    let numeric_chars = body
        .chars()
        .all(|c| c.is_ascii_hexdigit() || "._:xXoObB+-".contains(c));
    starts_numeric && numeric_chars && body.chars().any(|c| c.is_ascii_digit())
}

/// YAML 1.1 timestamps start `YYYY-M-D`.
fn looks_like_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 8 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-'
}

/// A `|` block for readable multi-line text (config files), when the text
/// can round-trip through one; `false` (and nothing written) when not.
fn literal_block(out: &mut String, text: &str, level: usize) -> bool {
    if !text.contains('\n') {
        return false;
    }
    let printable = text
        .chars()
        .all(|c| c == '\n' || c == '\t' || !c.is_control())
        && !text.contains('\u{feff}');
    let Some(first_line) = text.lines().find(|l| !l.is_empty()) else {
        return false;
    };
    if !printable
        || first_line.starts_with([' ', '\t'])
        || text.lines().any(|l| l.ends_with([' ', '\t']))
    {
        return false;
    }
    let body = text.trim_end_matches('\n');
    let chomp = match text.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    out.push('|');
    out.push_str(chomp);
    for line in text[..if chomp == "+" {
        text.len() - 1
    } else {
        body.len()
    }]
        .split('\n')
    {
        out.push('\n');
        if !line.is_empty() {
            writer::indent(out, level);
            out.push_str(line);
        }
    }
    true
}

pub(crate) fn double_quoted(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') => {
                use std::fmt::Write;
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ambiguous_strings_are_quoted() {
        for text in [
            "no",
            "yes",
            "on",
            "off",
            "y",
            "N",
            "true",
            "null",
            "~",
            "",
            "1.10",
            "0755",
            "8080",
            "1e3",
            "0x1F",
            "1_000",
            "1:30",
            ".inf",
            "-.5",
            "2024-01-01",
            "<<",
            "=",
            "- x",
            "-",
            "a: b",
            "a #b",
            ": x",
            "x:",
            " x",
            "x ",
            "{a}",
            "[a]",
            "*x",
            "&x",
            "!x",
            "|x",
            ">x",
            "%x",
            "@x",
            "`x",
            "'x",
            "\"x",
            "#x",
            "?x",
            "---",
        ] {
            assert!(!is_plain_safe(text), "{text:?} must be quoted");
        }
    }

    #[test]
    fn ordinary_strings_stay_plain() {
        for text in [
            "orders",
            "250m",
            "512Mi",
            "--port=8080",
            "/bin/orders",
            "app.kubernetes.io/name",
            "v1",
            "1.8.2-rc1x",
            "registry.example.com/commerce/orders:1.8.2",
            "http",
            "a:b",
            "e1",
            "ümlaut",
        ] {
            assert!(is_plain_safe(text), "{text:?} should be plain");
        }
    }

    #[test]
    fn block_style_output() {
        let value = json!({
            "kind": "Deployment",
            "metadata": {"name": "orders", "labels": {"team": "commerce"}},
            "spec": {"containers": [{"name": "app", "args": ["--port=8080"], "env": []}], "empty": {}},
            "data": {"config.yaml": "a: 1\nb: 2\n", "raw": "no trailing\nnewline", "n": "no"},
        });
        assert_eq!(
            to_yaml(&value),
            "kind: Deployment\nmetadata:\n  name: orders\n  labels:\n    team: commerce\nspec:\n  containers:\n    - name: app\n      args:\n        - --port=8080\n      env: []\n  empty: {}\ndata:\n  config.yaml: |\n    a: 1\n    b: 2\n  raw: |-\n    no trailing\n    newline\n  \"n\": \"no\"\n"
        );
    }

    #[test]
    fn quoting_escapes_control_characters() {
        let mut out = String::new();
        double_quoted(&mut out, "a\"b\\c\u{1}");
        assert_eq!(out, "\"a\\\"b\\\\c\\u0001\"");
    }
}
