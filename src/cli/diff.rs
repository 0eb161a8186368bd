//! `slipway diff`

use std::io::Write;
use std::path::PathBuf;

use super::{Output, Status, compile};
use crate::compile::Selection;
use crate::diff::{Change, compare, listing, unified};
use crate::write::read_rendered;

/// Show what a fresh render would change in a rendered tree, object by
/// object: added, removed and changed objects, a unified diff of each
/// changed one, and a summary line
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway diff --env staging                  compare staging with rendered/
  slipway diff --env prod --against /tmp/gitops/rendered

Files are compared byte for byte: the output is deterministic, and YAML
that reads the same to some parsers (`\"false\"` and `false`) does not to
Kubernetes.
Exit codes, like `git diff --exit-code`: 0 no changes, 1 changes, 2 error
(including invalid input).")]
pub struct Args {
    /// Environment to compare (default: every environment)
    #[arg(long, value_name = "ENV")]
    env: Option<String>,

    /// The rendered tree to compare against
    #[arg(long, value_name = "DIR", default_value = "rendered")]
    against: PathBuf,
}

pub fn run(args: &Args, out: &Output) -> anyhow::Result<Status> {
    let selection = Selection {
        env: args.env.clone(),
        ..Selection::default()
    };
    let fresh = match compile(out, &selection)? {
        Ok(compiled) => compiled.tree(),
        Err(_) => return Ok(Status::Failure),
    };
    let prefix = args.env.as_ref().map(|env| format!("{env}/"));
    let mut rendered = read_rendered(&args.against)?.files;
    rendered.retain(|path, _| prefix.as_ref().is_none_or(|p| path.starts_with(p)));
    let comparison = compare(&rendered, &fresh);
    let colour = out.colour_stdout();
    let mut text = listing(&comparison);
    for difference in comparison
        .differences
        .iter()
        .filter(|d| d.change == Change::Changed)
    {
        text.push('\n');
        text.push_str(&unified(difference, colour));
    }
    if !comparison.is_empty() {
        text.push('\n');
    }
    text.push_str(&comparison.summary());
    text.push('\n');
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(if comparison.is_empty() {
        Status::Success
    } else {
        Status::Invalid
    })
}
