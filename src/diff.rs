//! Comparing a fresh render with a rendered tree on disk, object by object
//! (one object per file), byte for byte: the output is byte-deterministic,
//! and an edit that a YAML 1.2 reader thinks harmless (`"false"` made
//! `false`) can change what Kubernetes, a YAML 1.1 reader, applies.

use std::collections::BTreeMap;
use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use crate::node::Node;
use crate::parse::parse;
use crate::source::Sources;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Added,
    Removed,
    Changed,
}

/// One object that differs: its path in the tree and both texts.
#[derive(Debug)]
pub struct Difference {
    pub path: String,
    pub change: Change,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Default)]
pub struct Comparison {
    pub differences: Vec<Difference>,
    pub unchanged: usize,
}

impl Comparison {
    pub fn count(&self, change: Change) -> usize {
        self.differences
            .iter()
            .filter(|d| d.change == change)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }

    /// `2 added, 1 removed, 3 changed, 688 unchanged`
    pub fn summary(&self) -> String {
        format!(
            "{} added, {} removed, {} changed, {} unchanged",
            self.count(Change::Added),
            self.count(Change::Removed),
            self.count(Change::Changed),
            self.unchanged
        )
    }
}

/// Compare the tree on disk (`old`) with a fresh render (`new`).
pub fn compare(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Comparison {
    let mut comparison = Comparison::default();
    for (path, text) in new {
        match old.get(path) {
            None => comparison.differences.push(Difference {
                path: path.clone(),
                change: Change::Added,
                old: None,
                new: Some(text.clone()),
            }),
            Some(before) if before == text => comparison.unchanged += 1,
            Some(before) => comparison.differences.push(Difference {
                path: path.clone(),
                change: Change::Changed,
                old: Some(before.clone()),
                new: Some(text.clone()),
            }),
        }
    }
    for (path, text) in old.iter().filter(|(path, _)| !new.contains_key(*path)) {
        comparison.differences.push(Difference {
            path: path.clone(),
            change: Change::Removed,
            old: Some(text.clone()),
            new: None,
        });
    }
    comparison
        .differences
        .sort_by(|a, b| (a.change, &a.path).cmp(&(b.change, &b.path)));
    comparison
}

fn parsed(text: &str) -> Option<Node> {
    let mut sources = Sources::default();
    let id = sources.add(String::new(), Default::default(), text.to_owned());
    parse(sources.get(id), id).ok()
}

/// `Deployment commerce-prod/orders`, read from the object itself.
pub fn describe(text: &str) -> Option<String> {
    let node = parsed(text)?;
    let kind = node.get("kind")?.as_str()?.to_owned();
    let meta = node.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    Some(match meta.get("namespace").and_then(Node::as_str) {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    })
}

/// One line per added, removed or changed object.
pub fn listing(comparison: &Comparison) -> String {
    let mut out = String::new();
    for d in &comparison.differences {
        let (mark, text) = match d.change {
            Change::Added => ("added  ", d.new.as_deref()),
            Change::Removed => ("removed", d.old.as_deref()),
            Change::Changed => ("changed", d.new.as_deref()),
        };
        let what = text
            .and_then(describe)
            .unwrap_or_else(|| "object".to_owned());
        let _ = writeln!(out, "{mark} {what}  ({})", d.path);
    }
    out
}

/// A unified diff of a changed object, coloured for a terminal if asked.
pub fn unified(difference: &Difference, colour: bool) -> String {
    let (old, new) = (
        difference.old.as_deref().unwrap_or(""),
        difference.new.as_deref().unwrap_or(""),
    );
    let diff = TextDiff::from_lines(old, new);
    let mut out = String::new();
    let paint = |code: &str, line: String| {
        if colour {
            format!("\x1b[{code}m{line}\x1b[0m")
        } else {
            line
        }
    };
    let _ = writeln!(out, "{}", paint("1", format!("--- a/{}", difference.path)));
    let _ = writeln!(out, "{}", paint("1", format!("+++ b/{}", difference.path)));
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        let _ = writeln!(out, "{}", paint("36", hunk.header().to_string()));
        for change in hunk.iter_changes() {
            let line = change.to_string_lossy();
            let line = line.trim_end_matches('\n');
            let _ = match change.tag() {
                ChangeTag::Delete => writeln!(out, "{}", paint("31", format!("-{line}"))),
                ChangeTag::Insert => writeln!(out, "{}", paint("32", format!("+{line}"))),
                ChangeTag::Equal => writeln!(out, " {line}"),
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn files_are_compared_byte_for_byte() {
        let same = tree(&[("a.yaml", "kind: A\nvalue: \"false\"\n")]);
        let comparison = compare(&same, &same);
        assert!(comparison.is_empty());
        assert_eq!(comparison.unchanged, 1);
        // The same to a YAML 1.2 reader that compares strings loosely, but a
        // boolean to Kubernetes: drift.
        let edited = tree(&[("a.yaml", "kind: A\nvalue: false\n")]);
        assert_eq!(compare(&edited, &same).count(Change::Changed), 1);
        let reordered = tree(&[("a.yaml", "value: \"false\"\nkind: A\n")]);
        assert_eq!(compare(&reordered, &same).count(Change::Changed), 1);
    }

    #[test]
    fn added_removed_and_changed_objects() {
        let old = tree(&[
            ("a.yaml", "kind: A\nmetadata: {name: a}\nx: 1\n"),
            ("gone.yaml", "kind: G\nmetadata: {name: g}\n"),
        ]);
        let new = tree(&[
            ("a.yaml", "kind: A\nmetadata: {name: a}\nx: 2\n"),
            ("b.yaml", "kind: B\nmetadata: {name: b, namespace: n}\n"),
        ]);
        let comparison = compare(&old, &new);
        assert_eq!(
            comparison.summary(),
            "1 added, 1 removed, 1 changed, 0 unchanged"
        );
        assert_eq!(
            listing(&comparison),
            "added   B n/b  (b.yaml)\nremoved G g  (gone.yaml)\nchanged A a  (a.yaml)\n"
        );
        let changed = comparison
            .differences
            .iter()
            .find(|d| d.change == Change::Changed)
            .expect("changed");
        let text = unified(changed, false);
        assert!(text.contains("-x: 1\n+x: 2\n"), "{text}");
        assert!(unified(changed, true).contains("\x1b[32m+x: 2\x1b[0m"));
    }
}
