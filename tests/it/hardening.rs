//! The refusals of `../shared/design/hardening.md` that need a file system
//! a fixture cannot hold (symlinks, huge or binary files), and the promises
//! about the output folder.

use std::fs;
#[cfg(unix)]
use std::os::unix::fs::symlink;

use crate::support::{Run, project, read_tree, root, run_in};

fn base() -> tempfile::TempDir {
    project(&root().join("tests/fixtures/cases/validate-ok"))
}

fn refused(run: &Run, file: &str, message: &str) {
    assert_eq!(run.code, 1, "exit code; stderr:\n{}", run.stderr);
    assert!(run.stderr.contains(file), "names `{file}`:\n{}", run.stderr);
    assert!(
        run.stderr.contains(message),
        "says `{message}`:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn symlinks_leading_outside_the_root_are_refused() {
    let outside = tempfile::tempdir().expect("tempdir");
    let target = outside.path().join("web.yaml");
    fs::copy(
        root().join("tests/fixtures/base/blueprints/web.yaml"),
        &target,
    )
    .expect("copy");
    let dir = base();
    let p = dir.path();
    symlink(&target, p.join("blueprints/absolute.yaml")).expect("symlink");
    symlink(
        "../../../../../../../../etc/hostname",
        p.join("blueprints/dotdot.yaml"),
    )
    .expect("symlink");
    // A sibling whose name extends the root's: `/tmp/x` vs `/tmp/x2`.
    let sibling = format!("{}2", p.display());
    fs::create_dir_all(&sibling).expect("mkdir");
    fs::write(format!("{sibling}/web.yaml"), "x: 1\n").expect("write");
    symlink(
        format!("{sibling}/web.yaml"),
        p.join("blueprints/prefix.yaml"),
    )
    .expect("symlink");
    let run = run_in(p, &["validate"]);
    for file in [
        "blueprints/absolute.yaml",
        "blueprints/dotdot.yaml",
        "blueprints/prefix.yaml",
    ] {
        refused(&run, file, "symlink leads outside the project root");
    }
    fs::remove_dir_all(sibling).expect("cleanup");
}

#[cfg(unix)]
#[test]
fn symlinks_inside_the_root_are_followed() {
    let dir = base();
    let p = dir.path();
    fs::create_dir_all(p.join("shared")).expect("mkdir");
    fs::rename(
        p.join("blueprints/worker.yaml"),
        p.join("shared/worker.yaml"),
    )
    .expect("move");
    symlink("../shared/worker.yaml", p.join("blueprints/worker.yaml")).expect("symlink");
    let run = run_in(p, &["validate"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_refused_without_hanging() {
    let dir = base();
    let p = dir.path();
    symlink("..", p.join("blueprints/loop")).expect("symlink");
    let run = run_in(p, &["validate"]);
    refused(&run, "blueprints/loop", "symlink loop");
}

#[test]
fn oversized_binary_and_utf16_files_are_refused() {
    let dir = base();
    let p = dir.path();
    let big = format!("# {}\n", "x".repeat(1024 * 1024));
    fs::write(p.join("blueprints/big.yaml"), big).expect("write");
    fs::write(
        p.join("blueprints/latin1.yaml"),
        b"apiVersion: slipway.dev/v1alpha1\nkind: Blueprint # caf\xe9\n",
    )
    .expect("write");
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "kind: Blueprint\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    fs::write(p.join("blueprints/utf16.yaml"), utf16).expect("write");
    let run = run_in(p, &["validate"]);
    refused(&run, "blueprints/big.yaml", "the limit is 1048576");
    refused(&run, "blueprints/latin1.yaml", "not valid UTF-8");
    refused(&run, "blueprints/utf16.yaml", "UTF-16");
}

#[test]
fn names_that_would_become_paths_are_refused() {
    let dir = base();
    let p = dir.path();
    let web = fs::read_to_string(p.join("blueprints/web.yaml")).expect("read");
    fs::write(
        p.join("blueprints/evil.yaml"),
        web.replace("name: web", "name: ../../evil"),
    )
    .expect("write");
    let dev = fs::read_to_string(p.join("overlays/dev.yaml")).expect("read");
    fs::write(
        p.join("overlays/dev.yaml"),
        dev.replace("{name: us-east-1,", "{name: a/b,"),
    )
    .expect("write");
    let run = run_in(p, &["render", "--all", "-o", "out"]);
    refused(
        &run,
        "blueprints/evil.yaml:5:9",
        "invalid service name `../../evil`",
    );
    refused(&run, "overlays/dev.yaml", "invalid region name `a/b`");
    assert!(!p.join("out").exists());
}

#[test]
fn crlf_files_are_accepted() {
    let dir = base();
    let p = dir.path();
    for file in ["blueprints/web.yaml", "overlays/dev.yaml"] {
        let text = fs::read_to_string(p.join(file)).expect("read");
        fs::write(p.join(file), text.replace('\n', "\r\n")).expect("write");
    }
    let run = run_in(p, &["render", "--env", "dev"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains('\r'));
}

#[test]
fn a_failed_render_leaves_the_output_folder_as_it_was() {
    let dir = base();
    let p = dir.path();
    assert_eq!(run_in(p, &["render", "--all", "-o", "out"]).code, 0);
    fs::write(p.join("out/README.md"), "not slipway's").expect("write");
    let before = read_tree(&p.join("out"));
    let web = fs::read_to_string(p.join("blueprints/web.yaml")).expect("read");
    fs::write(
        p.join("blueprints/web.yaml"),
        web.replace("2.4.1", "2.4.2")
            .replace("maxReplicas: 4", "maxReplica: 4"),
    )
    .expect("write");
    let run = run_in(p, &["render", "--all", "-o", "out"]);
    refused(&run, "blueprints/web.yaml", "unknown field `maxReplica`");
    assert_eq!(before, read_tree(&p.join("out")));
}

#[test]
fn removed_services_are_pruned_and_foreign_files_survive() {
    let dir = base();
    let p = dir.path();
    assert_eq!(run_in(p, &["render", "--all", "-o", "out"]).code, 0);
    let objects: Vec<String> = read_tree(&p.join("out"))
        .into_keys()
        .filter(|f| f != ".slipway-manifest.json")
        .collect();
    let worker = objects
        .iter()
        .filter(|f| f.starts_with("dev/us-east-1/worker/"))
        .count();
    let kept = objects.len() - worker;
    fs::write(p.join("out/dev/us-east-1/worker/notes.txt"), "mine").expect("write");
    fs::remove_file(p.join("blueprints/worker.yaml")).expect("remove");
    let run = run_in(p, &["render", "--all", "-o", "out"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(" {worker} removed")),
        "the worker's {worker} objects: {}",
        run.stderr
    );
    assert!(
        !p.join("out/dev/us-east-1/worker/deployment-worker.yaml")
            .exists()
    );
    assert_eq!(
        fs::read_to_string(p.join("out/dev/us-east-1/worker/notes.txt")).expect("kept"),
        "mine"
    );
    let again = run_in(p, &["render", "--all", "-o", "out"]);
    assert!(
        again
            .stderr
            .contains(&format!("0 written, {kept} unchanged, 0 removed")),
        "{}",
        again.stderr
    );
}

#[test]
fn rendering_one_environment_never_prunes_another() {
    let dir = base();
    let p = dir.path();
    let dev = fs::read_to_string(p.join("overlays/dev.yaml")).expect("read");
    fs::write(
        p.join("overlays/qa.yaml"),
        dev.replace("name: dev", "name: qa").replace("-dev", "-qa"),
    )
    .expect("write");
    assert_eq!(run_in(p, &["render", "--all", "-o", "out"]).code, 0);
    let run = run_in(p, &["render", "--env", "dev", "-o", "out"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(p.join("out/qa/us-east-1/web/deployment-web.yaml").exists());
}

#[test]
fn dash_c_runs_from_another_folder() {
    let dir = base();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let project = dir.path().to_str().expect("utf-8 path");
    let run = run_in(
        elsewhere.path(),
        &["-C", project, "render", "--env", "dev", "-o", "out"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        dir.path()
            .join("out/dev/us-east-1/web/deployment-web.yaml")
            .exists()
    );
    let nowhere = run_in(elsewhere.path(), &["validate"]);
    assert_eq!(nowhere.code, 2);
    assert!(
        nowhere
            .stderr
            .contains("neither `blueprints/` nor `overlays/`"),
        "{}",
        nowhere.stderr
    );
}

#[cfg(unix)]
#[test]
fn an_output_folder_that_is_a_symlink_is_refused() {
    let dir = base();
    let p = dir.path();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    symlink(elsewhere.path(), p.join("out")).expect("symlink");
    let run = run_in(p, &["render", "--all", "-o", "out"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("refusing to write into `out`: it is a symlink"),
        "{}",
        run.stderr
    );
    assert!(
        read_tree(elsewhere.path()).is_empty(),
        "nothing written through it"
    );
}

#[test]
fn a_hand_written_file_where_slipway_renders_is_never_overwritten_silently() {
    let dir = base();
    let p = dir.path();
    assert_eq!(run_in(p, &["render", "--all", "-o", "out"]).code, 0);
    // Someone writes a file at a path the next render will fill: the
    // worker gets a disruption budget.
    let planned = p.join("out/dev/us-east-1/worker/poddisruptionbudget-worker.yaml");
    assert!(!planned.exists());
    fs::write(&planned, "# hand-written\n").expect("write");
    let worker = fs::read_to_string(p.join("blueprints/worker.yaml")).expect("read");
    fs::write(
        p.join("blueprints/worker.yaml"),
        worker + "availability: {maxUnavailable: 1}\n",
    )
    .expect("write");
    let before = read_tree(&p.join("out"));
    let run = run_in(p, &["render", "--all", "-o", "out"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("poddisruptionbudget-worker.yaml`: slipway did not write it"),
        "{}",
        run.stderr
    );
    assert_eq!(before, read_tree(&p.join("out")), "nothing written");
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_at_a_temp_name_is_never_written_through() {
    let dir = base();
    let p = dir.path();
    assert_eq!(run_in(p, &["render", "--all", "-o", "out"]).code, 0);
    let outside = tempfile::tempdir().expect("tempdir");
    let victim = outside.path().join("bashrc");
    fs::write(&victim, "mine\n").expect("write");
    // The temp names slipway once used, planted beside the files it rewrites.
    let folder = p.join("out/dev/us-east-1/web");
    for name in [
        ".deployment-web.yaml.slipway-tmp",
        "..slipway-manifest.json.slipway-tmp",
    ] {
        symlink(&victim, folder.join(name)).expect("symlink");
    }
    symlink(&victim, p.join("out/..slipway-manifest.json.slipway-tmp")).expect("symlink");
    let web = fs::read_to_string(p.join("blueprints/web.yaml")).expect("read");
    fs::write(
        p.join("blueprints/web.yaml"),
        web.replace("WORKERS: 8", "WORKERS: 9"),
    )
    .expect("write");
    let run = run_in(p, &["render", "--all", "-o", "out"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read_to_string(&victim).expect("read"), "mine\n");
}

#[cfg(unix)]
#[test]
fn pruning_never_follows_a_symlinked_folder() {
    let dir = base();
    let p = dir.path();
    assert_eq!(run_in(p, &["render", "--all", "-o", "out"]).code, 0);
    // The worker's folder is swapped for a link to a folder outside.
    let outside = tempfile::tempdir().expect("tempdir");
    let moved = outside.path().join("worker");
    fs::rename(p.join("out/dev/us-east-1/worker"), &moved).expect("move");
    symlink(&moved, p.join("out/dev/us-east-1/worker")).expect("symlink");
    let before = read_tree(&moved);
    fs::remove_file(p.join("blueprints/worker.yaml")).expect("remove");
    let run = run_in(p, &["render", "--all", "-o", "out"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is a symlink"), "{}", run.stderr);
    assert_eq!(read_tree(&moved), before, "nothing outside was removed");
}

#[cfg(unix)]
#[test]
fn an_output_folder_named_with_a_trailing_slash_is_still_not_followed() {
    let dir = base();
    let p = dir.path();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    symlink(elsewhere.path(), p.join("out")).expect("symlink");
    let run = run_in(p, &["render", "--all", "-o", "out/"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        read_tree(elsewhere.path()).is_empty(),
        "nothing written through it"
    );
    let check = run_in(p, &["check", "--against", "out/"]);
    assert_eq!(check.code, 2, "{}", check.stderr);
}

#[cfg(unix)]
#[test]
fn a_file_name_with_control_characters_is_refused_and_printed_escaped() {
    let dir = base();
    let p = dir.path();
    fs::write(
        p.join("blueprints/web\u{1b}[2J\r::error::x.yaml"),
        "kind: Blueprint\n",
    )
    .expect("write");
    let run = run_in(p, &["validate"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("file name has control characters"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains('\u{1b}') && !run.stderr.contains('\r'),
        "{:?}",
        run.stderr
    );
    assert!(
        run.stderr.contains("web\\u{1b}[2J\\u{d}::error::x.yaml"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_interrupted_re_render_is_seen_by_check_and_cleaned_by_the_next_render() {
    let dir = base();
    let p = dir.path();
    assert_eq!(run_in(p, &["render", "--all", "-o", "out"]).code, 0);
    // What a render killed halfway leaves: the manifest it wrote first
    // (incomplete), one file rewritten, and a temp file never renamed.
    let manifest = p.join("out/.slipway-manifest.json");
    let text = fs::read_to_string(&manifest).expect("manifest");
    assert!(
        !text.contains("incomplete"),
        "a finished render says nothing: {text}"
    );
    let pending = text.replacen('{', "{\n  \"incomplete\": true,", 1);
    fs::write(&manifest, pending).expect("write");
    let leftover = p.join("out/dev/us-east-1/web/.slipway-Ab12Cd.tmp");
    fs::write(&leftover, "half").expect("write");
    let check = run_in(p, &["check", "--against", "out"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.stderr.contains("a render into `out` was interrupted"),
        "{}",
        check.stderr
    );
    let again = run_in(p, &["render", "--all", "-o", "out"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!leftover.exists(), "the leftover is cleaned");
    assert!(
        !fs::read_to_string(&manifest)
            .expect("manifest")
            .contains("incomplete")
    );
    assert_eq!(run_in(p, &["check", "--against", "out"]).code, 0);
}
