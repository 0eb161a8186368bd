//! `slipway check`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::bail;

use super::{Output, Status, compile};
use crate::audit;
use crate::compile::{Selection, has_errors};
use crate::diag::printable;
use crate::diff::{Change, compare};
use crate::load::is_yaml;
use crate::model::Environment;
use crate::publish::git::{Uncommitted, uncommitted};
use crate::rules::Settings;
use crate::source::Sources;
use crate::write::{is_manifest_name, read_rendered};

/// Fail when the rendered tree is not what the blueprints and overlays
/// produce: for pre-commit hooks and CI. Renders everything in memory and
/// writes nothing
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway check                       is rendered/ up to date?
  slipway check --against deploy/rendered
  slipway check --staged              in a pre-commit hook: is what git will commit up to date?

Every file inside the folders slipway owns counts, byte for byte: a file
slipway did not write there is stale too, since Argo CD would sync it.
Exit codes: 0 up to date, 1 stale (the files are listed, with the command
that fixes them) or invalid input, 2 operational error (including a
missing folder, or a symlink, FIFO or device inside it).")]
pub struct Args {
    /// The rendered tree to check
    #[arg(long, value_name = "DIR", default_value = "rendered")]
    against: PathBuf,

    /// Judge what the next git commit holds: fail when rendered files are
    /// untracked, ignored, or changed without `git add` (for pre-commit)
    #[arg(long)]
    staged: bool,
}

/// Stale files listed by name; the rest are counted.
const LISTED: usize = 20;

pub fn run(args: &Args, out: &Output) -> anyhow::Result<Status> {
    let compiled = match compile(out, &Selection::default())? {
        Ok(compiled) => compiled,
        Err(status) => return Ok(status),
    };
    let settings: BTreeMap<String, Settings> = compiled
        .project
        .inputs
        .overlays
        .iter()
        .map(|(env, overlay)| (env.clone(), Environment::new(&overlay.head).policy))
        .collect();
    let fresh = compiled.tree();
    let on_disk = read_rendered(&args.against)?;
    // What Argo CD would sync, whoever wrote it: the tree rules. A file
    // equal to the fresh render breaks none (the render asserts it), so
    // only files someone added or changed are read.
    let fallback = Settings::new(false, &BTreeMap::new());
    let root = args.against.display().to_string();
    let edited: BTreeMap<String, String> = on_disk
        .files
        .iter()
        .filter(|(path, text)| fresh.get(*path) != Some(*text))
        .map(|(path, text)| (path.clone(), text.clone()))
        .collect();
    let findings = audit::tree(&root, &edited, |env| settings.get(env), &fallback);
    out.diagnostics(&findings, &Sources::default());
    let comparison = compare(&on_disk.files, &fresh);
    let dir = args.against.display();
    if on_disk.interrupted {
        out.note(&format!(
            "error: a render into `{dir}` was interrupted: its files are part old, part new; run `slipway render --all -o {dir}`"
        ));
        return Ok(Status::Invalid);
    }
    if comparison.is_empty() {
        if has_errors(&findings) {
            return Ok(Status::Invalid);
        }
        if args.staged && !staged(&args.against, out)? {
            return Ok(Status::Invalid);
        }
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
        out.note(&format!(
            "stale: {dir}/{} ({why})",
            printable(&difference.path)
        ));
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

/// Is the rendered tree on disk, and the inputs it was rendered from, also
/// what git will commit? Lists what is not, with the command that stages
/// it. Only files that matter count: manifests Argo CD would read in the
/// tree, YAML files among the inputs (pre-commit stashes unstaged changes
/// to tracked files, but leaves untracked ones in place).
fn staged(dir: &Path, out: &Output) -> anyhow::Result<bool> {
    let mut all_staged = true;
    let inputs = [
        (dir.to_path_buf(), is_manifest_name as fn(&str) -> bool),
        (PathBuf::from("blueprints"), is_input_name),
        (PathBuf::from("overlays"), is_input_name),
    ];
    for (folder, counts) in inputs {
        if folder != dir && !folder.is_dir() {
            continue;
        }
        let Some(mut missing) = uncommitted(&folder)? else {
            bail!(
                "`--staged` needs a git work tree, and `{}` is not in one",
                folder.display()
            );
        };
        for list in [
            &mut missing.untracked,
            &mut missing.unstaged,
            &mut missing.ignored,
        ] {
            list.retain(|file| counts(file));
        }
        all_staged &= report_unstaged(&folder, &missing, out);
    }
    Ok(all_staged)
}

fn is_input_name(name: &str) -> bool {
    is_yaml(Path::new(name))
}

/// Print what the commit would miss under `folder`; true when nothing.
fn report_unstaged(folder: &Path, missing: &Uncommitted, out: &Output) -> bool {
    if missing.is_empty() {
        return true;
    }
    let shown = folder.display();
    let lists = [
        (
            &missing.untracked,
            "untracked: the commit would not hold it",
        ),
        (&missing.unstaged, "changed but not staged"),
        (&missing.ignored, "ignored by git: it is never committed"),
    ];
    for (files, why) in lists {
        for file in files.iter().take(LISTED) {
            out.note(&format!("not staged: {shown}/{} ({why})", printable(file)));
        }
        if files.len() > LISTED {
            out.note(&format!(
                "not staged: ... and {} more",
                files.len() - LISTED
            ));
        }
    }
    let fix = if missing.ignored.is_empty() {
        format!("run `git add -A -- {shown}`")
    } else {
        format!("remove `{shown}` from .gitignore, then run `git add -A -- {shown}`")
    };
    out.note(&format!(
        "error: the commit would not hold `{shown}` as it is on disk; {fix}"
    ));
    false
}
