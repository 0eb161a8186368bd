//! `diff` and `check` against a rendered tree: exit codes and output.

use std::collections::BTreeMap;
use std::fs;

use crate::repo::git;
use crate::support::{project, read_tree, root, run_in};

fn rendered_base() -> tempfile::TempDir {
    let dir = project(&root().join("tests/fixtures/cases/validate-ok"));
    let run = run_in(dir.path(), &["render", "--all", "-o", "rendered"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    dir
}

fn edit(path: &std::path::Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{from} in {}", path.display());
    fs::write(path, text.replace(from, to)).expect("write");
}

#[test]
fn check_passes_when_up_to_date_and_lists_stale_files() {
    let dir = rendered_base();
    let p = dir.path();
    let ok = run_in(p, &["check"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stderr.contains("`rendered` is up to date"),
        "{}",
        ok.stderr
    );
    edit(
        &p.join("blueprints/web.yaml"),
        "maxReplicas: 4",
        "maxReplicas: 6",
    );
    let stale = run_in(p, &["check"]);
    assert_eq!(stale.code, 1);
    assert!(
        stale.stderr.contains(
            "stale: rendered/dev/us-east-1/web/horizontalpodautoscaler-web.yaml (out of date)"
        ),
        "{}",
        stale.stderr
    );
    assert!(
        stale
            .stderr
            .contains("run `slipway render --all -o rendered`"),
        "{}",
        stale.stderr
    );
    assert!(stale.stdout.is_empty());
}

#[test]
fn check_against_another_folder_and_a_missing_one() {
    let dir = rendered_base();
    let p = dir.path();
    fs::rename(p.join("rendered"), p.join("deploy")).expect("move");
    assert_eq!(run_in(p, &["check", "--against", "deploy"]).code, 0);
    let missing = run_in(p, &["check"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains(
            "`rendered` does not exist; render it first with `slipway render --all -o rendered`"
        ),
        "{}",
        missing.stderr
    );
    let diff = run_in(p, &["diff", "--against", "nowhere"]);
    assert_eq!(diff.code, 2, "{}", diff.stderr);
    assert!(
        diff.stderr.contains("`nowhere` does not exist"),
        "{}",
        diff.stderr
    );
}

#[test]
fn check_compares_bytes_as_kubernetes_reads_them() {
    let dir = rendered_base();
    let p = dir.path();
    // `"false"` made `false`: the same to a lenient reader, a boolean to
    // Kubernetes (YAML 1.1), which then refuses or misreads the env var.
    edit(
        &p.join("rendered/dev/us-east-1/web/deployment-web.yaml"),
        "value: \"false\"",
        "value: false",
    );
    let run = run_in(p, &["check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("stale: rendered/dev/us-east-1/web/deployment-web.yaml (out of date)"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_reports_files_slipway_did_not_write_where_argo_cd_syncs() {
    let dir = rendered_base();
    let p = dir.path();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\nstringData:\n  password: hunter2\n";
    fs::write(
        p.join("rendered/dev/us-east-1/web/secret-leaked.yaml"),
        secret,
    )
    .expect("write");
    // Argo CD reads only .yaml, .yml, .json and .jsonnet files: notes are fine.
    fs::write(p.join("rendered/dev/us-east-1/web/NOTES.md"), "ours").expect("write");
    let run = run_in(p, &["check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "stale: rendered/dev/us-east-1/web/secret-leaked.yaml (not written by slipway, yet Argo CD syncs it)"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("NOTES.md"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error[no-secret-data]: rendered/dev/us-east-1/web/secret-leaked.yaml: is a Secret with data: secret values must never reach Git"
        ),
        "the guardrail reads what Argo CD would sync: {}",
        run.stderr
    );
    let diff = run_in(p, &["diff"]);
    assert_eq!(diff.code, 1);
    assert!(
        diff.stdout.contains("removed Secret leaked"),
        "{}",
        diff.stdout
    );
}

#[cfg(unix)]
#[test]
fn check_never_reads_through_a_symlink_or_a_fifo() {
    use std::os::unix::fs::symlink;
    let dir = rendered_base();
    let p = dir.path();
    let secret = p.join("secret.txt");
    fs::write(&secret, "token").expect("write");
    let link = p.join("rendered/dev/us-east-1/web/serviceaccount-web.yaml");
    fs::remove_file(&link).expect("remove");
    symlink(&secret, &link).expect("symlink");
    let run = run_in(p, &["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("serviceaccount-web.yaml` is not a regular file (a symlink, FIFO or device)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("token"), "{}", run.stderr);
    fs::remove_file(&link).expect("remove");
    let fifo = std::process::Command::new("mkfifo")
        .arg(&link)
        .status()
        .expect("mkfifo runs");
    assert!(fifo.success());
    // A FIFO without a writer would block a reader forever: refused instead.
    let run = run_in(p, &["check"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not a regular file"),
        "{}",
        run.stderr
    );
}

#[test]
fn diff_shows_changed_added_and_removed_objects() {
    let dir = rendered_base();
    let p = dir.path();
    let same = run_in(p, &["diff", "--env", "dev"]);
    assert_eq!(same.code, 0, "{}", same.stderr);
    assert!(
        same.stdout.starts_with("0 added, 0 removed, 0 changed,"),
        "{}",
        same.stdout
    );
    edit(
        &p.join("blueprints/web.yaml"),
        "maxReplicas: 4",
        "maxReplicas: 6",
    );
    fs::remove_file(p.join("blueprints/worker.yaml")).expect("remove");
    let changed = run_in(p, &["diff", "--env", "dev"]);
    assert_eq!(changed.code, 1, "{}", changed.stderr);
    let out = &changed.stdout;
    assert!(out.contains("removed Deployment storefront-dev/worker  (dev/us-east-1/worker/deployment-worker.yaml)"), "{out}");
    assert!(
        out.contains("changed HorizontalPodAutoscaler storefront-dev/web"),
        "{out}"
    );
    assert!(
        out.contains("-  maxReplicas: 4\n+  maxReplicas: 6\n"),
        "{out}"
    );
    // What a fresh render of dev adds, removes and changes in `rendered/`.
    let fresh = run_in(p, &["render", "--env", "dev", "-o", "fresh"]);
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    let dev = |dir: &str| -> BTreeMap<String, Vec<u8>> {
        read_tree(&p.join(dir))
            .into_iter()
            .filter(|(f, _)| f.starts_with("dev/"))
            .collect()
    };
    let (old, new) = (dev("rendered"), dev("fresh"));
    let added = new.keys().filter(|f| !old.contains_key(*f)).count();
    let removed = old.keys().filter(|f| !new.contains_key(*f)).count();
    let changed = new
        .iter()
        .filter(|(f, bytes)| old.get(*f).is_some_and(|o| o != *bytes))
        .count();
    assert!(
        out.contains(&format!(
            "\n{added} added, {removed} removed, {changed} changed, "
        )),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "no colour when piped");
}

#[test]
fn diff_shows_reordered_keys_as_a_change() {
    let dir = rendered_base();
    let p = dir.path();
    let file = p.join("rendered/dev/us-east-1/web/serviceaccount-web.yaml");
    let text = fs::read_to_string(&file).expect("read");
    let (head, metadata) = text.split_once("metadata:").expect("metadata");
    fs::write(&file, format!("metadata:{metadata}{head}")).expect("write");
    let run = run_in(p, &["diff"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("changed ServiceAccount"),
        "{}",
        run.stdout
    );
}

#[test]
fn diff_on_invalid_input_is_an_error() {
    let dir = rendered_base();
    let p = dir.path();
    edit(
        &p.join("blueprints/web.yaml"),
        "maxReplicas: 4",
        "maxReplica: 4",
    );
    let run = run_in(p, &["diff", "--env", "dev"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("unknown field `maxReplica`"));
}

/// The example platform's inputs, copied into a scratch folder.
fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for folder in ["blueprints", "overlays"] {
        fs::create_dir(dir.path().join(folder)).expect("mkdir");
        for entry in fs::read_dir(root().join(folder)).expect("inputs") {
            let entry = entry.expect("entry");
            fs::copy(
                entry.path(),
                dir.path().join(folder).join(entry.file_name()),
            )
            .expect("copy");
        }
    }
    dir
}

#[test]
fn a_partial_render_keeps_every_shared_object_whole() {
    let dir = example_copy();
    let p = dir.path();
    let all = run_in(p, &["render", "--all", "-o", "rendered"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    let before = read_tree(&p.join("rendered"));
    for service in ["checkout", "orders"] {
        let args = [
            "render",
            "--env",
            "prod",
            "--region",
            "us-east-1",
            "--service",
            service,
            "-o",
            "rendered",
        ];
        let run = run_in(p, &args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains(": 0 written,"), "{}", run.stderr);
        assert!(run.stderr.contains(", 0 removed"), "{}", run.stderr);
        assert_eq!(
            read_tree(&p.join("rendered")),
            before,
            "--service {service} changed the tree"
        );
    }
    // A change to one service rewrites its folder and the shared routes,
    // computed from the whole cluster; other services' folders stay as they were.
    edit(
        &p.join("blueprints/checkout.yaml"),
        "pathPrefix: /api/checkout",
        "pathPrefix: /api/buy",
    );
    edit(
        &p.join("blueprints/catalog.yaml"),
        "image: registry.example.com/",
        "image: registry.example.com/x",
    );
    let args = [
        "render",
        "--env",
        "prod",
        "--region",
        "us-east-1",
        "--service",
        "checkout",
        "-o",
        "rendered",
    ];
    let run = run_in(p, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = read_tree(&p.join("rendered"));
    let routes = "prod/us-east-1/_gateway/virtualservice-api-example-com.yaml";
    let text = String::from_utf8_lossy(&after[routes]);
    assert!(text.contains("prefix: /api/buy"), "{text}");
    assert!(
        text.contains("prefix: /api/catalog"),
        "the other services' routes stay: {text}"
    );
    let changed: Vec<&String> = after
        .keys()
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(
        changed
            .iter()
            .all(|p| p.starts_with("prod/us-east-1/checkout/")
                || p.starts_with("prod/us-east-1/_gateway/")
                || p.ends_with(".slipway-manifest.json")),
        "{changed:?}"
    );
}

#[test]
fn a_service_a_region_does_not_run_is_never_silently_empty() {
    let p = root();
    let excluded = run_in(
        p,
        &[
            "render",
            "--env",
            "prod",
            "--region",
            "ap-southeast-1",
            "--service",
            "checkout",
        ],
    );
    assert_eq!(excluded.code, 2, "{}", excluded.stderr);
    assert!(excluded.stdout.is_empty());
    assert!(
        excluded.stderr.contains("error: `checkout` is not deployed in `prod/ap-southeast-1`: the region's `only` lists api-gateway, catalog, web"),
        "{}",
        excluded.stderr
    );
    let some = run_in(p, &["render", "--env", "prod", "--service", "checkout"]);
    assert_eq!(some.code, 0, "{}", some.stderr);
    assert!(
        some.stderr
            .contains("note: `checkout` is not deployed in `prod/ap-southeast-1`"),
        "{}",
        some.stderr
    );
    let explain = run_in(
        p,
        &[
            "explain",
            "--env",
            "prod",
            "--region",
            "ap-southeast-1",
            "checkout",
            "scaling.minReplicas",
        ],
    );
    assert_eq!(explain.code, 2, "{}", explain.stderr);
    assert!(
        explain
            .stderr
            .contains("is not deployed in `prod/ap-southeast-1`"),
        "{}",
        explain.stderr
    );
}

/// A platform repository with its inputs committed and `rendered/` on disk.
fn repository() -> tempfile::TempDir {
    let dir = rendered_base();
    let p = dir.path();
    git(p, &["init", "--quiet", "--initial-branch=main"]);
    git(p, &["add", "blueprints", "overlays"]);
    dir
}

#[test]
fn check_staged_judges_what_the_commit_will_hold() {
    let dir = repository();
    let p = dir.path();
    // Up to date on disk, but nothing of rendered/ is staged.
    let untracked = run_in(p, &["check", "--staged"]);
    assert_eq!(untracked.code, 1, "{}", untracked.stderr);
    assert!(
        untracked.stderr.contains(
            "not staged: rendered/dev/us-east-1/web/deployment-web.yaml (untracked: the commit would not hold it)"
        ),
        "{}",
        untracked.stderr
    );
    assert!(
        untracked.stderr.contains("run `git add -A -- rendered`"),
        "{}",
        untracked.stderr
    );
    assert_eq!(
        run_in(p, &["check"]).code,
        0,
        "without --staged only the disk counts"
    );
    git(p, &["add", "-A"]);
    let staged = run_in(p, &["check", "--staged"]);
    assert_eq!(staged.code, 0, "{}", staged.stderr);
    // Files Argo CD never reads do not count; an input left untracked does.
    fs::write(p.join("rendered/dev/.DS_Store"), "finder").expect("write");
    assert_eq!(run_in(p, &["check", "--staged"]).code, 0);
    let worker = fs::read_to_string(p.join("blueprints/worker.yaml")).expect("read");
    fs::write(
        p.join("blueprints/worker2.yaml"),
        worker.replace("name: worker", "name: worker2"),
    )
    .expect("write");
    assert_eq!(run_in(p, &["render", "--all", "-o", "rendered"]).code, 0);
    git(p, &["add", "rendered"]);
    let input = run_in(p, &["check", "--staged"]);
    assert_eq!(input.code, 1, "{}", input.stderr);
    assert!(
        input.stderr.contains(
            "not staged: blueprints/worker2.yaml (untracked: the commit would not hold it)"
        ),
        "{}",
        input.stderr
    );
    git(p, &["add", "blueprints"]);
    assert_eq!(run_in(p, &["check", "--staged"]).code, 0);
    // A re-render after an input change, with only the input staged.
    edit(
        &p.join("blueprints/web.yaml"),
        "maxReplicas: 4",
        "maxReplicas: 6",
    );
    assert_eq!(run_in(p, &["render", "--all", "-o", "rendered"]).code, 0);
    git(p, &["add", "blueprints"]);
    let unstaged = run_in(p, &["check", "--staged"]);
    assert_eq!(unstaged.code, 1, "{}", unstaged.stderr);
    assert!(
        unstaged.stderr.contains(
            "not staged: rendered/dev/us-east-1/web/horizontalpodautoscaler-web.yaml (changed but not staged)"
        ),
        "{}",
        unstaged.stderr
    );
}

#[test]
fn check_staged_refuses_an_ignored_tree_and_a_folder_outside_git() {
    let dir = repository();
    let p = dir.path();
    fs::write(p.join(".gitignore"), "rendered/\n").expect("write");
    let ignored = run_in(p, &["check", "--staged"]);
    assert_eq!(ignored.code, 1, "{}", ignored.stderr);
    assert!(
        ignored
            .stderr
            .contains("(ignored by git: it is never committed)"),
        "{}",
        ignored.stderr
    );
    assert!(
        ignored.stderr.contains("remove `rendered` from .gitignore"),
        "{}",
        ignored.stderr
    );
    let outside = rendered_base();
    let run = run_in(outside.path(), &["check", "--staged"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("`--staged` needs a git work tree"),
        "{}",
        run.stderr
    );
}

/// `check` of a tree a render of these very inputs wrote whole, which git's
/// index holds as the work tree does: proven without rendering. Any other
/// state renders and compares, and says what is stale.
#[test]
fn check_proves_an_unchanged_tree_from_the_index_and_renders_whenever_it_cannot() {
    const PROVEN: &str = "proven by its manifest and git's index";
    let dir = repository();
    let p = dir.path();
    let dev = fs::read_to_string(p.join("overlays/dev.yaml")).expect("read");
    fs::write(
        p.join("overlays/qa.yaml"),
        dev.replace("-dev", "-qa").replace("name: dev", "name: qa"),
    )
    .expect("write");
    assert_eq!(run_in(p, &["render", "--all", "-o", "rendered"]).code, 0);
    let check = |code: i32, proven: bool, why: &str| {
        let run = run_in(p, &["check"]);
        assert_eq!(run.code, code, "{why}: {}", run.stderr);
        assert_eq!(run.stderr.contains(PROVEN), proven, "{why}: {}", run.stderr);
        run.stderr
    };
    check(0, false, "rendered/ untracked");
    git(p, &["add", "-A"]);
    check(0, true, "staged whole");
    let deployment = p.join("rendered/dev/us-east-1/web/deployment-web.yaml");
    edit(&deployment, "value: \"false\"", "value: \"true\"");
    let stale = check(1, false, "an edit on disk");
    assert!(
        stale.contains("web/deployment-web.yaml (out of date)"),
        "{stale}"
    );
    git(p, &["add", "-A"]);
    check(1, false, "an edit staged");
    assert_eq!(run_in(p, &["render", "--all", "-o", "rendered"]).code, 0);
    git(p, &["add", "-A"]);
    check(0, true, "rendered again");
    let foreign = p.join("rendered/dev/us-east-1/web/extra.yaml");
    fs::write(&foreign, "kind: ConfigMap\n").expect("write");
    let extra = check(1, false, "a file slipway did not write");
    assert!(extra.contains("not written by slipway"), "{extra}");
    fs::remove_file(&foreign).expect("remove");
    check(0, true, "the file gone");
    // A part of the same inputs' render keeps the proof; a part of other
    // inputs' does not, since the rest of the tree is older.
    assert_eq!(
        run_in(p, &["render", "--env", "dev", "-o", "rendered"]).code,
        0
    );
    check(0, true, "a partial render of the same inputs");
    edit(
        &p.join("blueprints/web.yaml"),
        "maxReplicas: 4",
        "maxReplicas: 6",
    );
    check(1, false, "an input changed");
    assert_eq!(
        run_in(p, &["render", "--env", "qa", "-o", "rendered"]).code,
        0
    );
    git(p, &["add", "-A"]);
    let partial = check(1, false, "only qa rendered after the change");
    assert!(
        partial
            .contains("rendered/dev/us-east-1/web/horizontalpodautoscaler-web.yaml (out of date)"),
        "{partial}"
    );
    // Never through a symlink, as the full check, which refuses it.
    #[cfg(unix)]
    {
        assert_eq!(run_in(p, &["render", "--all", "-o", "rendered"]).code, 0);
        git(p, &["add", "-A"]);
        std::os::unix::fs::symlink("rendered", p.join("link")).expect("symlink");
        let linked = run_in(p, &["check", "--against", "link/"]);
        assert_eq!(linked.code, 2, "{}", linked.stderr);
        assert!(!linked.stderr.contains(PROVEN), "{}", linked.stderr);
    }
    let outside = rendered_base();
    let run = run_in(outside.path(), &["check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains(PROVEN), "no git: {}", run.stderr);
}
