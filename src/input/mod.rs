//! Raw input types: they mirror the YAML exactly and are the only
//! `Deserialize` types of the input. Interpretation lives in `crate::model`.

mod blueprint;
mod overlay;

pub use blueprint::*;
pub use overlay::*;

use crate::node::{Node, Value};

/// Which kind of input file a tree is: it decides the file's folder and
/// the schema it is checked against. A file of `blueprints/` is a
/// blueprint until its `apiVersion` says it is a Score workload
/// ([`SCORE_API_VERSION`]), or its name says it is a Score workload's side
/// file ([`SIDE_FILE_SUFFIX`]); both are decided before the schema check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Blueprint,
    Overlay,
    /// A Score workload (`score.dev/v1b1`), translated into a blueprint.
    Score,
    /// `<name>.slipway.yaml` beside a Score workload: slipway's own
    /// sections of the service.
    ScoreExtension,
}

/// The `apiVersion` of the Score workloads slipway reads (score-spec/spec:
/// `score-v1b1.json`).
pub const SCORE_API_VERSION: &str = "score.dev/v1b1";

/// How the name of a Score workload's side file ends: `orders.slipway.yaml`
/// beside `orders.yaml`.
pub const SIDE_FILE_SUFFIX: &str = ".slipway";

/// The folder a Score file's `source` must stay in: the project's files
/// beside the workload, which `load` reads and git's inputs are.
pub const SOURCE_DIR: &str = "blueprints";

/// The project path (`blueprints/...`, `/` separators) of a Score file's
/// `source`, relative to the folder of the workload shown as `workload`
/// (score-spec/score-k8s `internal/convert/container_files.go`: a relative
/// `source` is joined to the Score file's folder). `Err` says why it is
/// refused: absolute, with a `\`, outside `blueprints/` (above the project
/// root on the way too), or a YAML file, which `load` reads as a blueprint.
pub fn source_path(workload: &str, source: &str) -> Result<String, &'static str> {
    const OUTSIDE: &str = "outside `blueprints/`, where slipway reads a Score file's sources";
    if source.starts_with('/') {
        return Err("an absolute path, where slipway reads only the project's files");
    }
    if source.contains('\\') {
        return Err("a path with a `\\`, which slipway does not take for a folder separator");
    }
    let mut parts: Vec<&str> = workload.split('/').collect();
    parts.pop();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            // Above the project root: no file slipway reads, however the
            // path comes back (`../../blueprints/a.conf`).
            ".." if parts.pop().is_none() => return Err(OUTSIDE),
            ".." => {}
            part => parts.push(part),
        }
    }
    if parts.len() < 2 || parts[0] != SOURCE_DIR {
        return Err(OUTSIDE);
    }
    let path = parts.join("/");
    let yaml = path.ends_with(".yaml") || path.ends_with(".yml");
    if yaml {
        return Err(
            "a YAML file, which slipway reads as a blueprint like every YAML file of `blueprints/`",
        );
    }
    Ok(path)
}

/// The `source` of each file of a Score workload's containers, as
/// written, with its node (both forms of `files`).
pub fn score_sources(tree: &Node) -> Vec<&Node> {
    let containers = tree.get("containers").and_then(Node::as_map);
    let files = containers
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.value.get("files"));
    files
        .flat_map(|files| match &files.value {
            Value::Map(entries) => entries.iter().map(|e| &e.value).collect(),
            Value::Seq(items) => items.iter().collect(),
            Value::Scalar(_) => Vec::new(),
        })
        .filter_map(|file| file.get("source"))
        .collect()
}
