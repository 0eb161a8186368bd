//! `slipway check`

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::bail;

use super::{Output, Status, compile};
use crate::audit;
use crate::compile::{Selection, has_errors};
use crate::diag::printable;
use crate::diff::{Change, compare};
use crate::input::SOURCE_DIR;
use crate::load::{is_yaml, load};
use crate::model::Environment;
use crate::publish::git::{Uncommitted, index_entries, uncommitted};
use crate::rules::Settings;
use crate::source::Sources;
use crate::write::{MANIFEST, folder_digests, is_manifest_name, read_provenance, read_rendered};

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
    if let Some((objects, uncommitted, attached)) = proven_current(&args.against)? {
        if args.staged && !staged(&args.against, Some(uncommitted), &attached, out)? {
            return Ok(Status::Invalid);
        }
        out.note(&format!(
            "`{}` is up to date ({objects} objects; proven by its manifest and git's index, without rendering)",
            args.against.display()
        ));
        return Ok(Status::Success);
    }
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
    let attached: BTreeSet<String> = compiled.project.attached.keys().cloned().collect();
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
        if args.staged && !staged(&args.against, None, &attached, out)? {
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

/// Is the tree at `dir` what the inputs render, provably, without rendering
/// it or reading its files? Yes when its manifest names the fingerprint of
/// the inputs as they are (a render of these very inputs, by this very
/// slipway, wrote it whole: rendering is deterministic), git's index holds
/// each folder the manifest lists with exactly the files and object ids it
/// records, and the work tree holds them as the index does (git tells by
/// the stat data its index keeps). The number of files then, and what git
/// said of the work tree, and the Score workloads' `source` files among
/// the inputs; `None` when any of it cannot be shown, and the full check
/// decides.
fn proven_current(dir: &Path) -> anyhow::Result<Option<(usize, Uncommitted, BTreeSet<String>)>> {
    // As `read_rendered` reads it: a real folder, never through a symlink
    // (`dir/` with a trailing slash would make lstat follow one).
    let dir: &Path = &dir.components().collect::<PathBuf>();
    if !std::fs::symlink_metadata(dir).is_ok_and(|meta| meta.is_dir()) {
        return Ok(None);
    }
    let Ok(Some(provenance)) = read_provenance(dir) else {
        return Ok(None);
    };
    if provenance.incomplete || provenance.source.is_none() {
        return Ok(None);
    }
    // The inputs read while both git commands run: threads of their own,
    // as each mostly waits (for git, for the file system), and rayon's
    // two workers would run one after another what they picked up.
    let (inputs, entries, missing) = std::thread::scope(|scope| {
        let entries = scope.spawn(|| index_entries(dir));
        let missing = scope.spawn(|| uncommitted(dir));
        let inputs = load(Path::new(".")).map(|loaded| {
            let fingerprint = loaded.sources.fingerprint();
            let attached: BTreeSet<String> = loaded.attached.into_keys().collect();
            loaded
                .diagnostics
                .is_empty()
                .then_some((fingerprint, attached))
        });
        (inputs, joined(entries), joined(missing))
    });
    let Some((fingerprint, attached)) = inputs? else {
        return Ok(None);
    };
    if provenance.source != Some(fingerprint) {
        return Ok(None);
    }
    let (Some(entries), Some(missing)) = (entries?, missing?) else {
        return Ok(None);
    };
    let owned = |path: &str| {
        path == MANIFEST
            || path.split_once('/').is_some_and(|(top, _)| {
                provenance.folders.contains_key(top) && is_manifest_name(path)
            })
    };
    let lists = [&missing.untracked, &missing.ignored, &missing.unstaged];
    if lists.iter().any(|list| list.iter().any(|path| owned(path))) {
        return Ok(None);
    }
    let mut files: Vec<(&str, &str)> = Vec::new();
    for entry in entries
        .iter()
        .filter(|e| e.path != MANIFEST && owned(&e.path))
    {
        if entry.mode != "100644" && entry.mode != "100755" {
            return Ok(None);
        }
        files.push((&entry.path, &entry.id));
    }
    files.sort_unstable();
    let digests = folder_digests(files.iter().copied());
    Ok((digests == provenance.folders).then_some((files.len(), missing, attached)))
}

/// A scoped thread's result; its panic, if any, goes on in this thread.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Is the rendered tree on disk, and the inputs it was rendered from, also
/// what git will commit? Lists what is not, with the command that stages
/// it. Only files that matter count: manifests Argo CD would read in the
/// tree, YAML files among the inputs and the `source` files Score
/// workloads read (`attached`, by project path; all in `blueprints/`)
/// (pre-commit stashes unstaged changes to tracked files, but leaves
/// untracked ones in place). `rendered`: what git already said of `dir`,
/// if it was asked.
fn staged(
    dir: &Path,
    rendered: Option<Uncommitted>,
    attached: &BTreeSet<String>,
    out: &Output,
) -> anyhow::Result<bool> {
    let mut rendered = rendered;
    let mut all_staged = true;
    let blueprint =
        |name: &str| is_input_name(name) || attached.contains(&format!("{SOURCE_DIR}/{name}"));
    let inputs: [(PathBuf, &Counts<'_>); 3] = [
        (dir.to_path_buf(), &is_manifest_name),
        (PathBuf::from("blueprints"), &blueprint),
        (PathBuf::from("overlays"), &is_input_name),
    ];
    for (folder, counts) in inputs {
        if folder != dir && !folder.is_dir() {
            continue;
        }
        let asked = if folder == dir { rendered.take() } else { None };
        let Some(mut missing) = asked.map_or_else(|| uncommitted(&folder), |m| Ok(Some(m)))? else {
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

/// Which files of a folder count as what git must hold.
type Counts<'a> = dyn Fn(&str) -> bool + 'a;

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
