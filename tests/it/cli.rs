//! CLI transcripts: each `tests/fixtures/cases/<case>/` is the base project in
//! `tests/fixtures/base/` with its `files/` laid over it (and the paths in
//! `.delete` removed). The case's `cmd` runs in a scratch copy; exit code,
//! stdout, stderr and every file the run wrote are compared with
//! `transcript.txt` (`UPDATE_GOLDEN=1 cargo test` rewrites them).

use std::fs;
use std::path::Path;

use clap::CommandFactory;

use crate::support::{assert_golden, read_tree, root, run_in, run_with};

fn copy_tree(from: &Path, to: &Path) {
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

fn files_under(dir: &Path) -> Vec<String> {
    read_tree(dir).into_keys().collect()
}

/// Set up a case's project in a scratch folder.
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

fn transcript(case: &Path) -> String {
    let cmd = fs::read_to_string(case.join("cmd")).expect("cmd file");
    let args: Vec<&str> = cmd.split_whitespace().collect();
    let dir = project(case);
    let before = files_under(dir.path());
    let run = run_in(dir.path(), &args);
    let written: Vec<String> = files_under(dir.path())
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    let written = if written.is_empty() {
        "(nothing)\n".to_owned()
    } else {
        written.join("\n") + "\n"
    };
    format!(
        "$ slipway {}\nexit: {}\n--- stdout\n{}--- stderr\n{}--- written\n{written}",
        args.join(" "),
        run.code,
        run.stdout,
        run.stderr
    )
}

#[test]
fn transcripts() {
    let cases = root().join("tests/fixtures/cases");
    let mut names: Vec<_> = fs::read_dir(&cases)
        .expect("cases")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    names.sort();
    assert!(names.len() > 30, "the cases are all there");
    for case in names {
        assert_golden(&case.join("transcript.txt"), &transcript(&case));
    }
}

#[test]
fn every_failing_case_writes_nothing_and_names_a_location() {
    let cases = root().join("tests/fixtures/cases");
    for entry in fs::read_dir(&cases).expect("cases").filter_map(Result::ok) {
        let text = fs::read_to_string(entry.path().join("transcript.txt")).unwrap_or_default();
        if text.contains("\nexit: 1\n") {
            assert!(
                text.ends_with("--- written\n(nothing)\n"),
                "{} wrote files",
                entry.path().display()
            );
            let located = text.lines().any(|l| {
                l.contains("┌─ ")
                    || (l.starts_with("error[")
                        && (l.contains("]: blueprints/") || l.contains("]: overlays/")))
                    || l.contains(r#""file":""#)
            });
            assert!(located, "{} names no file", entry.path().display());
        }
    }
}

#[test]
fn the_command_line_is_consistent() {
    slipway::cli::Cli::command().debug_assert();
}

#[test]
fn every_command_has_help_with_examples() {
    for command in ["render", "validate", "diff", "check", "publish"] {
        let run = run_in(root(), &[command, "--help"]);
        assert_eq!(run.code, 0);
        assert!(
            run.stdout.contains("Examples:"),
            "{command} --help has examples"
        );
    }
}

#[test]
fn github_actions_get_annotations_on_the_lines_responsible() {
    let dir = project(&root().join("tests/fixtures/cases/unknown-field"));
    let run = run_with(dir.path(), &["validate"], &[("GITHUB_ACTIONS", "true")]);
    let stderr = run.stderr;
    assert_eq!(run.code, 1);
    assert!(
        stderr.contains("::error file=blueprints/web.yaml,line=24,col=27,endLine=24,endColumn=37,title=slipway unknown-field::unknown field `maxReplica`%0Ahint: did you mean `maxReplicas`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("┌─ blueprints/web.yaml:24:27"),
        "the human report stays: {stderr}"
    );
}
