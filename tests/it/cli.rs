//! The command line itself: clap's consistency check, every command's
//! `--help`, and GitHub Actions annotations. The transcripts of
//! `tests/fixtures/cases/` run in `tests/transcripts.rs`, one test per case.

use clap::CommandFactory;

use crate::support::{project, root, run_in, run_with};

#[test]
fn the_command_line_is_consistent() {
    slipway::cli::Cli::command().debug_assert();
}

#[test]
fn every_command_has_help_with_examples() {
    for command in [
        "render",
        "validate",
        "diff",
        "check",
        "publish",
        "promote",
        "graph",
        "set-image",
    ] {
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
