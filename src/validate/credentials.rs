//! Credentials written as plain `variables` end up in Git and in every
//! rendered Deployment. Values that look like one are refused, and the
//! value is masked in the message.

use crate::diag::{Code, Diagnostic};
use crate::node::{Entry, Node, Value};

/// Variable names whose last word says they hold a credential.
const SECRET_WORDS: [&str; 7] = [
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "APIKEY",
    "CREDENTIALS",
    "PRIVATEKEY",
];

/// Every variable of a (partial) blueprint's containers that holds a credential.
pub fn check(tree: &Node, diags: &mut Vec<Diagnostic>) {
    let containers = tree
        .get("containers")
        .and_then(Node::as_map)
        .unwrap_or_default();
    for container in containers {
        let variables = container
            .value
            .get("variables")
            .and_then(Node::as_map)
            .unwrap_or_default();
        for variable in variables {
            if let Some(why) = credential(variable) {
                diags.push(
                    Diagnostic::error(Code::CREDENTIAL_LITERAL, variable.value.span, format!("variable `{}` looks like a credential: {why}", variable.key))
                        .with_label("value hidden")
                        .with_hint(format!(
                            "keep it in a Kubernetes Secret and reference it: `secrets: {{{}: {{secret: <name>, key: <key>}}}}`",
                            variable.key
                        ))
                        .redacted(),
                );
            }
        }
    }
}

fn credential(variable: &Entry) -> Option<&'static str> {
    let Value::Scalar(scalar) = &variable.value.value else {
        return None;
    };
    let text = scalar.text.trim();
    if text.is_empty() || crate::template::is_template(text) {
        return None;
    }
    if text.contains("-----BEGIN") && text.contains("KEY-----") {
        return Some("it holds a PEM private key");
    }
    if is_aws_access_key(text) {
        return Some("it holds an AWS access key id");
    }
    let last_word = variable
        .key
        .rsplit(['_', '-', '.'])
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let joined = variable
        .key
        .to_ascii_uppercase()
        .replace(['_', '-', '.'], "");
    let named = SECRET_WORDS.contains(&last_word.as_str())
        || ["APIKEY", "PRIVATEKEY"].iter().any(|w| joined.ends_with(w));
    named.then_some("its name says it holds a secret")
}

/// `AKIA…`/`ASIA…` and 16 more uppercase letters or digits.
fn is_aws_access_key(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
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

    fn found(variables: &str) -> Vec<String> {
        let text = format!("containers:\n  app:\n    variables:\n{variables}");
        let mut sources = Sources::default();
        let id = sources.add("t.yaml".into(), "t.yaml".into(), text);
        let tree = parse(sources.get(id), id).expect("parses");
        let mut diags = Vec::new();
        check(&tree, &mut diags);
        diags.into_iter().map(|d| d.message).collect()
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
    fn ordinary_variables_pass() {
        let ok = "      TOKEN_TTL: 30m\n      SECRET_NAME: orders-db\n      LOG_LEVEL: info\n      PASSWORD: \"\"\n      API_TOKEN: \"{{ env.name }}\"\n";
        assert!(found(ok).is_empty(), "{:?}", found(ok));
    }
}
