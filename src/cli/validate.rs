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
    let (project, clusters) = match compile(out, &Selection::default())? {
        Ok(compiled) => (compiled.project, compiled.clusters),
        Err(status) => return Ok(status),
    };
    let objects: usize = clusters.iter().map(|c| c.objects.len()).sum();
    out.note(&format!(
        "ok: {}, {}, {}, {}",
        count(project.inputs.blueprints.len(), "service"),
        count(project.inputs.overlays.len(), "environment"),
        count(
            clusters.iter().filter(|c| c.region.is_some()).count(),
            "cluster"
        ),
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
