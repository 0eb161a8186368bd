//! `slipway validate`

use super::{Output, Status, open_project};
use crate::compile::{Selection, has_errors};

/// Check every blueprint and overlay, and render every environment in
/// memory, without writing anything
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway validate
  slipway -C path/to/platform validate")]
pub struct Args {}

pub fn run(_args: &Args, out: &Output) -> anyhow::Result<Status> {
    let Some(project) = open_project(out)? else {
        return Ok(Status::Invalid);
    };
    if let Err(message) = project.check_selection(&Selection::default()) {
        out.note(&format!("error: {message}"));
        return Ok(Status::Failure);
    }
    let (clusters, diagnostics) = project.render(&Selection::default());
    out.diagnostics(&diagnostics, &project.sources);
    if has_errors(&diagnostics) {
        return Ok(Status::Invalid);
    }
    let objects: usize = clusters.iter().map(|c| c.objects.len()).sum();
    out.note(&format!(
        "ok: {} services, {} environments, {} clusters, {objects} objects",
        project.inputs.blueprints.len(),
        project.inputs.overlays.len(),
        clusters.len()
    ));
    Ok(Status::Success)
}
