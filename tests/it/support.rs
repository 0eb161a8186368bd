//! Shared helpers: the project root, running the binary, golden files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use slipway::compile::{Project, Selection};
use slipway::lower::Rendered;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What the one render pipeline produced: the documents by path, every
/// typed object the `inspect` hook saw (by the path of its document), and
/// the mesh identities outside the rendered clusters.
pub struct Rendering {
    pub files: BTreeMap<String, String>,
    pub objects: BTreeMap<String, Rendered>,
    pub external_principals: BTreeSet<String>,
}

/// Render `selection` the way the commands do, asserting it has no
/// diagnostics, and keep the typed objects.
pub fn render(project: &Project, selection: &Selection) -> Rendering {
    let seen = Mutex::new((BTreeMap::new(), BTreeSet::new()));
    let (documents, diags) = project.render(selection, |group| {
        let mut seen = seen.lock().expect("no test thread panicked");
        for object in group.objects {
            let path = slipway::emit::path(group.env, group.region, object);
            seen.0.insert(path, object.clone());
        }
        seen.1.extend(group.external_principals.iter().cloned());
    });
    assert!(diags.is_empty(), "{diags:?}");
    let (objects, external_principals) = seen.into_inner().expect("no test thread panicked");
    Rendering {
        files: documents.into_iter().collect(),
        objects,
        external_principals,
    }
}

/// `UPDATE_GOLDEN=1 cargo test` rewrites golden files instead of comparing.
pub fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compare `actual` with the golden file, or rewrite it under `UPDATE_GOLDEN=1`.
pub fn assert_golden(path: &Path, actual: &str) {
    if updating() {
        std::fs::write(path, actual).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, actual)
            .unified_diff()
            .header("expected", "actual")
            .to_string();
        panic!(
            "{} is out of date; run `UPDATE_GOLDEN=1 cargo test` and review the diff\n{diff}",
            path.display()
        );
    }
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
/// colour and without a token from the environment of the test run.
pub fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_BACKTRACE")
        .env_remove("GITHUB_TOKEN")
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
            (rel, std::fs::read(e.path()).expect("readable"))
        })
        .collect()
}
