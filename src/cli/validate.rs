//! `slipway validate`

use super::{Output, Status, compile};
use crate::compile::Selection;

/// Check every blueprint and overlay, and render every environment in
/// memory, without writing anything
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway validate
  slipway -C path/to/platform validate")]
pub struct Args {}

pub fn run(_args: &Args, out: &Output) -> anyhow::Result<Status> {
    let (project, clusters, objects) = match compile(out, &Selection::default())? {
        Ok(compiled) => (
            compiled.project,
            compiled.clusters,
            compiled.documents.len(),
        ),
        Err(status) => return Ok(status),
    };
    out.note(&format!(
        "ok: {}, {}, {}, {}",
        count(project.inputs.blueprints.len(), "service"),
        count(project.inputs.overlays.len(), "environment"),
        count(clusters, "cluster"),
        count(objects, "object")
    ));
    Ok(Status::Success)
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
