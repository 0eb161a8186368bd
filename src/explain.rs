//! Provenance: where a field's final value came from. Every layer of the
//! precedence chain that sets, replaces or removes the field is listed, in
//! precedence order, at its file and line.

use crate::emit::to_yaml;
use crate::node::{Node, Value};
use crate::source::Span;

/// One step of a field path: a map key or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Parse `containers.app.variables.LOG_LEVEL`, `routes[0].host` or
/// `metadata.annotations[example.com/owner]` (brackets hold keys with dots).
pub fn parse_path(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner
                .find(']')
                .ok_or_else(|| format!("`{text}`: `[` without `]`"))?;
            let key = &inner[..end];
            segments.push(
                key.parse()
                    .map_or_else(|_| Segment::Key(key.to_owned()), Segment::Index),
            );
            rest = inner[end + 1..]
                .strip_prefix('.')
                .unwrap_or(&inner[end + 1..]);
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let part = &rest[..end];
        if part.is_empty() {
            return Err(format!("`{text}` has an empty step"));
        }
        segments.push(
            part.parse()
                .map_or_else(|_| Segment::Key(part.to_owned()), Segment::Index),
        );
        rest = rest[end..].strip_prefix('.').unwrap_or(&rest[end..]);
    }
    if segments.is_empty() {
        return Err("the field path is empty".into());
    }
    Ok(segments)
}

/// What a layer does to the field.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Sets the field to this value (YAML).
    Sets(String),
    /// `null` at the field or above it removes it.
    Removes { at: String },
    /// A list or scalar above the field replaces everything under it.
    Replaces { at: String },
}

#[derive(Debug)]
pub struct Step {
    pub layer: String,
    pub span: Span,
    pub action: Action,
}

/// The steps of each layer, lowest precedence first.
pub fn provenance(layers: &[(String, &Node)], path: &[Segment]) -> Vec<Step> {
    layers
        .iter()
        .filter_map(|(layer, root)| {
            step(root, path).map(|(span, action)| Step {
                layer: layer.clone(),
                span,
                action,
            })
        })
        .collect()
}

fn step(root: &Node, path: &[Segment]) -> Option<(Span, Action)> {
    let mut node = root;
    for (depth, segment) in path.iter().enumerate() {
        let next = child(node, segment)?;
        let here = display(&path[..=depth]);
        if next.is_null() {
            return Some((next.span, Action::Removes { at: here }));
        }
        // Lists and scalars replace whole: a layer that has one above the
        // field replaces everything under it.
        let inner = depth + 1 < path.len();
        if inner && matches!(next.value, Value::Seq(_) | Value::Scalar(_)) {
            return Some((next.span, Action::Replaces { at: here }));
        }
        node = next;
    }
    Some((node.span, Action::Sets(value_text(node))))
}

/// The value at a path of a (merged) tree, as YAML.
pub fn value_at(root: &Node, path: &[Segment]) -> Option<String> {
    let node = path.iter().try_fold(root, child)?;
    Some(value_text(node))
}

/// A map's entry (a numeric step also names a key such as `8080`) or a list's item.
fn child<'a>(node: &'a Node, segment: &Segment) -> Option<&'a Node> {
    match (&node.value, segment) {
        (Value::Map(entries), Segment::Key(key)) => {
            entries.iter().find(|e| &e.key == key).map(|e| &e.value)
        }
        (Value::Map(entries), Segment::Index(i)) => entries
            .iter()
            .find(|e| e.key == i.to_string())
            .map(|e| &e.value),
        (Value::Seq(items), Segment::Index(i)) => items.get(*i),
        _ => None,
    }
}

/// A node as the user wrote it (scalars) or as YAML (maps and lists).
fn value_text(node: &Node) -> String {
    match &node.value {
        Value::Scalar(s) => s.text.clone(),
        _ => to_yaml(&node.to_json()).trim_end().to_owned(),
    }
}

/// `routes[0].host`
pub fn display(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
            Segment::Key(key) if key.contains('.') => out.push_str(&format!("[{key}]")),
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::source::Sources;

    #[test]
    fn paths() {
        let key = |k: &str| Segment::Key(k.into());
        assert_eq!(
            parse_path("scaling.minReplicas"),
            Ok(vec![key("scaling"), key("minReplicas")])
        );
        assert_eq!(
            parse_path("routes[0].host"),
            Ok(vec![key("routes"), Segment::Index(0), key("host")])
        );
        assert_eq!(
            parse_path("routes.1"),
            Ok(vec![key("routes"), Segment::Index(1)])
        );
        assert_eq!(
            parse_path("metadata.annotations[example.com/owner]"),
            Ok(vec![
                key("metadata"),
                key("annotations"),
                key("example.com/owner")
            ])
        );
        assert!(parse_path("a..b").is_err());
        assert!(parse_path("a[0").is_err());
        assert_eq!(
            display(&parse_path("metadata.annotations[example.com/owner]").expect("path")),
            "metadata.annotations[example.com/owner]"
        );
    }

    #[test]
    fn every_layer_that_touches_the_field() {
        let mut sources = Sources::default();
        let texts = [
            "scaling: {minReplicas: 2, maxReplicas: 4}\nroutes: [{host: a}]\n",
            "scaling: {minReplicas: 3}\n",
            "other: 1\n",
            "scaling: null\n",
            "routes: [{host: b}]\n",
        ];
        let trees: Vec<Node> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let id = sources.add(
                    format!("f{i}.yaml"),
                    format!("f{i}.yaml").into(),
                    (*t).to_owned(),
                );
                parse(sources.get(id), id).expect("parses")
            })
            .collect();
        let layers: Vec<(String, &Node)> = trees
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("layer{i}"), t))
            .collect();
        let steps = provenance(&layers, &parse_path("scaling.minReplicas").expect("path"));
        let seen: Vec<(&str, &Action)> = steps
            .iter()
            .map(|s| (s.layer.as_str(), &s.action))
            .collect();
        assert_eq!(
            seen,
            [
                ("layer0", &Action::Sets("2".into())),
                ("layer1", &Action::Sets("3".into())),
                (
                    "layer3",
                    &Action::Removes {
                        at: "scaling".into()
                    }
                ),
            ]
        );
        assert_eq!(sources.locate(steps[1].span), "f1.yaml:1:24");
        let steps = provenance(&layers, &parse_path("routes[0].host").expect("path"));
        let seen: Vec<&Action> = steps.iter().map(|s| &s.action).collect();
        assert_eq!(
            seen,
            [
                &Action::Replaces {
                    at: "routes".into()
                },
                &Action::Replaces {
                    at: "routes".into()
                }
            ]
        );
    }
}
