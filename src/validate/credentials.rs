//! Credentials written as literals end up in Git and in every rendered
//! object. Everywhere a literal can land in the output is searched: a
//! variable whose name or value says it is a credential, a line of a
//! mounted file that sets a secret-named key, a command-line flag that
//! takes one, an annotation, and any other string that holds a private key
//! or an AWS access key. Template syntax is no cover: the text around the
//! template is literal (templates see only names, never secrets). The
//! value is masked in the message.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::diag::{Code, Diagnostic};
use crate::node::{Entry, Node, Value};
use crate::source::Span;

/// Words whose presence as a name's last word says it holds a credential.
const SECRET_WORDS: [&str; 7] = [
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "APIKEY",
    "CREDENTIALS",
    "PRIVATEKEY",
];

/// Every credential in a (partial) blueprint; `text` is its file's text,
/// for pointing at the line of a file's content that holds one.
pub fn check(tree: &Node, text: &str, diags: &mut Vec<Diagnostic>) {
    // Each finding with the span of the value it is about.
    let mut named: Vec<(Span, Diagnostic)> = Vec::new();
    for container in entries(tree.get("containers")) {
        for variable in entries(container.value.get("variables")) {
            named.extend(variable_credential(variable));
        }
        for file in items(container.value.get("files")) {
            named.extend(file_credential(file, text));
        }
        for list in ["command", "args"] {
            for arg in items(container.value.get(list)) {
                named.extend(flag_credential(arg));
            }
        }
    }
    for annotation in entries(tree.get("metadata").and_then(|m| m.get("annotations"))) {
        named.extend(annotation_credential(annotation));
    }
    // One finding per value, the most specific first.
    let mut found: BTreeMap<(u32, u32), Diagnostic> = BTreeMap::new();
    for (span, diag) in named {
        found.entry((span.start, span.end)).or_insert(diag);
    }
    anywhere(tree, &mut |node, why| {
        let diag = Diagnostic::error(
            Code::CREDENTIAL_LITERAL,
            node.span,
            format!("this value looks like a credential: {why}"),
        )
        .with_label("value hidden")
        .with_hint("keep it in a Kubernetes Secret: slipway writes this value into Git")
        .redacted();
        found
            .entry((node.span.start, node.span.end))
            .or_insert(diag);
    });
    diags.extend(found.into_values());
}

fn entries(node: Option<&Node>) -> &[Entry] {
    node.and_then(Node::as_map).unwrap_or_default()
}

fn items(node: Option<&Node>) -> &[Node] {
    node.and_then(Node::as_seq).unwrap_or_default()
}

/// The literal text of a string: template expressions, statements and
/// comments removed (what they render is a name, never a secret).
fn literal(text: &str) -> Cow<'_, str> {
    if !text.contains('{') {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = ["{{", "{%", "{#"]
        .iter()
        .filter_map(|open| rest.find(open))
        .min()
    {
        out.push_str(&rest[..start]);
        let close = match &rest[start..start + 2] {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let Some(end) = rest[start..].find(close) else {
            return Cow::Owned(out);
        };
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// What in a literal text is a credential by its form alone (a PEM
/// header is one line, so a line holds all it takes).
fn by_value(text: &str) -> Option<&'static str> {
    if text.contains("-----BEGIN")
        && text
            .lines()
            .any(|line| line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----"))
    {
        return Some("it holds a PEM private key");
    }
    is_aws_access_key(text).then_some("it holds an AWS access key id")
}

/// Does a name (`DB_PASSWORD`, `api-key`, `spring.datasource.password`)
/// say it holds a credential?
fn names_a_secret(name: &str) -> bool {
    let last = name.rsplit(['_', '-', '.', '/']).next().unwrap_or_default();
    SECRET_WORDS.iter().any(|w| last.eq_ignore_ascii_case(w))
        || ["APIKEY", "PRIVATEKEY"]
            .iter()
            .any(|w| ends_with_word(name, w))
}

/// Does `name`, with `_`, `-` and `.` left out and in any case, end with
/// `word`?
fn ends_with_word(name: &str, word: &str) -> bool {
    let mut letters = name.bytes().rev().filter(|b| !b"_-.".contains(b));
    word.bytes()
        .rev()
        .all(|w| letters.next().is_some_and(|b| b.eq_ignore_ascii_case(&w)))
}

/// A value that stands for one set elsewhere (`$(DB_PASSWORD)`,
/// `${TOKEN}`, `<password>`), or is no credential at all (empty, a
/// boolean, null).
fn is_placeholder(value: &str) -> bool {
    let value = value.trim().trim_matches(['"', '\'']).trim();
    value.is_empty()
        || value.starts_with(['$', '<', '%', '{'])
        || [
            "true", "false", "yes", "no", "on", "off", "null", "~", "none",
        ]
        .contains(&value.to_ascii_lowercase().as_str())
}

/// The text of a variable's value with its kubelet references `$(NAME)`
/// removed: the kubelet expands each from another variable of the
/// container (kubernetes `third_party/forked/golang/expansion/expand.go`,
/// `$$` a literal `$`), which is checked on its own. A Score placeholder
/// of a data store's `password` is one, `$(DB_PASSWORD)`, read from a
/// Secret by the dependency.
fn without_references(text: &str) -> Cow<'_, str> {
    if !text.contains("$(") {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix('$') {
            out.push_str("$$");
            rest = escaped;
        } else if let Some(end) = after
            .strip_prefix('(')
            .and_then(|r| r.find(')'))
            .filter(|end| *end > 0 && !after[1..=*end].contains(['$', '(']))
        {
            rest = &after[end + 2..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn variable_credential(variable: &Entry) -> Option<(Span, Diagnostic)> {
    let Value::Scalar(scalar) = &variable.value.value else {
        return None;
    };
    let untemplated = literal(&scalar.text);
    let text = without_references(&untemplated);
    let why = by_value(&text).or_else(|| {
        let said = if untemplated.len() != scalar.text.len() {
            "its name says it holds a secret, and its template writes literal text into it"
        } else if text.len() != untemplated.len() {
            "its name says it holds a secret, and the text beside its `$(...)` references is literal"
        } else {
            "its name says it holds a secret"
        };
        (names_a_secret(&variable.key) && !text.trim().is_empty()).then_some(said)
    })?;
    let span = variable.value.span;
    let diag = Diagnostic::error(
        Code::CREDENTIAL_LITERAL,
        span,
        format!("variable `{}` looks like a credential: {why}", variable.key),
    )
    .with_label("value hidden")
    .with_hint(format!(
        "keep it in a Kubernetes Secret and reference it: `secrets: {{{}: {{secret: <name>, key: <key>}}}}`",
        variable.key
    ))
    .redacted();
    Some((span, diag))
}

/// A mounted file (a ConfigMap, readable by anyone who can read the
/// namespace) holding a private key, an access key, or a line that sets a
/// secret-named key to a literal value.
fn file_credential(file: &Node, text: &str) -> Option<(Span, Diagnostic)> {
    let content = file.get("content")?;
    let body = literal(content.as_str()?);
    let (line, why) = body.lines().enumerate().find_map(|(i, line)| {
        let why = match by_value(line) {
            Some(why) => why.trim_start_matches("it ").to_owned(),
            None => format!("sets `{}` to a literal value", assignment(line)?),
        };
        Some((line, format!("its line {} {why}", i + 1)))
    })?;
    let span = line_span(content.span, text, line).unwrap_or(content.span);
    let target = file.get("target").and_then(Node::as_str).unwrap_or("file");
    let diag = Diagnostic::error(
        Code::CREDENTIAL_LITERAL,
        span,
        format!("mounted file `{target}` looks like it holds a credential: {why}"),
    )
    .with_label("value hidden")
    .with_hint("mount it from a Kubernetes Secret, or have the app read it from a variable set by `secrets`")
    .redacted();
    Some((content.span, diag))
}

/// The key of a `key: value`, `key = value` or `"key": "value"` line that
/// sets a secret-named key to a literal value.
fn assignment(line: &str) -> Option<&str> {
    // Inside JSON a line may open an object or continue a list.
    let line = line.trim_start().trim_start_matches(['{', '[', ',', ' ']);
    let line = line.strip_prefix("export ").unwrap_or(line);
    let at = line.find([':', '='])?;
    let key = line[..at].trim().trim_matches(['"', '\'']);
    let valid = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    let value = line[at + 1..].trim().trim_end_matches(',');
    (valid && names_a_secret(key) && !is_placeholder(value)).then_some(key)
}

/// The span of `line` inside a scalar's source text, when it is written
/// there as it reads (a block scalar, a plain or quoted one-liner).
fn line_span(scalar: Span, text: &str, line: &str) -> Option<Span> {
    let source = text.get(scalar.start as usize..scalar.end as usize)?;
    let line = line.trim();
    let at = u32::try_from(source.find(line)?).ok()?;
    let len = u32::try_from(line.len()).ok()?;
    Some(Span {
        file: scalar.file,
        start: scalar.start + at,
        end: scalar.start + at + len,
    })
}

/// `--db-password=hunter2`: a flag that says it takes a secret, given a
/// literal value (`--db-password=$(DB_PASSWORD)` is expanded by the
/// kubelet from a variable, and passes).
fn flag_credential(arg: &Node) -> Option<(Span, Diagnostic)> {
    let text = literal(arg.as_str()?);
    let (flag, value) = text.trim_start_matches('-').split_once('=')?;
    if !text.starts_with('-') || !names_a_secret(flag) || is_placeholder(value) {
        return None;
    }
    let diag = Diagnostic::error(
        Code::CREDENTIAL_LITERAL,
        arg.span,
        format!("argument `--{flag}` is given a literal credential"),
    )
    .with_label("value hidden")
    .with_hint(format!(
        "set a variable from `secrets` and pass it as `--{flag}=$(NAME)`: the kubelet expands it"
    ))
    .redacted();
    Some((arg.span, diag))
}

fn annotation_credential(annotation: &Entry) -> Option<(Span, Diagnostic)> {
    let value = literal(annotation.value.as_str()?);
    if !names_a_secret(&annotation.key) || is_placeholder(&value) {
        return None;
    }
    let span = annotation.value.span;
    let diag = Diagnostic::error(
        Code::CREDENTIAL_LITERAL,
        span,
        format!(
            "annotation `{}` looks like a credential: its name says it holds a secret",
            annotation.key
        ),
    )
    .with_label("value hidden")
    .with_hint("annotations are copied onto every rendered object: keep credentials in a Kubernetes Secret")
    .redacted();
    Some((span, diag))
}

/// Every string in the tree, outside `secrets` (references), whose literal
/// text is a credential by its form.
fn anywhere(node: &Node, found: &mut impl FnMut(&Node, &'static str)) {
    match &node.value {
        Value::Scalar(_) => {
            if let Some(why) = node.as_str().and_then(|text| by_value(&literal(text))) {
                found(node, why);
            }
        }
        Value::Seq(items) => items.iter().for_each(|n| anywhere(n, found)),
        Value::Map(entries) => entries
            .iter()
            .filter(|e| e.key != "secrets")
            .for_each(|e| anywhere(&e.value, found)),
    }
}

/// `AKIA…`/`ASIA…` and 16 more uppercase letters or digits.
fn is_aws_access_key(text: &str) -> bool {
    // Most strings hold neither prefix: skip splitting them into words.
    (text.contains("AKIA") || text.contains("ASIA"))
        && text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| {
                word.len() == 20
                    && (word.starts_with("AKIA") || word.starts_with("ASIA"))
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::source::Sources;

    fn found_in(text: String) -> Vec<String> {
        let mut sources = Sources::default();
        let id = sources.add("t.yaml".into(), "t.yaml".into(), text.clone());
        let tree = parse(sources.get(id), id).expect("parses");
        let mut diags = Vec::new();
        check(&tree, &text, &mut diags);
        diags.into_iter().map(|d| d.message).collect()
    }

    fn found(variables: &str) -> Vec<String> {
        found_in(format!("containers:\n  app:\n    variables:\n{variables}"))
    }

    #[test]
    fn credentials_are_found_by_value_and_by_name() {
        assert_eq!(found("      KEY_ID: AKIAIOSFODNN7EXAMPLE\n").len(), 1);
        assert_eq!(
            found("      CERT: \"-----BEGIN RSA PRIVATE KEY-----\\nabc\"\n").len(),
            1
        );
        for name in [
            "DB_PASSWORD",
            "API_TOKEN",
            "CLIENT_SECRET",
            "STRIPE_API_KEY",
            "GITHUB-TOKEN",
        ] {
            assert_eq!(
                found(&format!("      {name}: hunter2\n")).len(),
                1,
                "{name}"
            );
        }
    }

    #[test]
    fn templates_do_not_hide_the_literal_text_around_them() {
        let found = found(
            "      DB_PASSWORD: \"{{ env.name }}-hunter2\"\n      ID: \"{{ env.name }}AKIAIOSFODNN7EXAMPLE\"\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("template writes literal text"),
            "{found:?}"
        );
    }

    #[test]
    fn ordinary_variables_pass() {
        let ok = "      TOKEN_TTL: 30m\n      SECRET_NAME: orders-db\n      LOG_LEVEL: info\n      PASSWORD: \"\"\n      API_TOKEN: \"{{ env.name }}\"\n";
        assert!(found(ok).is_empty(), "{:?}", found(ok));
    }

    #[test]
    fn kubelet_references_are_no_literal() {
        // `$(DB_PASSWORD)` is read from the variable the dependency sets
        // from a Secret; `$$(X)` is the literal text `$(X)`.
        let ok = "      POSTGRES_PASSWORD: $(MY_POSTGRES_PASSWORD)\n      DB_TOKEN: \"$(A)$(B)\"\n";
        assert!(found(ok).is_empty(), "{:?}", found(ok));
        for literal in ["hunter2$(A)", "$$(A)", "$(A) x", "$()"] {
            let found = found(&format!("      DB_PASSWORD: \"{literal}\"\n"));
            assert_eq!(found.len(), 1, "{literal}: {found:?}");
            let beside = found[0].ends_with("the text beside its `$(...)` references is literal");
            assert_eq!(
                beside,
                literal.contains("$(A)") && !literal.contains("$$"),
                "{found:?}"
            );
        }
    }

    fn file(content: &str) -> Vec<String> {
        found_in(format!(
            "containers:\n  app:\n    files:\n      - target: /etc/app/app.conf\n        content: |\n{content}"
        ))
    }

    #[test]
    fn mounted_files_are_searched_line_by_line() {
        for content in [
            "          db:\n            password: hunter2\n",
            "          spring.datasource.password=hunter2\n",
            "          {\"apiKey\": \"abc123\",\n          \"level\": 3}\n",
            "          export GITHUB_TOKEN=ghp_abc\n",
            "          -----BEGIN PRIVATE KEY-----\n          abc\n          -----END PRIVATE KEY-----\n",
        ] {
            assert_eq!(file(content).len(), 1, "{content}");
        }
        let message = &file("          level: info\n          token: abc\n")[0];
        assert!(message.contains("line 2 sets `token`"), "{message}");
    }

    #[test]
    fn files_that_refer_to_credentials_pass() {
        for content in [
            "          password: ${DB_PASSWORD}\n",
            "          password_file: /run/secrets/db\n",
            "          require_password: true\n",
            "          token: \"{{ env.name }}\"\n",
            "          secret:\n            name: orders\n",
            "          password: <set by the operator>\n",
        ] {
            assert!(file(content).is_empty(), "{content}: {:?}", file(content));
        }
    }

    #[test]
    fn flags_and_annotations_with_literal_credentials() {
        let tree = "metadata:\n  annotations: {example.com/api-token: abc, example.com/token-ttl: 1h}\ncontainers:\n  app:\n    args: [--db-password=hunter2, \"--db-password=$(DB_PASSWORD)\", --port=80, --token]\n";
        let found = found_in(tree.into());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().any(|m| m.contains("`--db-password`")));
        assert!(found.iter().any(|m| m.contains("`example.com/api-token`")));
    }

    #[test]
    fn keys_anywhere_else_are_found_by_their_form() {
        let found = found_in("routes:\n  - host: AKIAIOSFODNN7EXAMPLE.example.com\n".into());
        assert_eq!(
            found,
            ["this value looks like a credential: it holds an AWS access key id"]
        );
    }

    #[test]
    fn secret_names_are_read_in_any_case_and_spelling() {
        for name in [
            "DB_PASSWORD",
            "db-password",
            "spring.datasource.password",
            "api-key",
            "Stripe_Api.Key",
            "tls.privateKey",
            "token",
        ] {
            assert!(names_a_secret(name), "{name}");
        }
        for name in [
            "PASSWORD_FILE",
            "monkey",
            "keys",
            "TOKENIZER",
            "apikeyring",
            "",
        ] {
            assert!(!names_a_secret(name), "{name}");
        }
    }
}
