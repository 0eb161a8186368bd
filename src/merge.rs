//! The precedence chain, on YAML trees:
//!
//! blueprint < overlay `defaults` < overlay `services.<name>` <
//! `regionOverrides.<region>.defaults` < `regionOverrides.<region>.services.<name>`
//!
//! Maps merge key by key, recursively; lists and scalars are replaced whole;
//! an explicit `null` removes the key. Every node keeps the span of the file
//! it came from, so the merged tree is its own provenance record.

use std::collections::HashMap;

use crate::node::{Entry, Node, Value};

/// An overlay's patches for one region, with its two `services` maps
/// indexed by name: an overlay of N services holds N keys there, and each
/// of the region's N services looks its own up.
pub struct Patches<'a> {
    region: &'a str,
    defaults: Option<&'a Node>,
    services: HashMap<&'a str, &'a Node>,
    region_defaults: Option<&'a Node>,
    region_services: HashMap<&'a str, &'a Node>,
}

impl<'a> Patches<'a> {
    pub fn new(overlay: &'a Node, region: &'a str) -> Self {
        let region_overrides = overlay.get("regionOverrides").and_then(|r| r.get(region));
        Patches {
            region,
            defaults: overlay.get("defaults"),
            services: by_name(overlay.get("services")),
            region_defaults: region_overrides.and_then(|r| r.get("defaults")),
            region_services: by_name(region_overrides.and_then(|r| r.get("services"))),
        }
    }

    /// The patches that apply to `service`, lowest precedence first, each
    /// with the name of its place in the overlay.
    pub fn labelled(&self, service: &str) -> Vec<(String, &'a Node)> {
        let region = self.region;
        let [defaults, own, region_defaults, region_own] = self.layers(service);
        [
            ("defaults".to_owned(), defaults),
            (format!("services.{service}"), own),
            (
                format!("regionOverrides.{region}.defaults"),
                region_defaults,
            ),
            (
                format!("regionOverrides.{region}.services.{service}"),
                region_own,
            ),
        ]
        .into_iter()
        .filter_map(|(label, node)| node.map(|n| (label, n)))
        .collect()
    }

    /// The patches that apply to `service`, lowest precedence first.
    pub fn chain(&self, service: &str) -> Vec<&'a Node> {
        self.layers(service).into_iter().flatten().collect()
    }

    fn layers(&self, service: &str) -> [Option<&'a Node>; 4] {
        [
            self.defaults,
            self.services.get(service).copied(),
            self.region_defaults,
            self.region_services.get(service).copied(),
        ]
    }
}

/// A map's values by key; the first of a repeated key, as `Node::get`.
fn by_name(map: Option<&Node>) -> HashMap<&str, &Node> {
    let entries = map.and_then(Node::as_map).unwrap_or(&[]);
    let mut index = HashMap::with_capacity(entries.len());
    for entry in entries {
        index.entry(entry.key.as_str()).or_insert(&entry.value);
    }
    index
}

/// A blueprint with every patch applied in order.
pub fn merged(blueprint: &Node, patches: &[&Node]) -> Node {
    let mut tree = without_nulls(blueprint);
    for patch in patches {
        apply(&mut tree, patch);
    }
    tree
}

/// Apply one patch to a tree.
pub fn apply(base: &mut Node, patch: &Node) {
    let (Value::Map(base_entries), Value::Map(patch_entries)) = (&mut base.value, &patch.value)
    else {
        *base = without_nulls(patch);
        return;
    };
    for entry in patch_entries {
        let existing = base_entries.iter().position(|e| e.key == entry.key);
        match (existing, entry.value.is_null()) {
            (Some(i), true) => {
                base_entries.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => apply(&mut base_entries[i].value, &entry.value),
            (None, false) => base_entries.push(Entry {
                value: without_nulls(&entry.value),
                ..entry.clone()
            }),
        }
    }
}

/// A copy of the tree with every map entry whose value is `null` removed.
fn without_nulls(node: &Node) -> Node {
    match &node.value {
        Value::Map(entries) => Node {
            span: node.span,
            value: Value::Map(
                entries
                    .iter()
                    .filter(|e| !e.value.is_null())
                    .map(|e| Entry {
                        key: e.key.clone(),
                        key_span: e.key_span,
                        value: without_nulls(&e.value),
                    })
                    .collect(),
            ),
        },
        _ => node.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::source::Sources;

    fn trees(texts: &[&str]) -> (Sources, Vec<Node>) {
        let mut sources = Sources::default();
        let ids: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                sources.add(
                    format!("f{i}.yaml"),
                    format!("f{i}.yaml").into(),
                    (*t).to_owned(),
                )
            })
            .collect();
        let nodes = ids
            .iter()
            .map(|&id| parse(sources.get(id), id).expect("parses"))
            .collect();
        (sources, nodes)
    }

    fn json(node: &Node) -> String {
        node.to_json().to_string()
    }

    #[test]
    fn maps_merge_lists_and_scalars_replace() {
        let (_, t) = trees(&[
            "scaling: {minReplicas: 1, maxReplicas: 4}\nargs: [a, b]\nvars: {A: x}\n",
            "scaling: {minReplicas: 2}\nargs: [c]\nvars: {B: y}\n",
        ]);
        let out = merged(&t[0], &[&t[1]]);
        assert_eq!(
            json(&out),
            r#"{"scaling":{"minReplicas":2,"maxReplicas":4},"args":["c"],"vars":{"A":"x","B":"y"}}"#
        );
    }

    #[test]
    fn null_deletes_a_key_at_any_depth() {
        let (_, t) = trees(&[
            "availability: {minAvailable: 1}\nmonitoring: {slo: {availability: 99.9}, metrics: {port: http}}\n",
            "availability: null\nmonitoring: {slo: null}\nunknown: null\n",
        ]);
        let out = merged(&t[0], &[&t[1]]);
        assert_eq!(json(&out), r#"{"monitoring":{"metrics":{"port":"http"}}}"#);
    }

    #[test]
    fn later_patches_win_and_keep_their_spans() {
        let (sources, t) = trees(&[
            "scaling: {minReplicas: 1}\n",
            "scaling: {minReplicas: 2}\n",
            "scaling: {minReplicas: 3}\n",
            "scaling: {minReplicas: 4}\n",
        ]);
        let out = merged(&t[0], &[&t[1], &t[2], &t[3]]);
        let min = out
            .get("scaling")
            .and_then(|s| s.get("minReplicas"))
            .expect("merged");
        assert_eq!(json(min), "4");
        assert_eq!(sources.locate(min.span), "f3.yaml:1:24");
    }

    #[test]
    fn the_chain_is_in_precedence_order() {
        let (_, t) = trees(&[concat!(
            "defaults: {n: 1}\n",
            "services: {orders: {n: 2}, other: {n: 9}}\n",
            "regionOverrides:\n",
            "  eu: {defaults: {n: 3}, services: {orders: {n: 4}}}\n",
            "  us: {defaults: {n: 8}}\n",
        )]);
        let chain: Vec<String> = Patches::new(&t[0], "eu")
            .chain("orders")
            .into_iter()
            .map(json)
            .collect();
        assert_eq!(
            chain,
            [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#, r#"{"n":4}"#]
        );
        assert_eq!(chain_len(&t[0], "us", "orders"), 3);
    }

    fn chain_len(overlay: &Node, region: &str, service: &str) -> usize {
        Patches::new(overlay, region).chain(service).len()
    }

    #[test]
    fn a_scalar_patch_replaces_a_map_and_vice_versa() {
        let (_, t) = trees(&["a: {b: 1}\nc: 5\n", "a: 7\nc: {d: null, e: 1}\n"]);
        assert_eq!(json(&merged(&t[0], &[&t[1]])), r#"{"a":7,"c":{"e":1}}"#);
    }
}
