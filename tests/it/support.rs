//! Shared helpers of both integration-test binaries: the project root,
//! scratch projects, running the binary, golden files. `tests/it/` has it as
//! `mod support`, and `tests/transcripts.rs` includes this same file with
//! `#[path]`, so everything here must be used by both (the other binary
//! would warn about dead code).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `UPDATE_GOLDEN=1 cargo test` rewrites golden files instead of comparing.
pub fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compare `actual` with the golden file, or rewrite it under
/// `UPDATE_GOLDEN=1`. The error says how to update and shows the diff.
pub fn golden(path: &Path, actual: &str) -> Result<(), String> {
    if updating() {
        return fs::write(path, actual).map_err(|e| format!("writing {}: {e}", path.display()));
    }
    let expected = fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return Ok(());
    }
    let diff = similar::TextDiff::from_lines(&expected, actual)
        .unified_diff()
        .header("expected", "actual")
        .to_string();
    Err(format!(
        "{} is out of date; run `UPDATE_GOLDEN=1 cargo test` and review the diff\n{diff}",
        path.display()
    ))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the slipway binary in `dir`, without colour.
pub fn run_in(dir: &Path, args: &[&str]) -> Run {
    run_with(dir, args, &[])
}

/// Run the slipway binary in `dir` with extra environment variables, without
/// colour and without a token (GitHub's, Argo CD's) from the environment of
/// the test run.
pub fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("GITHUB_TOKEN")
        .env_remove("ARGOCD_AUTH_TOKEN")
        .env_remove("ARGOCD_SERVER")
        .env_remove("GITHUB_ACTIONS")
        .envs(env.iter().copied())
        .output()
        .expect("slipway runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Every file under `dir`: relative path (with `/`) -> bytes.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .expect("under dir")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, fs::read(e.path()).expect("readable"))
        })
        .collect()
}

pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
    {
        let rel = entry.path().strip_prefix(from).expect("under from");
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).expect("mkdir");
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Set up a case's project in a scratch folder: the base project in
/// `tests/fixtures/base/` with the paths in the case's `.delete` removed and
/// its `files/` laid over it.
pub fn project(case: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&root().join("tests/fixtures/base"), dir.path());
    if let Ok(list) = fs::read_to_string(case.join(".delete")) {
        for rel in list.lines().filter(|l| !l.is_empty()) {
            fs::remove_file(dir.path().join(rel)).expect("delete listed file");
        }
    }
    if case.join("files").is_dir() {
        copy_tree(&case.join("files"), dir.path());
    }
    dir
}
