//! A Mermaid `flowchart`, typed, and its text. Node ids are safe
//! identifiers chosen by [`Ids`]; every label is quoted and escaped with
//! Mermaid's entity codes, so no text from the input can end a label,
//! start a Markdown string or inject HTML. Mermaid turns `#name;` and
//! `#number;` into HTML entities before it renders (`encodeEntities` and
//! `decodeEntities`, mermaid-js/mermaid `packages/mermaid/src/utils.ts`;
//! <https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters>).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// A flowchart, left to right.
#[derive(Debug, Default)]
pub struct Graph {
    pub items: Vec<Item>,
    /// Drawn after the items, in this order (`linkStyle` counts them so).
    pub edges: Vec<Edge>,
}

#[derive(Debug)]
pub enum Item {
    Node(Node),
    Subgraph(Subgraph),
}

#[derive(Debug)]
pub struct Node {
    pub id: String,
    /// One entry per line.
    pub label: Vec<String>,
    pub shape: Shape,
    pub class: Option<Class>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `["..."]`
    Box,
    /// `(["..."])`
    Stadium,
}

#[derive(Debug)]
pub struct Subgraph {
    pub id: String,
    pub label: String,
    pub items: Vec<Item>,
}

#[derive(Debug)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: Option<String>,
    /// Added edges are drawn solid and green, removed ones dotted and red.
    pub class: Option<Class>,
}

/// How a change is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Added,
    Removed,
    Changed,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Added => "added",
            Class::Removed => "removed",
            Class::Changed => "changed",
        }
    }

    /// GitHub's diff colours: green, red, amber (fill, stroke).
    fn colours(self) -> (&'static str, &'static str) {
        match self {
            Class::Added => ("#dafbe1", "#1a7f37"),
            Class::Removed => ("#ffebe9", "#cf222e"),
            Class::Changed => ("#fff8c5", "#9a6700"),
        }
    }
}

/// Node and subgraph ids: letters, digits and `_`, starting with a letter
/// and `_` (so never a keyword such as `end`, nor an `o` or `x` that
/// Mermaid could read as an arrow head), one per key, unique.
#[derive(Debug, Default)]
pub struct Ids {
    given: BTreeMap<String, String>,
    taken: BTreeSet<String>,
}

impl Ids {
    /// The id of `key`: `prefix`, `_` and the key with every other
    /// character as `_`; a second key with the same spelling gets `_2`.
    pub fn of(&mut self, prefix: char, key: &str) -> String {
        let full = format!("{prefix}/{key}");
        if let Some(id) = self.given.get(&full) {
            return id.clone();
        }
        let safe: String = key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let base = format!("{prefix}_{safe}");
        let mut id = base.clone();
        let mut n = 2;
        while self.taken.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        self.taken.insert(id.clone());
        self.given.insert(full, id.clone());
        id
    }
}

/// Text inside a quoted label. Mermaid decodes `#name;` and `#number;`
/// entities, so `#` itself is written as one; `"` would end the label,
/// `|` an edge label, a leading backtick would start a Markdown string,
/// and `<`, `>` and `&` would be read as HTML. Control characters become
/// spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The flowchart's text.
pub fn write(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut classes: BTreeMap<Class, Vec<&str>> = BTreeMap::new();
    for item in &graph.items {
        write_item(&mut out, item, 1, &mut classes);
    }
    let mut styles: BTreeMap<Class, Vec<usize>> = BTreeMap::new();
    for (index, edge) in graph.edges.iter().enumerate() {
        let arrow = match edge.class {
            Some(Class::Removed) => "-.->",
            _ => "-->",
        };
        let label = edge
            .label
            .as_ref()
            .map(|l| format!("|\"{}\"|", escape(l)))
            .unwrap_or_default();
        let _ = writeln!(out, "  {} {arrow}{label} {}", edge.from, edge.to);
        if let Some(class) = edge.class {
            styles.entry(class).or_default().push(index);
        }
    }
    for (class, ids) in &classes {
        let (fill, stroke) = class.colours();
        let _ = writeln!(
            out,
            "  classDef {} fill:{fill},stroke:{stroke}",
            class.name()
        );
        let _ = writeln!(out, "  class {} {}", ids.join(","), class.name());
    }
    for (class, indexes) in &styles {
        let (_, stroke) = class.colours();
        let list: Vec<String> = indexes.iter().map(usize::to_string).collect();
        let _ = writeln!(
            out,
            "  linkStyle {} stroke:{stroke},stroke-width:2px",
            list.join(",")
        );
    }
    out
}

fn write_item<'a>(
    out: &mut String,
    item: &'a Item,
    depth: usize,
    classes: &mut BTreeMap<Class, Vec<&'a str>>,
) {
    let indent = "  ".repeat(depth);
    match item {
        Item::Node(node) => {
            let label: Vec<String> = node.label.iter().map(|l| escape(l)).collect();
            let label = label.join("<br/>");
            let (open, close) = match node.shape {
                Shape::Box => ("[", "]"),
                Shape::Stadium => ("([", "])"),
            };
            let _ = writeln!(out, "{indent}{}{open}\"{label}\"{close}", node.id);
            if let Some(class) = node.class {
                classes.entry(class).or_default().push(&node.id);
            }
        }
        Item::Subgraph(subgraph) => {
            let _ = writeln!(
                out,
                "{indent}subgraph {}[\"{}\"]",
                subgraph.id,
                escape(&subgraph.label)
            );
            for inner in &subgraph.items {
                write_item(out, inner, depth + 1, classes);
            }
            let _ = writeln!(out, "{indent}end");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_safe_and_unique() {
        let mut ids = Ids::default();
        assert_eq!(ids.of('s', "us-east-1/orders"), "s_us_east_1_orders");
        assert_eq!(ids.of('s', "us_east_1/orders"), "s_us_east_1_orders_2");
        assert_eq!(ids.of('s', "us-east-1/orders"), "s_us_east_1_orders");
        assert_eq!(ids.of('h', "end"), "h_end");
    }

    #[test]
    fn labels_cannot_break_out() {
        assert_eq!(
            escape("a\"b#c;<i>|`&\n"),
            "a#quot;b#35;c;#lt;i#gt;#124;#96;#amp; "
        );
    }

    #[test]
    fn changes_get_classes_and_link_styles() {
        let node = |id: &str, class| {
            Item::Node(Node {
                id: id.into(),
                label: vec![id.into(), "two".into()],
                shape: Shape::Box,
                class,
            })
        };
        let graph = Graph {
            items: vec![Item::Subgraph(Subgraph {
                id: "r_x".into(),
                label: "x".into(),
                items: vec![node("s_a", Some(Class::Added)), node("s_b", None)],
            })],
            edges: vec![
                Edge {
                    from: "s_a".into(),
                    to: "s_b".into(),
                    label: None,
                    class: Some(Class::Added),
                },
                Edge {
                    from: "s_b".into(),
                    to: "s_a".into(),
                    label: Some("/p".into()),
                    class: Some(Class::Removed),
                },
            ],
        };
        assert_eq!(
            write(&graph),
            "flowchart LR
  subgraph r_x[\"x\"]
    s_a[\"s_a<br/>two\"]
    s_b[\"s_b<br/>two\"]
  end
  s_a --> s_b
  s_b -.->|\"/p\"| s_a
  classDef added fill:#dafbe1,stroke:#1a7f37
  class s_a added
  linkStyle 0 stroke:#1a7f37,stroke-width:2px
  linkStyle 1 stroke:#cf222e,stroke-width:2px
"
        );
    }
}
