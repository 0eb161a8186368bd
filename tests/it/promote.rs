//! Staged region promotion end to end: the example platform (prod promotes
//! us-east-1, then eu-west-1, then ap-southeast-1) published into a real
//! bare repository, and `slipway promote` against a real local HTTP server
//! that answers as Argo CD's API does, each region's Applications as the
//! test sets them. What Argo CD would sync in a region is what the region's
//! branch holds.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::repo::git;
use crate::support::{self, Run, copy_tree, root};

const TOKEN: &str = "argocd-test-token-0123456789";
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-1"];

/// How the fake Argo CD reports every Application of a region:
/// `(sync status, revision, health status, health message)`.
type Region = (String, String, String, String);

/// A local HTTP server answering `GET /api/v1/applications/{name}` from
/// the state of the region the name is in (`prod.<region>.…`), recording
/// what it was asked and with which Authorization header.
struct ArgoCd {
    url: String,
    regions: Arc<Mutex<BTreeMap<String, Region>>>,
    asked: Arc<Mutex<Vec<(String, String)>>>,
}

impl ArgoCd {
    fn start() -> ArgoCd {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let regions: Arc<Mutex<BTreeMap<String, Region>>> = Arc::default();
        let asked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let (state, log) = (Arc::clone(&regions), Arc::clone(&asked));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                answer(stream, &state, &log);
            }
        });
        ArgoCd {
            url,
            regions,
            asked,
        }
    }

    fn set(&self, region: &str, sync: &str, revision: &str, health: &str, message: &str) {
        self.regions.lock().expect("lock").insert(
            region.to_owned(),
            (sync.into(), revision.into(), health.into(), message.into()),
        );
    }

    /// The Applications asked for since the last call.
    fn asked(&self) -> Vec<String> {
        let mut asked = self.asked.lock().expect("lock");
        for (_, authorization) in asked.iter() {
            assert_eq!(authorization, &format!("Bearer {TOKEN}"));
        }
        asked.drain(..).map(|(name, _)| name).collect()
    }
}

fn answer(
    stream: std::net::TcpStream,
    state: &Mutex<BTreeMap<String, Region>>,
    log: &Mutex<Vec<(String, String)>>,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut authorization = String::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim_end().is_empty() {
            break;
        }
        if let Some((key, value)) = header.trim_end().split_once(':') {
            if key.eq_ignore_ascii_case("authorization") {
                authorization = value.trim().to_owned();
            }
        }
    }
    let name = path
        .strip_prefix("/api/v1/applications/")
        .unwrap_or_default()
        .to_owned();
    let region = name.split('.').nth(1).unwrap_or_default().to_owned();
    log.lock()
        .expect("lock")
        .push((name.clone(), authorization));
    let known = state.lock().expect("lock").get(&region).cloned();
    let (status, body) = match known {
        Some((sync, revision, health, message)) => (
            200,
            serde_json::json!({
                "metadata": {"name": name, "namespace": "argocd"},
                "spec": {},
                "status": {
                    "sync": {"status": sync, "revision": revision},
                    "health": {"status": health, "message": message},
                    "operationState": {"phase": "Succeeded", "syncResult": {"revision": revision}},
                },
            }),
        ),
        // As Argo CD answers for an Application it does not have.
        None => (
            403,
            serde_json::json!({"error": "permission denied", "code": 7, "message": "permission denied"}),
        ),
    };
    let text = body.to_string();
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

/// The example platform in a scratch folder, and a bare GitOps repository.
struct Setup {
    project: tempfile::TempDir,
    remote: tempfile::TempDir,
    argocd: ArgoCd,
}

impl Setup {
    fn new() -> Setup {
        let project = tempfile::tempdir().expect("tempdir");
        for folder in ["blueprints", "overlays"] {
            copy_tree(&root().join(folder), &project.path().join(folder));
        }
        let remote = tempfile::tempdir().expect("tempdir");
        git(
            remote.path(),
            &["init", "--quiet", "--bare", "--initial-branch=main"],
        );
        Setup {
            project,
            remote,
            argocd: ArgoCd::start(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let identity = [
            ("GIT_AUTHOR_NAME", "test"),
            ("GIT_AUTHOR_EMAIL", "test@example.com"),
            ("GIT_COMMITTER_NAME", "test"),
            ("GIT_COMMITTER_EMAIL", "test@example.com"),
            ("ARGOCD_AUTH_TOKEN", TOKEN),
        ];
        let run = support::run_with(self.project.path(), args, &identity);
        assert!(
            !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
            "the token is never printed: {}",
            run.stderr
        );
        run
    }

    fn repo(&self) -> String {
        self.remote.path().display().to_string()
    }

    fn publish_web(&self, tag: &str) -> Run {
        let image = format!("web=registry.example.com/storefront/web:{tag}");
        let run = self.run(&["set-image", "--env", "prod", &image]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let run = self.run(&["publish", "--repo", &self.repo()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run
    }

    fn promote(&self) -> Run {
        let repo = self.repo();
        let args = [
            "promote",
            "--env",
            "prod",
            "--repo",
            &repo,
            "--argocd",
            &self.argocd.url,
        ];
        self.run(&args)
    }

    fn tip(&self, branch: &str) -> String {
        git(self.remote.path(), &["rev-parse", branch])
            .trim()
            .to_owned()
    }

    fn branch(region: &str) -> String {
        format!("slipway/promotion/prod/{region}")
    }

    /// The tips of the region branches, in promotion order.
    fn regions(&self) -> Vec<String> {
        REGIONS
            .iter()
            .map(|r| self.tip(&Setup::branch(r)))
            .collect()
    }

    /// The image of `web` that Argo CD would deploy in `region`: what the
    /// region's branch holds in the region's folder, which the region's
    /// Application (in the region's folder of `_argocd/`, at that branch)
    /// syncs.
    fn deployed(&self, region: &str) -> String {
        let branch = Setup::branch(region);
        let app = git(
            self.remote.path(),
            &[
                "show",
                &format!(
                    "{branch}:rendered/prod/_argocd/{region}/application-prod.{region}.web.yaml"
                ),
            ],
        );
        assert!(
            app.contains(&format!("targetRevision: {branch}\n")),
            "{app}"
        );
        assert!(
            app.contains(&format!("path: rendered/prod/{region}/web\n")),
            "{app}"
        );
        let deployment = git(
            self.remote.path(),
            &[
                "show",
                &format!("{branch}:rendered/prod/{region}/web/deployment-web.yaml"),
            ],
        );
        deployment
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("image: registry.example.com/storefront/web:")
            })
            .expect("an image")
            .to_owned()
    }

    fn deployed_everywhere(&self) -> Vec<String> {
        REGIONS.iter().map(|r| self.deployed(r)).collect()
    }
}

#[test]
fn a_change_reaches_us_east_then_eu_west_then_ap_southeast_each_once_the_one_before_is_healthy() {
    let setup = Setup::new();
    // The first publish turns promotion on: every region starts at it.
    let run = setup.publish_web("7.4.0");
    assert!(
        run.stderr
            .contains("`slipway/promotion/prod/ap-southeast-1`"),
        "{}",
        run.stderr
    );
    let v1 = setup.tip("main");
    assert_eq!(setup.regions(), [v1.clone(), v1.clone(), v1.clone()]);
    assert_eq!(setup.deployed_everywhere(), ["7.4.0", "7.4.0", "7.4.0"]);
    // The next publish reaches the first region only.
    let run = setup.publish_web("7.5.0");
    assert!(
        run.stderr.contains("and to `slipway/promotion/prod/us-east-1`: staged promotion's first region follows `main`"),
        "{}",
        run.stderr
    );
    let v2 = setup.tip("main");
    assert_eq!(setup.regions(), [v2.clone(), v1.clone(), v1.clone()]);
    let mut order = vec![setup.deployed_everywhere()];

    // us-east-1 is rolling out: eu-west-1 waits, and promote says for what.
    setup.argocd.set(
        "us-east-1",
        "Synced",
        &v2,
        "Progressing",
        "Waiting for rollout to finish",
    );
    setup.argocd.set("eu-west-1", "Synced", &v1, "Healthy", "");
    let run = setup.promote();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("waiting: `eu-west-1` gets"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("`prod.us-east-1.web` is Progressing: Waiting for rollout to finish"),
        "{}",
        run.stderr
    );
    let asked = setup.argocd.asked();
    assert!(
        asked.contains(&"prod.us-east-1.region.root".to_owned()),
        "{asked:?}"
    );
    assert!(
        asked.contains(&"prod.us-east-1.namespace.storefront-prod".to_owned()),
        "{asked:?}"
    );
    assert!(
        asked.iter().all(|n| n.starts_with("prod.us-east-1.")),
        "{asked:?}"
    );
    assert_eq!(setup.regions(), [v2.clone(), v1.clone(), v1.clone()]);

    // Healthy at v2: eu-west-1 gets v2, and only it.
    setup.argocd.set("us-east-1", "Synced", &v2, "Healthy", "");
    let run = setup.promote();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("eu-west-1: promoted `slipway/promotion/prod/eu-west-1`"),
        "{}",
        run.stderr
    );
    assert_eq!(setup.regions(), [v2.clone(), v2.clone(), v1.clone()]);
    order.push(setup.deployed_everywhere());

    // eu-west-1 has not synced v2 yet: ap-southeast-1 waits.
    setup
        .argocd
        .set("eu-west-1", "OutOfSync", &v2, "Healthy", "");
    let run = setup.promote();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("is OutOfSync at"), "{}", run.stderr);
    setup.argocd.set("eu-west-1", "Synced", &v1, "Healthy", "");
    let run = setup.promote();
    assert!(
        run.stderr
            .contains(&format!("not yet Synced at {}", &v2[..12])),
        "{}",
        run.stderr
    );
    assert_eq!(setup.regions(), [v2.clone(), v2.clone(), v1.clone()]);

    setup.argocd.set("eu-west-1", "Synced", &v2, "Healthy", "");
    let run = setup.promote();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(setup.regions(), [v2.clone(), v2.clone(), v2.clone()]);
    order.push(setup.deployed_everywhere());
    let run = setup.promote();
    assert!(run.stderr.contains("nothing to promote"), "{}", run.stderr);

    // What Argo CD syncs, region by region, after each step.
    assert_eq!(
        order,
        [
            ["7.5.0", "7.4.0", "7.4.0"],
            ["7.5.0", "7.5.0", "7.4.0"],
            ["7.5.0", "7.5.0", "7.5.0"],
        ]
    );
}

/// Push a commit onto `branch` of the remote from a scratch clone, as a
/// merged pull request or a hand-made change would.
fn commit_onto(remote: &Path, branch: &str, file: &str) -> String {
    let clone = tempfile::tempdir().expect("tempdir");
    let dir = clone.path().join("c");
    git(
        clone.path(),
        &[
            "clone",
            "--quiet",
            "--branch",
            branch,
            &remote.display().to_string(),
            "c",
        ],
    );
    fs::write(dir.join(file), "by hand\n").expect("write");
    git(&dir, &["add", "-A"]);
    git(
        &dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "commit",
            "--quiet",
            "-m",
            "by hand",
        ],
    );
    git(&dir, &["push", "--quiet", "origin", branch]);
    git(&dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

#[test]
fn a_merge_moves_the_first_region_a_degraded_one_stops_and_a_branch_moved_by_hand_is_never_overwritten()
 {
    let setup = Setup::new();
    setup.publish_web("7.4.0");
    let v1 = setup.tip("main");
    // A pull request merged into main: promote moves the first region to it.
    let merged = commit_onto(setup.remote.path(), "main", "NOTES.md");
    let run = setup.promote();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "us-east-1: moved `slipway/promotion/prod/us-east-1` of {} to {}, the tip of `main`",
            setup.repo(),
            &merged[..12]
        )),
        "{}",
        run.stderr
    );
    assert_eq!(setup.regions(), [merged.clone(), v1.clone(), v1.clone()]);

    // Degraded in us-east-1: promotion stops, nothing moves.
    setup.argocd.set(
        "us-east-1",
        "Synced",
        &merged,
        "Degraded",
        "Deployment \"web\" exceeded its progress deadline",
    );
    let run = setup.promote();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: promotion stopped: `eu-west-1` gets"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("is Degraded: Deployment \"web\" exceeded its progress deadline"),
        "{}",
        run.stderr
    );
    assert_eq!(setup.regions(), [merged.clone(), v1.clone(), v1.clone()]);

    // eu-west-1's branch moved by hand: promote refuses to overwrite it.
    let by_hand = commit_onto(setup.remote.path(), &Setup::branch("eu-west-1"), "HAND.md");
    setup
        .argocd
        .set("us-east-1", "Synced", &merged, "Healthy", "");
    let run = setup.promote();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("is not a fast-forward, and promote never forces"),
        "{}",
        run.stderr
    );
    assert_eq!(setup.regions(), [merged, by_hand, v1]);
}

#[test]
fn promote_refuses_an_environment_without_promotion_and_needs_a_token() {
    let setup = Setup::new();
    let repo = setup.repo();
    let run = setup.run(&[
        "promote",
        "--env",
        "dev",
        "--repo",
        &repo,
        "--argocd",
        &setup.argocd.url,
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("environment `dev` has no `argocd.promotion`"),
        "{}",
        run.stderr
    );
    let run = support::run_with(
        setup.project.path(),
        &[
            "promote",
            "--env",
            "prod",
            "--repo",
            &repo,
            "--argocd",
            &setup.argocd.url,
        ],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("ARGOCD_AUTH_TOKEN"), "{}", run.stderr);
    let run = setup.run(&[
        "promote",
        "--env",
        "prdo",
        "--repo",
        &repo,
        "--argocd",
        &setup.argocd.url,
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("did you mean `prod`?"),
        "{}",
        run.stderr
    );
}
