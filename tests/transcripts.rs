//! CLI transcripts, one test per case folder: each
//! `tests/fixtures/cases/<case>/` is the base project in `tests/fixtures/base/`
//! with its `files/` laid over it (and the paths in `.delete` removed). The
//! case's `cmd` runs in a scratch copy; exit code, stdout, stderr and every
//! file the run wrote (new files by name, changed ones with a diff) are
//! compared with `transcript.txt`
//! (`UPDATE_GOLDEN=1 cargo test` rewrites them), and a case refused with
//! exit code 1 must have written nothing and named a file.
//!
//! The built-in harness knows only the `#[test]` functions written in the
//! source, so this binary has its own (`harness = false`, libtest-mimic): a
//! test per folder, named after it, so that `cargo test --test transcripts
//! <case>` runs one case and every mismatching case is reported.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

#[path = "it/support.rs"]
mod support;

use support::{golden, project, read_tree, root, run_in};

fn main() {
    let args = Arguments::from_args();
    let trials = cases()
        .into_iter()
        .map(|case| {
            let name = case
                .file_name()
                .expect("a folder entry has a name")
                .to_string_lossy()
                .into_owned();
            Trial::test(name, move || check(&case))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// Every entry of `tests/fixtures/cases/`, sorted. A missing or empty folder
/// stops the run: it must never pass by running no case.
fn cases() -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures/cases");
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading the cases folder {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
                .path()
        })
        .collect();
    assert!(!cases.is_empty(), "{} holds no case", dir.display());
    cases.sort();
    cases
}

fn check(case: &Path) -> Result<(), Failed> {
    let cmd = case.join("cmd");
    let cmd = fs::read_to_string(&cmd)
        .map_err(|e| format!("{}: {e}; every case folder needs a `cmd`", cmd.display()))?;
    let transcript = transcript(case, &cmd);
    golden(&case.join("transcript.txt"), &transcript)?;
    refusals_write_nothing_and_name_a_file(&transcript)?;
    Ok(())
}

fn transcript(case: &Path, cmd: &str) -> String {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let dir = project(case);
    let before = read_tree(dir.path());
    let run = run_in(dir.path(), &args);
    let written = written(&before, &read_tree(dir.path()));
    let written = if written.is_empty() {
        "(nothing)\n".to_owned()
    } else {
        written
    };
    format!(
        "$ slipway {}\nexit: {}\n--- stdout\n{}--- stderr\n{}--- written\n{written}",
        args.join(" "),
        run.code,
        run.stdout,
        run.stderr
    )
}

/// The files a run wrote: each new file's path, and each changed file's
/// path with a unified diff of the change (`set-image` edits inputs).
fn written(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> String {
    let mut out = String::new();
    for (path, bytes) in after {
        match before.get(path) {
            None => out.push_str(&format!("{path}\n")),
            Some(old) if old != bytes => {
                let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(bytes));
                let diff = similar::TextDiff::from_lines(&old, &new)
                    .unified_diff()
                    .context_radius(2)
                    .to_string();
                out.push_str(&format!("{path} (changed)\n{diff}"));
            }
            Some(_) => {}
        }
    }
    out
}

/// A run refused with exit code 1 wrote nothing, and a diagnostic names the
/// file responsible.
fn refusals_write_nothing_and_name_a_file(transcript: &str) -> Result<(), String> {
    if !transcript.contains("\nexit: 1\n") {
        return Ok(());
    }
    if !transcript.ends_with("--- written\n(nothing)\n") {
        return Err("the run failed with exit code 1 but wrote files".into());
    }
    let located = transcript.lines().any(|l| {
        l.contains("┌─ ")
            || (l.starts_with("error[")
                && (l.contains("]: blueprints/") || l.contains("]: overlays/")))
            || l.contains(r#""file":""#)
    });
    if !located {
        return Err("the run failed with exit code 1 but names no file".into());
    }
    Ok(())
}
