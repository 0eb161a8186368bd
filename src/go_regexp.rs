//! Regular expressions as Go's `regexp` reads them (RE2's syntax), for the
//! consumers that compile what slipway writes with it.

use regex_syntax::ast::{self, Ast, ClassSetItem, ClassUnicodeKind, Flag, LiteralKind};

/// Largest repetition count Go accepts (`regexp/syntax`, `maxRepeat`:
/// `ErrInvalidRepeatSize` above it).
const GO_MAX_REPEAT: u32 = 1000;

/// The one-letter general categories Go knows (`unicode.Categories`), the
/// only classes `\pX` may name.
const GO_ONE_LETTER_CATEGORIES: [char; 7] = ['C', 'L', 'M', 'N', 'P', 'S', 'Z'];

/// Whether Go's `regexp.Compile` accepts `pattern` (Filebeat's multiline
/// matcher, elastic/beats `libbeat/common/match`, and Istio's validation of
/// header regexes use it). It is parsed
/// with `regex-syntax`, whose grammar is RE2's like Go's, and the
/// differences are settled by Go's rules (`regexp/syntax/parse.go`):
///
/// - outside classes, Go reads `\Q...\E` as quoted text, a `{` that does
///   not start a repetition count (`^{`, `a{,3}`) as itself, and an empty
///   flag group `(?)` as nothing: [`as_rust`] rewrites them for the parser;
/// - octal escapes are Go's: `\0`, `\12`, `\123`; a single digit `\1`
///   to `\7` is a backreference, which Go refuses;
/// - Go refuses what only Rust has: the flags `x`, `u` and `R`, `\u` and
///   `\U` escapes, `\p{name=value}`, a repetition of a repetition (`a**`,
///   which Go calls an invalid nested repetition operator) and counts over
///   1000; class set operations (`&&`, `--`, `~~`) are refused too, as Go
///   reads them as plain characters (or refuses `--` as a range).
///
/// `\p{Name}` is not checked: Go's general categories and scripts grow
/// with its Unicode version, and Filebeat's Go is not known here. Go also
/// accepts capture names that start with a digit and names used twice,
/// which this parser refuses.
pub fn check(pattern: &str) -> Result<(), String> {
    let rewritten = as_rust(pattern);
    let ast = ast::parse::ParserBuilder::new()
        .octal(true)
        .build()
        .parse(&rewritten)
        .map_err(|e| format!("is not a regular expression: {}", e.kind()))?;
    ast::visit(
        &ast,
        GoOnly {
            pattern: &rewritten,
        },
    )?;
    if !repeat_is_valid(&ast, GO_MAX_REPEAT) {
        return Err(format!(
            "nests repetition counts whose product passes {GO_MAX_REPEAT}, which Go's regexp refuses as an invalid repeat count"
        ));
    }
    Ok(())
}

/// Go's `repeatIsValid` (`regexp/syntax/parse.go`): counted repetitions
/// (`{n}`, `{n,}`, `{n,m}`) nested in one another may repeat at most 1000
/// times in all, the largest count of each (its minimum when unbounded)
/// dividing what is left for those inside it.
fn repeat_is_valid(node: &Ast, budget: u32) -> bool {
    match node {
        Ast::Repetition(repetition) => {
            let budget = match count(repetition) {
                // Repeated zero times, what is inside never counts.
                Some(0) => return true,
                Some(n) if n > budget => return false,
                Some(n) => budget / n,
                None => budget,
            };
            repeat_is_valid(&repetition.ast, budget)
        }
        Ast::Group(group) => repeat_is_valid(&group.ast, budget),
        Ast::Concat(concat) => concat.asts.iter().all(|a| repeat_is_valid(a, budget)),
        Ast::Alternation(alternation) => {
            alternation.asts.iter().all(|a| repeat_is_valid(a, budget))
        }
        _ => true,
    }
}

/// Go's syntax where Rust's parser reads it otherwise, outside character
/// classes: `\Q...\E` (to the end when there is no `\E`) as escaped text,
/// a `{` that starts no repetition count (`{n}`, `{n,}`, `{n,m}`) escaped,
/// and `(?)` dropped.
fn as_rust(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    let mut in_class = false;
    while let Some(c) = rest.chars().next() {
        if !in_class {
            if let Some(quoted) = rest.strip_prefix("\\Q") {
                let (text, after) = quoted.split_once("\\E").unwrap_or((quoted, ""));
                out.push_str(&regex_syntax::escape(text));
                rest = after;
                continue;
            }
            if let Some(after) = rest.strip_prefix("(?)") {
                rest = after;
                continue;
            }
            if c == '{' && !starts_repetition(rest) {
                out.push_str("\\{");
                rest = &rest[1..];
                continue;
            }
        }
        let len = match c {
            // An escape with braces (`\x{41}`, `\p{Greek}`), to its `}`.
            '\\' if ["x{", "p{", "P{"].iter().any(|b| rest[1..].starts_with(b)) => {
                rest.find('}').map_or(rest.len(), |end| end + 1)
            }
            // A Perl class in a class followed by `-` (`[\\d-z]`): Go reads
            // the `-` as itself, Rust's parser refuses the range.
            '\\' if in_class && is_perl_class_then_dash(rest) => {
                out.push_str(&rest[..2]);
                out.push_str("\\-");
                rest = &rest[3..];
                continue;
            }
            // An escape and the character it escapes.
            '\\' => 1 + rest[1..].chars().next().map_or(0, char::len_utf8),
            // A class opens; `]` first in it (after `^`) is a literal.
            '[' if !in_class => {
                in_class = true;
                let negated = usize::from(rest[1..].starts_with('^'));
                1 + negated + usize::from(rest[1 + negated..].starts_with(']'))
            }
            // `[:alpha:]` inside a class.
            '[' if rest.starts_with("[:") => rest.find(":]").map_or(1, |end| end + 2),
            ']' => {
                in_class = false;
                1
            }
            _ => c.len_utf8(),
        };
        out.push_str(&rest[..len]);
        rest = &rest[len..];
    }
    out
}

/// `\\d-`, `\\W-` and the like: a Perl class escape and a `-` that does not
/// close the class.
fn is_perl_class_then_dash(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() > 3 && b"dDsSwW".contains(&bytes[1]) && bytes[2] == b'-' && bytes[3] != b']'
}

/// Whether `text` starts with a repetition count as Go parses one:
/// `{`, digits, optionally `,` and more digits, `}`.
fn starts_repetition(text: &str) -> bool {
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(rest) = text.strip_prefix('{') else {
        return false;
    };
    let min = digits(rest);
    if min == 0 {
        return false;
    }
    let rest = &rest[min..];
    let rest = match rest.strip_prefix(',') {
        Some(max) => &max[digits(max)..],
        None => rest,
    };
    rest.starts_with('}')
}

/// Refuses what `regex-syntax` accepts and Go does not.
struct GoOnly<'a> {
    pattern: &'a str,
}

impl ast::Visitor for GoOnly<'_> {
    type Output = ();
    type Err = String;

    fn finish(self) -> Result<(), String> {
        Ok(())
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), String> {
        match ast {
            Ast::Flags(flags) => check_flags(&flags.flags),
            Ast::Group(group) => match &group.kind {
                ast::GroupKind::NonCapturing(flags) => check_flags(flags),
                _ => Ok(()),
            },
            Ast::Literal(literal) => self.check_literal(literal),
            Ast::ClassUnicode(class) => check_unicode(class),
            Ast::Repetition(repetition) => check_repetition(repetition),
            _ => Ok(()),
        }
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), String> {
        match item {
            ClassSetItem::Literal(literal) => self.check_literal(literal),
            ClassSetItem::Unicode(class) => check_unicode(class),
            _ => Ok(()),
        }
    }

    fn visit_class_set_binary_op_pre(&mut self, op: &ast::ClassSetBinaryOp) -> Result<(), String> {
        let text = &self.pattern[op.span.start.offset..op.span.end.offset];
        Err(format!(
            "uses `{text}`, a class set operation of Rust's regex: Go's regexp has none, and reads the characters as they are or refuses them"
        ))
    }
}

impl GoOnly<'_> {
    fn check_literal(&self, literal: &ast::Literal) -> Result<(), String> {
        let text = &self.pattern[literal.span.start.offset..literal.span.end.offset];
        match literal.kind {
            LiteralKind::HexFixed(
                ast::HexLiteralKind::UnicodeShort | ast::HexLiteralKind::UnicodeLong,
            )
            | LiteralKind::HexBrace(
                ast::HexLiteralKind::UnicodeShort | ast::HexLiteralKind::UnicodeLong,
            ) => Err(format!(
                "uses `{text}`, an escape Go's regexp does not have (write `\\x{{...}}`)"
            )),
            // Go reads `\1` to `\7` alone as a backreference, and refuses it.
            LiteralKind::Octal if text.len() == 2 && !text.ends_with('0') => Err(format!(
                "uses `{text}`, a backreference, which Go's regexp does not support"
            )),
            _ => Ok(()),
        }
    }
}

fn check_flags(flags: &ast::Flags) -> Result<(), String> {
    for item in &flags.items {
        let ast::FlagsItemKind::Flag(flag) = item.kind else {
            continue;
        };
        let name = match flag {
            Flag::Unicode => 'u',
            Flag::CRLF => 'R',
            Flag::IgnoreWhitespace => 'x',
            Flag::CaseInsensitive | Flag::MultiLine | Flag::DotMatchesNewLine | Flag::SwapGreed => {
                continue;
            }
        };
        return Err(format!(
            "uses the flag `{name}`; Go's regexp has only `i`, `m`, `s` and `U`"
        ));
    }
    Ok(())
}

fn check_unicode(class: &ast::ClassUnicode) -> Result<(), String> {
    match &class.kind {
        ClassUnicodeKind::OneLetter(letter) => {
            if GO_ONE_LETTER_CATEGORIES.contains(letter) {
                Ok(())
            } else {
                Err(format!(
                    "names the Unicode class `{letter}`, which is not one of Go's general categories"
                ))
            }
        }
        ClassUnicodeKind::Named(_) => Ok(()),
        ClassUnicodeKind::NamedValue { name, value, .. } => Err(format!(
            "names a Unicode property value (`{name}` `{value}`), which Go's regexp does not support; name a category or script alone, e.g. `\\p{{Lu}}`"
        )),
    }
}

/// The largest count of a counted repetition (`{n}`, `{n,}`: n; `{m,n}`:
/// n, the parser refusing m > n), as Go's `repeatIsValid` and `maxRepeat`
/// read it; `None` for `*`, `+` and `?`.
fn count(repetition: &ast::Repetition) -> Option<u32> {
    match repetition.op.kind {
        ast::RepetitionKind::Range(
            ast::RepetitionRange::Exactly(n)
            | ast::RepetitionRange::AtLeast(n)
            | ast::RepetitionRange::Bounded(_, n),
        ) => Some(n),
        _ => None,
    }
}

fn check_repetition(repetition: &ast::Repetition) -> Result<(), String> {
    if matches!(*repetition.ast, Ast::Repetition(_)) {
        return Err(
            "repeats a repetition (such as `a**`), which Go's regexp refuses as an invalid nested repetition operator"
                .into(),
        );
    }
    if count(repetition).is_some_and(|n| n > GO_MAX_REPEAT) {
        return Err(format!(
            "repeats more than {GO_MAX_REPEAT} times, which Go's regexp refuses"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_go_accepts() {
        for ok in [
            r"^\[",
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2}",
            r"^\s+at\s",
            r"(?i)^error",
            r"(?P<level>INFO|WARN)",
            r"(?<level>INFO)", // Go 1.22 and later
            r"^{",
            r"^\{",
            r"a{,3}",
            r"{}",
            r"(?)a",
            r"^\d{1000}",
            r"\x41\x{1F600}",
            r"\0\12\123",
            r"\pL\p{Lu}\PN\p{Greek}",
            r"[[:alpha:]]",
            r"\Q[*]\E+",
            r"\Qa.b",
            r"[]a]",
            r"^\<",
            r"a*?",
            r"(a*)*",
            r"(a{10}){100}",
            r"[\d-z]",
            r"[a\w-]",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn what_go_refuses() {
        for (bad, why) in [
            (r"^[", "is not a regular expression"),
            (r"(?x)^a", "the flag `x`"),
            (r"(?u:a)", "the flag `u`"),
            (r"\u0041", "`\\u0041`"),
            (r"[\U0001F600]", "`\\U0001F600`"),
            (r"(a)\1", "backreference"),
            (r"[\Q]", "is not a regular expression"),
            (r"\p{gc=Lu}", "property value"),
            (r"\pX", "general categories"),
            (r"[a-z&&[^aeiou]]", "class set operation"),
            (r"a**", "nested repetition"),
            (r"a{1001}", "more than 1000"),
            (r"a{2,1001}", "more than 1000"),
            (r"(a{100}){100}", "product passes 1000"),
            (r"(?:a{500}){3}", "product passes 1000"),
        ] {
            let reason = check(bad).expect_err(bad);
            assert!(reason.contains(why), "{bad}: {reason}");
        }
    }

    #[test]
    fn gos_own_syntax_is_rewritten_outside_classes_only() {
        assert_eq!(as_rust(r"\Q.*\E+"), r"\.\*+");
        assert_eq!(as_rust(r"\Qab"), "ab");
        assert_eq!(as_rust(r"[\Q]x"), r"[\Q]x");
        assert_eq!(as_rust(r"[]\Q]\Q]"), r"[]\Q]\]");
        assert_eq!(as_rust(r"[[:alpha:]\Q]\Qa"), r"[[:alpha:]\Q]a");
        assert_eq!(as_rust(r"\\Q"), r"\\Q");
        assert_eq!(as_rust(r"^{a{2}b{2,}c{2,3}[{]"), r"^\{a{2}b{2,}c{2,3}[{]");
        assert_eq!(as_rust(r"a{,3}(?)"), r"a\{,3}");
        assert_eq!(as_rust(r"\x{41}\p{Lu}\P{L}"), r"\x{41}\p{Lu}\P{L}");
    }
}
