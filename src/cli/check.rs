//! `slipway check`

use std::path::PathBuf;

use super::{Output, Status, compile};
use crate::compile::Selection;
use crate::diff::{Change, compare};
use crate::write::read_rendered;

/// Fail when the rendered tree is not what the blueprints and overlays
/// produce: for pre-commit hooks and CI. Renders everything in memory and
/// writes nothing
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway check                       is rendered/ up to date?
  slipway check --against deploy/rendered

Every file inside the folders slipway owns counts, byte for byte: a file
slipway did not write there is stale too, since Argo CD would sync it.
Exit codes: 0 up to date, 1 stale (the files are listed, with the command
that fixes them) or invalid input, 2 operational error (including a
missing folder, or a symlink, FIFO or device inside it).")]
pub struct Args {
    /// The rendered tree to check
    #[arg(long, value_name = "DIR", default_value = "rendered")]
    against: PathBuf,
}

/// Stale files listed by name; the rest are counted.
const LISTED: usize = 20;

pub fn run(args: &Args, out: &Output) -> anyhow::Result<Status> {
    let fresh = match compile(out, &Selection::default())? {
        Ok(compiled) => compiled.tree(),
        Err(status) => return Ok(status),
    };
    let on_disk = read_rendered(&args.against)?;
    let comparison = compare(&on_disk.files, &fresh);
    let dir = args.against.display();
    if comparison.is_empty() {
        out.note(&format!(
            "`{dir}` is up to date ({} objects)",
            comparison.unchanged
        ));
        return Ok(Status::Success);
    }
    for difference in comparison.differences.iter().take(LISTED) {
        let why = match difference.change {
            Change::Added => "missing",
            Change::Removed if on_disk.foreign.contains(&difference.path) => {
                "not written by slipway, yet Argo CD syncs it"
            }
            Change::Removed => "no longer rendered",
            Change::Changed => "out of date",
        };
        out.note(&format!("stale: {dir}/{} ({why})", difference.path));
    }
    if comparison.differences.len() > LISTED {
        out.note(&format!(
            "stale: ... and {} more",
            comparison.differences.len() - LISTED
        ));
    }
    out.note(&format!(
        "error: `{dir}` is not what the blueprints and overlays produce ({}); run `slipway render --all -o {dir}`",
        comparison.summary()
    ));
    Ok(Status::Invalid)
}
