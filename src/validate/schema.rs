//! JSON Schema validation of input trees, with every error mapped back to the
//! `file:line:col` of the offending key or value.

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value as Json;

use crate::diag::{Code, Diagnostic};
use crate::duration::{Grammar, Refusal};
use crate::input::FileKind;
use crate::node::json::Tree;
use crate::node::path::{Segment, display};
use crate::node::{Node, ScalarKind, Value};
use crate::suggest::did_you_mean;

pub const BLUEPRINT_SCHEMA: &str = include_str!("../../schemas/blueprint.schema.json");
pub const OVERLAY_SCHEMA: &str = include_str!("../../schemas/overlay.schema.json");
pub const SCORE_SCHEMA: &str = include_str!("../../schemas/score.schema.json");

struct Compiled {
    schema: Json,
    validator: Validator<Tree>,
}

fn compile(text: &str) -> Compiled {
    // The schemas are compiled into the binary and covered by tests, so a
    // failure here is a build defect, not a user error.
    let schema: Json =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("embedded schema is not JSON: {e}"));
    let mut options = jsonschema::options_for::<Tree>().should_validate_formats(true);
    for grammar in Grammar::ALL {
        options = options.with_format(grammar.format(), move |text| grammar.check(text).is_ok());
    }
    let validator = options
        .build(&schema)
        .unwrap_or_else(|e| panic!("embedded schema does not compile: {e}"));
    Compiled { schema, validator }
}

static BLUEPRINT: LazyLock<Compiled> = LazyLock::new(|| compile(BLUEPRINT_SCHEMA));
static OVERLAY: LazyLock<Compiled> = LazyLock::new(|| compile(OVERLAY_SCHEMA));
static SCORE: LazyLock<Compiled> = LazyLock::new(|| compile(SCORE_SCHEMA));

/// Validate a tree; one diagnostic per schema error.
pub fn check(tree: &Node, schema: FileKind) -> Vec<Diagnostic> {
    let compiled = match schema {
        // A side file is checked as part of the blueprint its Score
        // workload becomes (`validate::score`).
        FileKind::Blueprint | FileKind::ScoreExtension => &*BLUEPRINT,
        FileKind::Overlay => &*OVERLAY,
        FileKind::Score => &*SCORE,
    };
    if compiled.validator.is_valid(tree) {
        return Vec::new();
    }
    compiled
        .validator
        .iter_errors(tree)
        .flat_map(|error| describe(tree, &compiled.schema, &error))
        .collect()
}

/// Is `path` a field of the blueprint contract? `Err` says where it leaves
/// the contract, with a did-you-mean hint.
pub fn check_field(path: &[Segment]) -> Result<(), String> {
    let schema = &BLUEPRINT.schema;
    let mut node = schema;
    for (depth, segment) in path.iter().enumerate() {
        node = resolve_ref(schema, node);
        let next = match segment {
            Segment::Key(key) => node
                .get("properties")
                .and_then(|p| p.get(key))
                .or_else(|| node.get("additionalProperties").filter(|a| a.is_object())),
            Segment::Index(_) => node.get("items"),
        };
        let Some(next) = next else {
            let known: Vec<&str> = node
                .get("properties")
                .and_then(Json::as_object)
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let name = match segment {
                Segment::Key(key) => key.clone(),
                Segment::Index(i) => i.to_string(),
            };
            let hint = did_you_mean(&name, known.iter().copied())
                .or_else(|| {
                    (!known.is_empty()).then(|| format!("fields here: {}", known.join(", ")))
                })
                .unwrap_or_else(|| "this field has no parts".to_owned());
            return Err(format!(
                "`{}` is not a blueprint field; {hint}",
                display(&path[..=depth])
            ));
        };
        node = next;
    }
    Ok(())
}

fn resolve_ref<'a>(schema: &'a Json, node: &'a Json) -> &'a Json {
    node.get("$ref")
        .and_then(Json::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .and_then(|name| schema.get("$defs")?.get(name))
        .unwrap_or(node)
}

fn segments(location: &jsonschema::paths::Location) -> Vec<String> {
    location.iter().map(|s| s.to_string()).collect()
}

/// Turn one schema error into diagnostics at the node it is about.
fn describe(tree: &Node, schema: &Json, error: &ValidationError<'_>) -> Vec<Diagnostic> {
    let path = segments(error.instance_path());
    let (node, key_span) = tree.locate(path.iter().map(String::as_str));
    let field = path.last().map_or("document", String::as_str);
    let schema_node = schema_at(schema, &segments(error.schema_path()));
    // A value where the format wants a secret reference: decided by the
    // schema (the `SecretRef` definition), not by a field's name.
    let in_secrets = schema_node.is_some_and(|n| Some(n) == schema.pointer("/$defs/SecretRef"));
    let diag = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            return unexpected
                .iter()
                .map(|name| unknown_field(node, schema_node, name))
                .collect();
        }
        ValidationErrorKind::Type { kind } if in_secrets => {
            let _ = kind;
            Diagnostic::error(Code::SECRET_LITERAL, node.span, format!("secret `{field}` must be a reference, not a literal value"))
                .with_hint(format!(
                    "keep the value in a Kubernetes Secret and write `{field}: {{secret: <secret name>, key: <key>}}`, or in AWS Secrets Manager and write `{field}: {{store: <secret name or ARN>}}`"
                ))
                .redacted()
        }
        ValidationErrorKind::Type { kind } => type_error(node, field, kind),
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or("?");
            Diagnostic::error(
                Code::MISSING_FIELD,
                key_span.unwrap_or(node.span),
                format!("missing required field `{name}` in `{field}`"),
            )
        }
        ValidationErrorKind::Enum { options } => {
            let names: Vec<String> = options
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o.as_str().map(str::to_owned))
                .collect();
            let mut diag = Diagnostic::error(
                Code::INVALID_VALUE,
                node.span,
                format!("`{field}` must be one of {}", backticked(&names)),
            );
            if let Some(hint) = node
                .as_str()
                .and_then(|text| did_you_mean(text, names.iter().map(String::as_str)))
            {
                diag = diag.with_hint(hint);
            }
            diag
        }
        ValidationErrorKind::Constant { expected_value } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!("`{field}` must be `{}`", plain(expected_value)),
        ),
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!("`{field}` must be at least {limit}"),
        ),
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!("`{field}` must be at most {limit}"),
        ),
        ValidationErrorKind::MinProperties { limit } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!("`{field}` needs at least {limit} entr{}", plural_y(*limit)),
        ),
        ValidationErrorKind::MaxProperties { limit } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!(
                "`{field}` takes at most {limit} field{}",
                if *limit == 1 { "" } else { "s" }
            ),
        )
        .with_hint(format!(
            "set only one of {}",
            backticked(&property_names(schema, error))
        )),
        ValidationErrorKind::MinItems { limit } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!(
                "`{field}` needs at least {limit} item{}",
                if *limit == 1 { "" } else { "s" }
            ),
        ),
        ValidationErrorKind::Format { format } => Grammar::from_format(format)
            .zip(node.as_str())
            .and_then(|(grammar, text)| {
                let refusal = grammar.check(text).err()?;
                Some(duration_refused(node, field, text, refusal))
            })
            .unwrap_or_else(|| rule_refused(node, field, error)),
        ValidationErrorKind::Pattern { .. } => {
            let what = parent_description(schema, error).unwrap_or_else(|| "a valid value".into());
            Diagnostic::error(Code::INVALID_VALUE, node.span, format!("invalid `{field}`"))
                .with_hint(format!("expected {what}"))
        }
        ValidationErrorKind::MinLength { limit: 1 } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!("`{field}` must not be empty"),
        ),
        ValidationErrorKind::MinLength { limit } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!("`{field}` must be at least {limit} characters long"),
        ),
        ValidationErrorKind::MaxLength { limit } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!("`{field}` must be at most {limit} characters long"),
        ),
        ValidationErrorKind::MaxItems { limit } => Diagnostic::error(
            Code::INVALID_VALUE,
            node.span,
            format!(
                "`{field}` takes at most {limit} item{}",
                if *limit == 1 { "" } else { "s" }
            ),
        ),
        _ => rule_refused(node, field, error),
    };
    vec![diag]
}

/// A keyword the schemas do not use today: name the rule, never the
/// validator's internal wording or the value (which may be a secret).
fn rule_refused(node: &Node, field: &str, error: &ValidationError<'_>) -> Diagnostic {
    Diagnostic::error(
        Code::INVALID_VALUE,
        node.span,
        format!(
            "invalid `{field}`: the format's `{}` rule refuses it",
            error
                .schema_path()
                .iter()
                .last()
                .map_or_else(String::new, |s| s.to_string())
        ),
    )
    .with_hint("see the field in schemas/ for what it accepts")
}

/// A duration its consumer refuses (the field's `format` names which).
fn duration_refused(node: &Node, field: &str, text: &str, refusal: Refusal) -> Diagnostic {
    Diagnostic::error(
        Code::INVALID_VALUE,
        node.span,
        format!("`{field}` `{text}` {}", refusal.why),
    )
    .with_hint(refusal.hint)
}

fn unknown_field(node: &Node, schema_node: Option<&Json>, name: &str) -> Diagnostic {
    let span = node.entry(name).map_or(node.span, |e| e.key_span);
    let known: Vec<&str> = schema_node
        .and_then(|s| s.get("properties"))
        .and_then(Json::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut diag = Diagnostic::error(Code::UNKNOWN_FIELD, span, format!("unknown field `{name}`"));
    if name == "<<" {
        diag = diag.with_hint(
            "YAML merge keys are not supported; put shared values in the overlay's `defaults`",
        );
    } else if let Some(hint) = did_you_mean(name, known.iter().copied()) {
        diag = diag.with_hint(hint);
    } else if !known.is_empty() {
        diag = diag.with_hint(format!("expected one of {}", backticked(&known)));
    }
    diag
}

fn type_error(node: &Node, field: &str, kind: &TypeKind) -> Diagnostic {
    let expected: Vec<String> = match kind {
        TypeKind::Single(t) => vec![t.to_string()],
        TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
    };
    let expected: Vec<&str> = expected
        .iter()
        .map(String::as_str)
        .filter(|t| *t != "null")
        .collect();
    if let Value::Scalar(s) = &node.value {
        if matches!(s.kind, ScalarKind::Float(f) if !f.is_finite()) {
            return not_finite(node, field, &s.text, &expected);
        }
    }
    let found = found_name(node);
    let diag = Diagnostic::error(
        Code::WRONG_TYPE,
        node.span,
        format!("`{field}` must be {}, found {found}", expected.join(" or ")),
    );
    match (&node.value, expected.as_slice()) {
        (Value::Scalar(s), ["string"]) if s.kind != ScalarKind::Null => {
            diag.with_hint(format!("quote it: \"{}\"", s.text))
        }
        (Value::Scalar(s), ["boolean"]) if s.kind == ScalarKind::Str => diag
            .with_hint("write `true` or `false`; `yes`, `no`, `on` and `off` are text in YAML 1.2"),
        _ => diag,
    }
}

/// `.inf`, `-.inf` and `.nan` are YAML numbers that JSON, and so the
/// Kubernetes API, cannot hold: say so, rather than "found a number" where
/// a number is allowed.
fn not_finite(node: &Node, field: &str, text: &str, expected: &[&str]) -> Diagnostic {
    let diag = Diagnostic::error(
        Code::WRONG_TYPE,
        node.span,
        format!(
            "`{field}` is `{text}`, which YAML reads as infinity or not-a-number; Kubernetes cannot hold it"
        ),
    );
    if expected.contains(&"string") {
        diag.with_hint(format!("quote it if it is text: \"{text}\""))
    } else {
        diag.with_hint("write a finite number")
    }
}

fn found_name(node: &Node) -> &'static str {
    match &node.value {
        Value::Scalar(s) => with_article(s.kind.type_name()),
        Value::Seq(_) => "a list",
        Value::Map(_) => "a map",
    }
}

/// JSON Schema type names as the contract talks about them.
fn with_article(json_type: &str) -> &'static str {
    match json_type {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "object" => "a map",
        "array" => "a list",
        _ => "null",
    }
}

/// Follow a schema path to the schema object that owns the failing keyword.
fn schema_at<'a>(schema: &'a Json, path: &[String]) -> Option<&'a Json> {
    let mut node = schema;
    for step in &path[..path.len().saturating_sub(1)] {
        node = match node {
            // A keyword location passes through `$ref` into the definition.
            Json::Object(_) if step == "$ref" => resolve_ref(schema, node),
            Json::Object(map) => map.get(step)?,
            Json::Array(items) => items.get(step.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn parent_description(schema: &Json, error: &ValidationError<'_>) -> Option<String> {
    schema_at(schema, &segments(error.schema_path()))?
        .get("description")?
        .as_str()
        .map(|d| d.trim_end_matches('.').to_lowercase())
}

fn property_names(schema: &Json, error: &ValidationError<'_>) -> Vec<String> {
    schema_at(schema, &segments(error.schema_path()))
        .and_then(|s| s.get("properties"))
        .and_then(Json::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn backticked<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plain(value: &Json) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn plural_y(n: u64) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}
