//! Tidy checks over the source tree, in the style of rust-analyzer's:
//! the layering that ARCHITECTURE.md writes down holds for every
//! `use crate::` edge of the library.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use regex::Regex;

use crate::support::root;

/// The layers of ARCHITECTURE.md's `layers` block: module -> (layer, position
/// on its line).
fn layers() -> BTreeMap<String, usize> {
    let text = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let block = text
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```layers block");
    block
        .lines()
        .enumerate()
        .flat_map(|(layer, line)| line.split_whitespace().map(move |m| (m.to_owned(), layer)))
        .collect()
}

/// The top-level module a source file belongs to: `src/lower/mesh.rs` is
/// `lower`, `src/node.rs` is `node`.
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root().join("src")).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "main" | "lib")).then(|| name.to_owned())
}

/// The code of a file before its `#[cfg(test)]` module, without comments.
fn code(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, line)| !line.starts_with("#[cfg(test)]"))
        .map(|(n, line)| (n + 1, line.split("//").next().unwrap_or_default()))
        .collect()
}

/// Every module named after `crate::` in the code, with its line.
fn uses(text: &str) -> Vec<(usize, String)> {
    let single = Regex::new(r"crate::([a-z_]+)").expect("regex");
    let group = Regex::new(r"crate::\{([^}]*)\}").expect("regex");
    let joined: Vec<(usize, &str)> = code(text);
    let mut out = Vec::new();
    for (line, code) in &joined {
        out.extend(single.captures_iter(code).map(|c| (*line, c[1].to_owned())));
    }
    // `use crate::{a, b::c}` may span lines: read the whole text for groups.
    let flat: String = joined
        .iter()
        .map(|(_, c)| *c)
        .collect::<Vec<_>>()
        .join("\n");
    for captures in group.captures_iter(&flat) {
        let at = flat[..captures.get(0).expect("match").start()]
            .lines()
            .count()
            .max(1);
        for item in captures[1].split(',') {
            let name = item.trim().split("::").next().unwrap_or_default();
            if !name.is_empty() && name != "self" {
                out.push((at, name.to_owned()));
            }
        }
    }
    out
}

/// A source file's path as messages name it, relative to the project.
fn shown(entry: &walkdir::DirEntry) -> String {
    let path = entry.path();
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every Rust file under `src/`, sorted.
fn source_files() -> impl Iterator<Item = walkdir::DirEntry> {
    walkdir::WalkDir::new(root().join("src"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
}

#[test]
fn no_module_uses_a_later_stage() {
    let layers = layers();
    let mut violations = Vec::new();
    for entry in source_files() {
        let Some(module) = module_of(entry.path()) else {
            continue;
        };
        let Some(&layer) = layers.get(&module) else {
            violations.push(format!(
                "module `{module}` is not in ARCHITECTURE.md's layers"
            ));
            continue;
        };
        let text = fs::read_to_string(entry.path()).expect("source file");
        for (line, used) in uses(&text) {
            if used == module {
                continue;
            }
            match layers.get(&used) {
                Some(&other) if other < layer => {}
                Some(_) => violations.push(format!(
                    "{}:{line}: `{module}` uses `{used}`, which is not an earlier layer",
                    shown(&entry)
                )),
                None => violations.push(format!(
                    "{}:{line}: `{used}` is not in ARCHITECTURE.md's layers",
                    shown(&entry)
                )),
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

/// The model is the intermediate representation: the stages after it read
/// the model, never the raw input types or the stages that produce them.
#[test]
fn stages_after_the_model_read_only_the_model() {
    let after = ["lower", "check", "policy", "emit"];
    let before = ["input", "load", "validate", "merge", "template", "parse"];
    let mut violations = Vec::new();
    for entry in source_files() {
        let Some(module) = module_of(entry.path()).filter(|m| after.contains(&m.as_str())) else {
            continue;
        };
        let text = fs::read_to_string(entry.path()).expect("source file");
        for (line, used) in uses(&text) {
            if before.contains(&used.as_str()) {
                violations.push(format!(
                    "{}:{line}: `{module}` uses `{used}`; read the model instead",
                    shown(&entry)
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_single_and_grouped_uses() {
    let text = "use crate::diag::Diagnostic;\nuse crate::{lower, model::Cluster};\n// crate::cli in a comment\nfn f() { crate::emit::to_yaml(&1); }\n#[cfg(test)]\nmod tests { use crate::compile; }\n";
    let mut used: Vec<String> = uses(text).into_iter().map(|(_, m)| m).collect();
    used.sort();
    assert_eq!(used, ["diag", "emit", "lower", "model"]);
}

/// README's tables of diagnostics list exactly the codes and rule ids
/// slipway has.
#[test]
fn the_readme_documents_every_diagnostic_code() {
    let readme = fs::read_to_string(root().join("README.md")).expect("README.md");
    let listed = |heading: &str| -> Vec<String> {
        let section = readme
            .split(heading)
            .nth(1)
            .unwrap_or_else(|| panic!("README has `{heading}`"));
        let table = section
            .split("\n\n")
            .find(|p| p.starts_with('|'))
            .expect("a table");
        table
            .lines()
            .skip(2)
            .filter_map(|row| row.split('`').nth(1).map(str::to_owned))
            .collect()
    };
    let codes: Vec<String> = slipway::diag::Code::ALL
        .iter()
        .map(|(code, _)| code.as_str().to_owned())
        .collect();
    assert_eq!(listed("### Diagnostic codes"), codes);
    let rules: Vec<String> = slipway::rules::Rule::ids().map(str::to_owned).collect();
    assert_eq!(listed("## Guardrails"), rules);
    let mut all: Vec<&String> = codes.iter().chain(&rules).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), codes.len() + rules.len(), "codes are unique");
}
