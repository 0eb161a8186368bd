//! minijinja over string fields, strict: an undefined variable is an error
//! at the file and line of the template, never an empty string. A template
//! renders to a string value, so it can never inject YAML structure.

use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::diag::{Code, Diagnostic};
use crate::input;
use crate::node::de::Spanned;
use crate::node::{Node, ScalarKind, Value};
use crate::source::Span;

/// The fields of an overlay's `environment` that are templates, the ones
/// [`Templates::scope`] expands; the others are read as written (and
/// `crate::validate` refuses template syntax in them).
pub const ENVIRONMENT_TEMPLATES: [&str; 3] = ["namespace", "domain", "gateway"];

/// Bound on the work one template may do (loops, filters).
const FUEL: u64 = 50_000;

/// `service.*` in templates.
#[derive(Clone, Debug, Serialize)]
pub struct ServiceScope {
    pub name: String,
    pub team: String,
}

/// `env.*` in templates; fields not yet known are left out, so using them is an error.
#[derive(Clone, Debug, Serialize)]
pub struct EnvScope {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

/// `region.*` in templates.
#[derive(Clone, Debug, Serialize)]
pub struct RegionScope {
    pub name: String,
    pub cluster: String,
    pub primary: bool,
}

/// Everything a template can see.
#[derive(Clone, Debug, Serialize)]
pub struct Scope {
    pub service: ServiceScope,
    pub env: EnvScope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionScope>,
}

/// A strict template engine.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Name the undefined variable in release builds too (minijinja
        // turns its debug info off without debug assertions).
        env.set_debug(true);
        env.set_fuel(Some(FUEL));
        // Keep the text as written: minijinja drops a template's final
        // newline by default, so a templated file would lose it where the
        // same text without a template keeps it.
        env.set_syntax(
            SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                // The default delimiters always build.
                .unwrap_or_default(),
        );
        // Booleans print as YAML and Kubernetes write them, not Python's `True`.
        env.set_formatter(|out, state, value| match value.kind() {
            ValueKind::Bool => out
                .write_str(if value.is_true() { "true" } else { "false" })
                .map_err(Into::into),
            _ => minijinja::escape_formatter(out, state, value),
        });
        Self { env }
    }
}

/// Does this text contain template syntax?
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

impl Templates {
    /// Render one string found at `span`.
    pub fn render(&self, text: &str, span: Span, scope: &Scope) -> Result<String, Diagnostic> {
        if !is_template(text) {
            return Ok(text.to_owned());
        }
        self.env
            .render_str(text, minijinja::value::Serde(scope))
            .map_err(|e| error(&e, span, scope))
    }

    /// Render every template string in a tree, in place; one diagnostic per failing string.
    pub fn expand(&self, tree: &mut Node, scope: &Scope, diags: &mut Vec<Diagnostic>) {
        match &mut tree.value {
            Value::Scalar(s) if s.kind == ScalarKind::Str && is_template(&s.text) => {
                match self.render(&s.text, tree.span, scope) {
                    Ok(text) => s.text = text,
                    Err(diag) => diags.push(diag),
                }
            }
            Value::Scalar(_) => {}
            Value::Seq(items) => items.iter_mut().for_each(|n| self.expand(n, scope, diags)),
            Value::Map(entries) => entries
                .iter_mut()
                .for_each(|e| self.expand(&mut e.value, scope, diags)),
        }
    }
}

fn error(error: &minijinja::Error, span: Span, scope: &Scope) -> Diagnostic {
    let detail = error
        .detail()
        .map_or_else(|| error.kind().to_string(), str::to_owned);
    let diag = Diagnostic::error(
        Code::TEMPLATE_ERROR,
        span,
        format!("template error: {detail}"),
    );
    match error.kind() {
        minijinja::ErrorKind::UndefinedError => diag
            .with_label("this template uses a variable that is not defined here")
            .with_hint(format!("in scope here: {}", in_scope(scope))),
        minijinja::ErrorKind::OutOfFuel => {
            diag.with_hint("templates may not loop this much; simplify it")
        }
        _ => diag,
    }
}

/// The variable names a scope offers, for hints.
fn in_scope(scope: &Scope) -> String {
    let json = serde_json::to_value(scope).unwrap_or_default();
    let mut names = Vec::new();
    for (top, value) in json.as_object().into_iter().flatten() {
        for field in value.as_object().into_iter().flatten().map(|(k, _)| k) {
            names.push(format!("`{top}.{field}`"));
        }
    }
    names.join(", ")
}

impl Templates {
    /// The scope of one service's templates in one region, with the
    /// environment's namespace and gateway rendered. Built in dependency
    /// order: the namespace sees `service` and `env.name`; domain and
    /// gateway also see `region`.
    pub fn scope(
        &self,
        service: ServiceScope,
        (env_name, env): (&str, &input::Environment),
        region: &input::Region,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Scope, Spanned<String>, Spanned<String>)> {
        let mut scope = Scope {
            service,
            env: EnvScope {
                name: env_name.to_owned(),
                domain: None,
                namespace: None,
                gateway: None,
            },
            region: None,
        };
        let namespace = self.field(&env.namespace, &scope, diags)?;
        scope.env.namespace = Some(namespace.value.clone());
        scope.region = Some(RegionScope {
            name: region.name.value.clone(),
            cluster: region.cluster.value.clone(),
            primary: region.primary,
        });
        scope.env.domain = Some(self.field(&env.domain, &scope, diags)?.value);
        let gateway = self.field(&env.gateway, &scope, diags)?;
        scope.env.gateway = Some(gateway.value.clone());
        Some((scope, namespace, gateway))
    }

    /// A spanned field rendered in `scope`, keeping its span.
    fn field(
        &self,
        field: &Spanned<String>,
        scope: &Scope,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Spanned<String>> {
        match self.render(&field.value, field.span, scope) {
            Ok(value) => Some(Spanned {
                span: field.span,
                value,
            }),
            Err(diag) => {
                diags.push(diag);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::source::Sources;

    fn scope() -> Scope {
        Scope {
            service: ServiceScope {
                name: "orders".into(),
                team: "commerce".into(),
            },
            env: EnvScope {
                name: "prod".into(),
                domain: Some("example.com".into()),
                namespace: Some("commerce-prod".into()),
                gateway: None,
            },
            region: Some(RegionScope {
                name: "eu-west-1".into(),
                cluster: "prod-eu-west-1".into(),
                primary: false,
            }),
        }
    }

    fn expand(text: &str) -> (Sources, Node, Vec<Diagnostic>) {
        let mut sources = Sources::default();
        let id = sources.add("t.yaml".into(), "t.yaml".into(), text.into());
        let mut node = parse(sources.get(id), id).expect("parses");
        let mut diags = Vec::new();
        Templates::default().expand(&mut node, &scope(), &mut diags);
        (sources, node, diags)
    }

    #[test]
    fn expands_strings_and_leaves_the_rest() {
        let (_, node, diags) =
            expand("host: \"{{ service.name }}.{{ env.domain }}\"\nport: 80\nplain: x\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            node.to_json().to_string(),
            r#"{"host":"orders.example.com","port":80,"plain":"x"}"#
        );
    }

    #[test]
    fn undefined_variables_are_errors_at_their_line() {
        let (sources, _, diags) =
            expand("a: ok\nb: \"{{ env.gateway }}\"\nc: \"{{ region.zone }}\"\n");
        assert_eq!(diags.len(), 2);
        let crate::diag::Location::Span(span) = diags[0].location else {
            panic!("span expected");
        };
        assert_eq!(sources.locate(span), "t.yaml:2:4");
        assert!(
            diags[0]
                .hint
                .as_deref()
                .unwrap_or("")
                .contains("`env.domain`")
        );
    }

    #[test]
    fn booleans_render_as_yaml_writes_them() {
        let (_, node, diags) = expand("a: \"{{ region.primary }}\"\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(node.get("a").and_then(Node::as_str), Some("false"));
    }

    #[test]
    fn output_is_text_not_yaml() {
        let (_, node, diags) = expand("a: \"{{ '{x: 1}' }}\"\n");
        assert!(diags.is_empty());
        assert_eq!(node.get("a").and_then(Node::as_str), Some("{x: 1}"));
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        let (_, _, diags) = expand(
            "a: \"{% for i in range(100000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}\"\n",
        );
        assert_eq!(diags.len(), 1);
    }

    #[test]
    fn a_template_keeps_its_final_newline() {
        let (_, tree, diags) =
            expand("text: \"hello {{ service.name }}\\n\"\nplain: \"hello\\n\"\n");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(
            tree.get("text").and_then(Node::as_str),
            Some("hello orders\n")
        );
        assert_eq!(tree.get("plain").and_then(Node::as_str), Some("hello\n"));
    }
}
