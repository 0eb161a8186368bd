//! Provenance: where a field's final value came from. Every layer of the
//! precedence chain that sets, replaces or removes the field is listed, in
//! precedence order, at its file and line.

use crate::emit::to_yaml;
use crate::input::Region;
use crate::merge;
use crate::node::path::{Segment, display};
use crate::node::{Node, Value};
use crate::source::Span;
use crate::validate::{BlueprintInput, OverlayInput};

/// Labelled layers of the precedence chain, lowest precedence first.
pub type Layers<'a> = Vec<(String, &'a Node)>;

/// The layers of the precedence chain for one service in one region,
/// lowest first, each with a label: the blueprint, then the overlay's patches.
pub fn layers<'a>(
    overlay: &'a OverlayInput,
    region: &'a Region,
    blueprint: &'a BlueprintInput,
) -> Layers<'a> {
    let patches =
        merge::Patches::new(&overlay.tree, &region.name.value).labelled(&blueprint.name.value);
    let patches = patches
        .into_iter()
        .map(|(label, node)| (format!("{} {label}", overlay.name()), node));
    std::iter::once(("blueprint".to_owned(), &blueprint.tree))
        .chain(patches)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::path::parse_path;
    use crate::parse::parse;
    use crate::source::Sources;

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
