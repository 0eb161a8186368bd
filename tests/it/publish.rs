//! `slipway publish` against real git: bare repositories in temp folders as
//! the GitOps remote, and a real local HTTP server in place of GitHub.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::repo::git;
use crate::support::{self, Run, project, root};

/// The repository the tests' overlays name for Argo CD.
const ARGOCD_REPO: &str = "https://git.example.com/platform/gitops.git";

/// The validate-ok project with `argocd: <section>` in its overlay, or none.
fn publishing_project(section: Option<&str>) -> tempfile::TempDir {
    let dir = project(&root().join("tests/fixtures/cases/validate-ok"));
    if let Some(section) = section {
        set_argocd(dir.path(), section);
    }
    dir
}

/// Write `argocd: <section>` into the project's overlay.
fn set_argocd(project: &Path, section: &str) {
    let overlay = project.join("overlays/dev.yaml");
    let text = fs::read_to_string(&overlay).expect("overlay");
    assert!(text.contains("environment:\n"), "{text}");
    let text = text.replacen(
        "environment:\n",
        &format!("environment:\n  argocd: {section}\n"),
        1,
    );
    fs::write(&overlay, text).expect("write overlay");
}

/// A bare repository and a project that publishes into it.
struct Setup {
    project: tempfile::TempDir,
    remote: tempfile::TempDir,
}

impl Setup {
    /// A project whose overlay says where Argo CD syncs from.
    fn new() -> Setup {
        Setup::with(Some(&format!("{{repoURL: {ARGOCD_REPO}}}")))
    }

    fn with(argocd: Option<&str>) -> Setup {
        let remote = tempfile::tempdir().expect("tempdir");
        git(
            remote.path(),
            &["init", "--quiet", "--bare", "--initial-branch=main"],
        );
        Setup {
            project: publishing_project(argocd),
            remote,
        }
    }

    fn repo(&self) -> String {
        self.remote.path().display().to_string()
    }

    fn publish(&self, extra: &[&str]) -> Run {
        let repo = self.repo();
        let mut args = vec!["publish", "--repo", repo.as_str()];
        args.extend_from_slice(extra);
        run_with(self.project.path(), &args, &[])
    }

    fn commits(&self, branch: &str) -> usize {
        git(self.remote.path(), &["rev-list", "--count", branch])
            .trim()
            .parse()
            .expect("count")
    }

    fn files(&self, branch: &str) -> Vec<String> {
        git(
            self.remote.path(),
            &["ls-tree", "-r", "--name-only", branch],
        )
        .lines()
        .map(str::to_owned)
        .collect()
    }

    fn show(&self, branch: &str, path: &str) -> String {
        git(self.remote.path(), &["show", &format!("{branch}:{path}")])
    }

    fn heads(&self) -> String {
        git(self.remote.path(), &["for-each-ref", "refs/heads"])
    }

    /// What Argo CD would find on `branch`: a root for the environment in
    /// `_bootstrap/` that syncs the environment's `_argocd/` from `repo_url`,
    /// and every Application there pointing at a folder of the pushed tree.
    fn assert_synced(&self, branch: &str, repo_url: &str) {
        let files = self.files(branch);
        let root = self.show(branch, "rendered/dev/_bootstrap/application-dev.root.yaml");
        assert!(root.contains(&format!("repoURL: {repo_url}\n")), "{root}");
        assert!(root.contains("path: rendered/dev/_argocd\n"), "{root}");
        let apps: Vec<&String> = files
            .iter()
            .filter(|f| f.starts_with("rendered/dev/_argocd/application-"))
            .collect();
        assert!(!apps.is_empty(), "{files:?}");
        for app in apps {
            let text = self.show(branch, app);
            assert!(text.contains(&format!("repoURL: {repo_url}\n")), "{text}");
            let path = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("path: "))
                .unwrap_or_else(|| panic!("{app} has a path"));
            assert!(
                files.iter().any(|f| f.starts_with(&format!("{path}/"))),
                "{app} syncs {path}, a folder of the pushed tree"
            );
        }
    }
}

/// slipway with a git identity, so commits work on any machine.
fn run_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let identity = [
        ("GIT_AUTHOR_NAME", "test"),
        ("GIT_AUTHOR_EMAIL", "test@example.com"),
        ("GIT_COMMITTER_NAME", "test"),
        ("GIT_COMMITTER_EMAIL", "test@example.com"),
    ];
    let all: Vec<(&str, &str)> = identity.iter().chain(env).copied().collect();
    support::run_with(dir, args, &all)
}

#[test]
fn first_publish_commits_and_a_second_identical_one_does_not() {
    let setup = Setup::new();
    let first = setup.publish(&[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stderr.contains("published "), "{}", first.stderr);
    assert_eq!(setup.commits("main"), 1);
    let files = setup.files("main");
    assert!(
        files.contains(&"rendered/dev/us-east-1/web/deployment-web.yaml".to_owned()),
        "{files:?}"
    );
    assert!(files.contains(&"rendered/.slipway-manifest.json".to_owned()));
    setup.assert_synced("main", ARGOCD_REPO);
    let message = git(setup.remote.path(), &["log", "-1", "--format=%B", "main"]);
    assert!(
        message.starts_with("slipway: publish rendered manifests ("),
        "{message}"
    );
    assert!(message.contains("Rendered by slipway from"), "{message}");
    let second = setup.publish(&[]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("nothing to publish"),
        "{}",
        second.stderr
    );
    assert_eq!(setup.commits("main"), 1, "no second commit");
}

#[test]
fn removed_services_are_pruned_and_foreign_files_survive() {
    let setup = Setup::new();
    assert_eq!(setup.publish(&[]).code, 0);
    // The worker's objects, and the Application that syncs them.
    let worker = setup
        .files("main")
        .iter()
        .filter(|f| {
            f.starts_with("rendered/dev/us-east-1/worker/")
                || f.as_str() == "rendered/dev/_argocd/application-dev.us-east-1.worker.yaml"
        })
        .count();
    // Someone else adds a file of their own beside the rendered tree.
    let clone = tempfile::tempdir().expect("tempdir");
    git(clone.path(), &["clone", "--quiet", &setup.repo(), "."]);
    fs::write(
        clone.path().join("rendered/dev/us-east-1/worker/NOTES.md"),
        "ours",
    )
    .expect("write");
    fs::write(clone.path().join("README.md"), "gitops").expect("write");
    commit_all(clone.path(), "notes");
    git(clone.path(), &["push", "--quiet", "origin", "main"]);
    fs::remove_file(setup.project.path().join("blueprints/worker.yaml")).expect("remove");
    let run = setup.publish(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(" {worker} removed")),
        "the worker's {worker} objects: {}",
        run.stderr
    );
    let files = setup.files("main");
    assert!(
        !files.iter().any(|f| f.ends_with("deployment-worker.yaml")),
        "{files:?}"
    );
    assert!(files.contains(&"rendered/dev/us-east-1/worker/NOTES.md".to_owned()));
    assert!(files.contains(&"README.md".to_owned()));
}

#[test]
fn racing_publishes_from_the_same_base_all_land() {
    let setup = Setup::new();
    let repo = setup.repo();
    // Four teams publish their own projects into folders of one repository.
    let projects: Vec<tempfile::TempDir> = (0..4)
        .map(|i| publishing_project(Some(&format!("{{repoURL: {ARGOCD_REPO}, path: team{i}}}"))))
        .collect();
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = projects
            .iter()
            .enumerate()
            .map(|(i, project)| {
                let (repo, dir): (String, PathBuf) = (repo.clone(), project.path().to_path_buf());
                scope.spawn(move || {
                    let path = format!("team{i}");
                    run_with(&dir, &["publish", "--repo", &repo, "--path", &path], &[])
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(
        setup.commits("main"),
        4,
        "every publish landed as its own commit"
    );
    let files = setup.files("main");
    for i in 0..4 {
        assert!(
            files.contains(&format!("team{i}/dev/us-east-1/web/deployment-web.yaml")),
            "team{i} landed"
        );
    }
}

#[test]
fn publish_without_argocd_is_refused_naming_the_overlay_and_pushes_nothing() {
    let setup = Setup::with(None);
    let run = setup.publish(&[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    for expected in [
        "error[argocd-missing]",
        "overlays/dev.yaml:5:1",
        "`environment.argocd`",
        "add `argocd: {repoURL: <URL>, path: rendered}` under `environment`",
        "it cannot clone the local",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    assert!(
        setup.heads().is_empty(),
        "nothing pushed: {}",
        setup.heads()
    );
}

#[test]
fn following_the_hint_publishes_a_tree_argo_cd_syncs_from_the_url_without_credentials() {
    let setup = Setup::with(None);
    let target = "https://deploy:hunter2-secret@git.example.com/platform/gitops.git";
    // git reaches that URL in the local bare repository.
    let instead_of = format!("url.{}.insteadOf", setup.repo());
    let env = [
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", instead_of.as_str()),
        ("GIT_CONFIG_VALUE_0", target),
    ];
    let publish = || run_with(setup.project.path(), &["publish", "--repo", target], &env);
    let refused = publish();
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(!refused.stderr.contains("hunter2"), "{}", refused.stderr);
    assert!(setup.heads().is_empty(), "nothing pushed");
    let section = refused
        .stderr
        .split("add `argocd: ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("a section to add: {}", refused.stderr));
    assert_eq!(
        section,
        format!("{{repoURL: {ARGOCD_REPO}, path: rendered}}")
    );
    set_argocd(setup.project.path(), section);
    let published = publish();
    assert_eq!(published.code, 0, "{}", published.stderr);
    assert!(
        !published.stderr.contains("hunter2"),
        "{}",
        published.stderr
    );
    setup.assert_synced("main", ARGOCD_REPO);
    for file in setup.files("main") {
        assert!(!setup.show("main", &file).contains("hunter2"), "{file}");
    }
}

/// Unix only: the hook is a shell script with its executable bit set.
#[cfg(unix)]
#[test]
fn a_push_refused_by_a_hook_fails_cleanly_without_retrying() {
    use std::os::unix::fs::PermissionsExt;

    let setup = Setup::new();
    let log = setup.remote.path().join("hook.log");
    let hook = setup.remote.path().join("hooks/pre-receive");
    fs::write(
        &hook,
        format!(
            // Words a lost race would use: a refusal is told from a race by
            // the branch's state, never by what a hook says.
            "#!/bin/sh\necho invoked >> {}\necho 'main is protected: cannot lock ref, incorrect old value, fetch first' >&2\nexit 1\n",
            log.display()
        ),
    )
    .expect("hook");
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).expect("chmod");
    let run = setup.publish(&[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("was refused"), "{}", run.stderr);
    assert!(run.stderr.contains("main is protected"), "{}", run.stderr);
    assert_eq!(
        fs::read_to_string(&log).expect("log").lines().count(),
        1,
        "no retry loop"
    );
}

#[test]
fn credentials_in_the_repository_url_are_never_printed() {
    let setup = Setup::new();
    let run = run_with(
        setup.project.path(),
        &[
            "publish",
            "--repo",
            "http://deploy:hunter2-secret@127.0.0.1:9/gitops.git",
        ],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        !run.stderr.contains("hunter2-secret") && !run.stdout.contains("hunter2-secret"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("127.0.0.1"), "{}", run.stderr);
}

/// One recorded HTTP request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: serde_json::Value,
}

/// A local HTTP server that answers each request with the next scripted
/// (status, body), records what it was sent, and closes the connection.
fn github_server(script: Vec<(u16, serde_json::Value)>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for (status, answer) in script {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").to_owned(),
            );
            let mut headers = BTreeMap::new();
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).expect("header");
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let length: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("body");
            let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            log.lock().expect("lock").push(Seen {
                method,
                path,
                headers,
                body,
            });
            let text = answer.to_string();
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, seen)
}

const TOKEN: &str = "ghp_test_token_123456";

fn publish_pr(setup: &Setup, api: &str) -> Run {
    let repo = setup.repo();
    run_with(
        setup.project.path(),
        &[
            "publish",
            "--repo",
            &repo,
            "--pr",
            "--github-repo",
            "example/gitops",
        ],
        &[("GITHUB_TOKEN", TOKEN), ("GITHUB_API_URL", api)],
    )
}

#[test]
fn pr_opens_a_pull_request() {
    let setup = Setup::new();
    let created = serde_json::json!({"number": 12, "html_url": "https://github.example/example/gitops/pull/12"});
    let (api, seen) = github_server(vec![(201, created)]);
    let run = publish_pr(&setup, &api);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("opened pull request #12"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(TOKEN) && !run.stdout.contains(TOKEN));
    assert_eq!(setup.commits("slipway/render"), 1, "the branch was pushed");
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/repos/example/gitops/pulls")
    );
    assert_eq!(
        request.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        request.headers.get("accept").map(String::as_str),
        Some("application/vnd.github+json")
    );
    assert_eq!(request.body["head"], "slipway/render");
    assert_eq!(request.body["base"], "main");
    assert!(
        request.body["body"]
            .as_str()
            .unwrap_or("")
            .contains("added"),
        "{}",
        request.body
    );
}

#[test]
fn pr_updates_the_pull_request_that_already_exists() {
    let setup = Setup::new();
    let exists = serde_json::json!({
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for example:slipway/render."}]
    });
    let listed = serde_json::json!([{"number": 7}]);
    let updated = serde_json::json!({"number": 7, "html_url": "https://github.example/example/gitops/pull/7"});
    let (api, seen) = github_server(vec![(422, exists), (200, listed), (200, updated)]);
    let run = publish_pr(&setup, &api);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("updated pull request #7"),
        "{}",
        run.stderr
    );
    let seen = seen.lock().expect("lock");
    let calls: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST", "/repos/example/gitops/pulls"),
            (
                "GET",
                "/repos/example/gitops/pulls?state=open&head=example:slipway/render&base=main"
            ),
            ("PATCH", "/repos/example/gitops/pulls/7"),
        ]
    );
    assert!(
        seen[2].body["body"]
            .as_str()
            .unwrap_or("")
            .contains("Against `main`: "),
        "{}",
        seen[2].body
    );
    assert!(seen.iter().all(|s| {
        s.headers
            .get("authorization")
            .is_some_and(|a| a.ends_with(TOKEN))
    }));
}

#[test]
fn pr_without_a_token_is_refused_before_anything_is_pushed() {
    let setup = Setup::new();
    let repo = setup.repo();
    let run = run_with(
        setup.project.path(),
        &[
            "publish",
            "--repo",
            &repo,
            "--pr",
            "--github-repo",
            "example/gitops",
        ],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("GITHUB_TOKEN"), "{}", run.stderr);
    let heads = setup.heads();
    assert!(heads.is_empty(), "nothing pushed: {heads}");
}

#[test]
fn pr_converges_after_a_failed_api_call_and_describes_the_change_against_the_base() {
    let setup = Setup::new();
    // main holds an older render.
    assert_eq!(setup.publish(&[]).code, 0);
    edit_worker_image(&setup);
    // The push lands, the pull request call fails.
    let broken = serde_json::json!({"message": "Server Error"});
    let (api, _) = github_server(vec![
        (502, broken.clone()),
        (502, broken.clone()),
        (502, broken),
    ]);
    let first = publish_pr(&setup, &api);
    assert_ne!(first.code, 0, "{}", first.stderr);
    assert!(first.stderr.contains("published"), "{}", first.stderr);
    // A rerun has nothing to push, and still opens the pull request.
    let opened = serde_json::json!({"number": 9, "html_url": "https://github.example/example/gitops/pull/9"});
    let (api, seen) = github_server(vec![(201, opened)]);
    let rerun = publish_pr(&setup, &api);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert!(
        rerun.stderr.contains("nothing to publish"),
        "{}",
        rerun.stderr
    );
    assert!(
        rerun.stderr.contains("opened pull request #9"),
        "{}",
        rerun.stderr
    );
    let seen = seen.lock().expect("lock");
    let body = seen[0].body["body"].as_str().unwrap_or_default().to_owned();
    assert!(
        body.contains("Against `main`: 0 added, 1 changed, 0 removed."),
        "{body}"
    );
    assert!(
        body.contains("M rendered/dev/us-east-1/worker/deployment-worker.yaml"),
        "{body}"
    );
    assert!(
        body.contains("## Topology\n\nNo topology change against `main`"),
        "a new image changes no topology: {body}"
    );
    assert!(!body.contains("```mermaid"), "{body}");
}

/// The pull request's body, from the one request the server saw.
fn pr_text(seen: &Arc<Mutex<Vec<Seen>>>) -> String {
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 1, "{seen:?}");
    seen[0].body["body"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn pr_body_draws_the_topology_change_against_the_base() {
    let setup = Setup::new();
    // main holds a render in which nothing calls web.
    assert_eq!(setup.publish(&[]).code, 0);
    let path = setup.project.path().join("blueprints/web.yaml");
    let text = fs::read_to_string(&path).expect("read");
    fs::write(&path, format!("{text}mesh:\n  allowFrom: [worker]\n")).expect("write");
    let opened = serde_json::json!({"number": 5, "html_url": "https://github.example/example/gitops/pull/5"});
    let (api, seen) = github_server(vec![(201, opened)]);
    let run = publish_pr(&setup, &api);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let body = pr_text(&seen);
    // The topology comes before the files.
    let topology = body.find("## Topology\n").expect("a topology section");
    assert!(topology < body.find("## Files\n").expect("files"), "{body}");
    assert!(body.contains("Against `main`: 1 caller added.\n"), "{body}");
    assert!(
        body.contains("```diff\n+ caller dev/us-east-1 worker -> web\n```"),
        "{body}"
    );
    let graph = body
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("a mermaid block: {body}"));
    // Both services, for context, and the new edge in green.
    assert!(graph.starts_with("flowchart LR\n"), "{graph}");
    assert!(
        graph.contains("s_dev_us_east_1_worker[\"worker<br/>application · rolling\"]"),
        "{graph}"
    );
    assert!(
        graph.contains("  s_dev_us_east_1_worker --> s_dev_us_east_1_web\n"),
        "{graph}"
    );
    assert!(
        graph.contains("  linkStyle 0 stroke:#1a7f37,stroke-width:2px\n"),
        "{graph}"
    );
    // The base's topology was read from its rendered tree: only the change
    // is drawn, not every service as if the base were empty.
    assert!(!graph.contains("classDef added"), "{graph}");
}

#[test]
fn pr_body_of_a_first_publish_adds_every_service() {
    let setup = Setup::new();
    let opened = serde_json::json!({"number": 3, "html_url": "https://github.example/example/gitops/pull/3"});
    let (api, seen) = github_server(vec![(201, opened)]);
    let run = publish_pr(&setup, &api);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let body = pr_text(&seen);
    assert!(
        body.contains("Against `main`: 2 services added.\n"),
        "{body}"
    );
    assert!(
        body.contains("+ service dev/us-east-1 web: application · rolling in storefront-dev\n"),
        "{body}"
    );
    assert!(
        body.contains("class s_dev_us_east_1_web,s_dev_us_east_1_worker added"),
        "{body}"
    );
}

/// Give the worker a new image in the project's blueprint.
fn edit_worker_image(setup: &Setup) {
    let path = setup.project.path().join("blueprints/worker.yaml");
    let text = fs::read_to_string(&path).expect("read");
    assert!(text.contains("worker:2.4.1"), "{text}");
    fs::write(&path, text.replace("worker:2.4.1", "worker:2.4.2")).expect("write");
}

#[test]
fn transient_api_errors_are_retried() {
    let setup = Setup::new();
    let opened = serde_json::json!({"number": 4, "html_url": "https://github.example/example/gitops/pull/4"});
    let (api, seen) = github_server(vec![
        (503, serde_json::json!({"message": "busy"})),
        (201, opened),
    ]);
    let run = publish_pr(&setup, &api);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("opened pull request #4"),
        "{}",
        run.stderr
    );
    assert_eq!(seen.lock().expect("lock").len(), 2, "one retry");
}

/// Commit everything in the project (a source repository of its own).
fn commit_all(project: &Path, message: &str) -> String {
    git(project, &["add", "-A"]);
    let id = ["-c", "user.name=t", "-c", "user.email=t@e"];
    let mut args = id.to_vec();
    args.extend(["commit", "--quiet", "-m", message]);
    git(project, &args);
    git(project, &["rev-parse", "HEAD"]).trim().to_owned()
}

#[test]
fn publish_never_goes_backwards_and_never_attributes_a_dirty_tree_to_head() {
    let setup = Setup::new();
    let project = setup.project.path();
    git(project, &["init", "--quiet", "--initial-branch=main"]);
    let older = commit_all(project, "older");
    assert_eq!(setup.publish(&[]).code, 0);
    edit_worker_image(&setup);
    // Uncommitted inputs are refused, naming the file.
    let dirty = setup.publish(&[]);
    assert_eq!(dirty.code, 2, "{}", dirty.stderr);
    assert!(
        dirty
            .stderr
            .contains("`blueprints/worker.yaml`: changed since the commit checked out"),
        "{}",
        dirty.stderr
    );
    let newer = commit_all(project, "newer");
    assert_eq!(setup.publish(&[]).code, 0);
    let log = git(setup.remote.path(), &["log", "-1", "--format=%B", "main"]);
    assert!(log.contains(&format!("Slipway-Source: {newer}")), "{log}");
    assert!(log.contains("Slipway-Path: rendered"), "{log}");
    // A rerun of the older source (a slow CI job, say) is skipped.
    git(project, &["checkout", "--quiet", &older]);
    let commits = setup.commits("main");
    let behind = setup.publish(&[]);
    assert_eq!(behind.code, 0, "{}", behind.stderr);
    assert!(
        behind.stderr.contains(&format!(
            "skipped: `main` of {} holds a render of {newer}, which is newer than {older}",
            setup.repo()
        )),
        "{}",
        behind.stderr
    );
    assert_eq!(setup.commits("main"), commits, "nothing was pushed");
}

#[test]
fn a_base_that_does_not_exist_is_an_error() {
    let setup = Setup::new();
    assert_eq!(setup.publish(&[]).code, 0);
    let base = setup.publish(&["--base", "mian", "--branch", "slipway/x"]);
    assert_eq!(base.code, 2, "{}", base.stderr);
    assert!(
        base.stderr.contains("`--base mian` does not exist"),
        "{}",
        base.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_in_the_gitops_repository_is_never_followed() {
    let setup = Setup::new();
    assert_eq!(setup.publish(&[]).code, 0);
    // Someone commits `rendered` as a symlink pointing out of the clone.
    let clone = tempfile::tempdir().expect("tempdir");
    git(clone.path(), &["clone", "--quiet", &setup.repo(), "."]);
    git(clone.path(), &["rm", "-r", "--quiet", "rendered"]);
    std::os::unix::fs::symlink("/tmp", clone.path().join("rendered")).expect("symlink");
    commit_all(clone.path(), "link");
    git(clone.path(), &["push", "--quiet", "origin", "main"]);
    edit_worker_image(&setup);
    let run = setup.publish(&[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`rendered` is a symlink in the GitOps repository"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_remote_that_never_answers_ends_in_an_error_within_the_bound() {
    let setup = Setup::new();
    // Accepts connections and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/gitops.git", listener.local_addr().expect("addr"));
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(4) {
            open.push(stream);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let started = std::time::Instant::now();
    let run = run_with(
        setup.project.path(),
        &["publish", "--repo", &url],
        &[("SLIPWAY_GIT_TIMEOUT", "2")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("did not finish within 2 s"),
        "{}",
        run.stderr
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    drop(held);
}

#[test]
fn an_api_error_that_echoes_the_token_is_printed_without_it() {
    let setup = Setup::new();
    let echoed = serde_json::json!({"message": format!("Bad credentials for Bearer {TOKEN}")});
    let (api, _) = github_server(vec![(401, echoed)]);
    let run = publish_pr(&setup, &api);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("Bad credentials for Bearer ***"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(TOKEN), "{}", run.stderr);
}

/// What the shipped workflow for a pushed image does, end to end: the
/// application's CI names a new image, `set-image` edits the overlay (its
/// comments and layout kept), the edit is committed, and `publish --pr`
/// opens a pull request in the GitOps repository whose change is exactly
/// the new images in the Rollout and the Deployment.
#[test]
fn set_image_then_publish_opens_a_pull_request_with_the_new_images() {
    let setup = Setup::new();
    let project = setup.project.path();
    // web rolls out as a canary (a Rollout), the worker as a Deployment.
    let web = project.join("blueprints/web.yaml");
    let text = fs::read_to_string(&web).expect("blueprint") + "delivery: {strategy: canary}\n";
    fs::write(&web, text).expect("write");
    let overlay = project.join("overlays/dev.yaml");
    let text = fs::read_to_string(&overlay).expect("overlay");
    let before = format!(
        "# dev: every push to main deploys here.\n{}",
        text.replace(
            "availability: null\n",
            "availability: null   # no PDB in dev\n"
        )
    );
    fs::write(&overlay, &before).expect("write");
    git(project, &["init", "--quiet", "--initial-branch=main"]);
    commit_all(project, "platform");
    assert_eq!(setup.publish(&[]).code, 0, "main holds the current render");

    for assignment in [
        "web=registry.example.com/storefront/web:2.5.0",
        "worker=registry.example.com/storefront/worker:2.4.2",
    ] {
        let run = run_with(project, &["set-image", "--env", "dev", assignment], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.starts_with("set `"), "{}", run.stderr);
    }
    let after = fs::read_to_string(&overlay).expect("overlay");
    assert_eq!(
        after,
        format!(
            "{before}    containers:\n      app:\n        image: registry.example.com/storefront/web:2.5.0\n  worker:\n    containers:\n      app:\n        image: registry.example.com/storefront/worker:2.4.2\n"
        ),
        "every byte of the overlay kept, the images added"
    );
    let again = run_with(
        project,
        &[
            "set-image",
            "--env",
            "dev",
            "web=registry.example.com/storefront/web:2.5.0",
        ],
        &[],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.starts_with("unchanged: "), "{}", again.stderr);

    // The edit must be committed: a render of it is not a render of HEAD.
    let dirty = setup.publish(&[]);
    assert_eq!(dirty.code, 2, "{}", dirty.stderr);
    assert!(
        dirty
            .stderr
            .contains("`overlays/dev.yaml`: changed since the commit"),
        "{}",
        dirty.stderr
    );
    commit_all(project, "deploy web 2.5.0 and worker 2.4.2 to dev");
    let opened = serde_json::json!({"number": 21, "html_url": "https://github.example/example/gitops/pull/21"});
    let (api, seen) = github_server(vec![(201, opened)]);
    let run = publish_pr(&setup, &api);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("opened pull request #21"),
        "{}",
        run.stderr
    );
    let seen = seen.lock().expect("lock");
    let body = seen[0].body["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("Against `main`: 0 added, 2 changed, 0 removed."),
        "{body}"
    );
    let rollout = "rendered/dev/us-east-1/web/rollout-web.yaml";
    let deployment = "rendered/dev/us-east-1/worker/deployment-worker.yaml";
    for (file, old, new) in [
        (rollout, "web:2.4.1", "web:2.5.0"),
        (deployment, "worker:2.4.1", "worker:2.4.2"),
    ] {
        assert!(body.contains(&format!("M {file}\n")), "{body}");
        let image = |branch: &str| {
            setup
                .show(branch, file)
                .lines()
                .find_map(|l| {
                    let field = l.trim().trim_start_matches("- ");
                    field.strip_prefix("image: ").map(str::to_owned)
                })
                .unwrap_or_else(|| panic!("{file} on {branch} has an image"))
        };
        assert_eq!(
            image("main"),
            format!("registry.example.com/storefront/{old}")
        );
        assert_eq!(
            image("slipway/render"),
            format!("registry.example.com/storefront/{new}")
        );
    }
}
