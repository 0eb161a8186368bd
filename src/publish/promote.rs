//! Staged region promotion: each region of an environment reads a branch
//! of its own (`slipway/promotion/<env>/<region>`), and a change moves from
//! one region's branch to the next only once every Application of the
//! region before is, per Argo CD, synced at exactly that commit and
//! healthy. One run moves what can move now and returns: it never waits.
//!
//! A run, in one atomic push that only fast-forwards:
//! - creates every region branch that does not exist yet at the target
//!   branch's tip (the commit that turns promotion on reaches every region);
//! - moves the first region's branch to the target branch's tip, as a
//!   direct `publish` does (after a pull request's merge, that is this);
//! - promotes at most one later region: the region furthest along the
//!   order whose predecessor is ready at its commit. Looking from the last
//!   region back lets a commit that is healthy everywhere so far keep
//!   moving while newer ones arrive behind it, and lets a fix reach a
//!   region whose own commit is degraded.

use std::collections::BTreeMap;

use anyhow::{Context, bail};

use super::argocd::{ApplicationStatus, ArgoCd};
use super::git::{Git, Push, Update, is_ancestor};
use super::{MAX_ATTEMPTS, Staged, backoff};
use crate::lower::argocd::region_root_name;

/// What to promote, and where.
pub struct Request<'a> {
    /// URL or path of the GitOps repository.
    pub repo: &'a str,
    pub staged: &'a Staged,
    pub argocd: &'a ArgoCd,
    /// Strings to mask in everything printed (tokens).
    pub secrets: Vec<String>,
}

/// What a run did and what holds the rest back.
#[derive(Debug, Default)]
pub struct Report {
    pub moved: Vec<Moved>,
    /// The regions that could not be promoted, each with the region
    /// before it and why that one is not ready.
    pub held: Vec<Held>,
    /// The commit every region is at, when all are at one.
    pub settled: Option<String>,
}

/// A region branch this run moved.
#[derive(Debug)]
pub struct Moved {
    pub region: String,
    pub branch: String,
    pub to: String,
    pub why: Why,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Why {
    /// The branch did not exist: it starts at the target branch's tip.
    Created,
    /// The first region follows the target branch.
    First,
    /// The region before is synced at this commit and healthy.
    Promoted { after: String },
}

/// A region that waits for the one before it.
#[derive(Debug)]
pub struct Held {
    pub region: String,
    pub after: String,
    /// The commit `after` is at, which `region` would get.
    pub commit: String,
    /// A Degraded Application or a failed sync: promotion stops here
    /// until the region before is fixed.
    pub stopped: bool,
    /// Each Application of `after` that is not ready, and why.
    pub reasons: Vec<String>,
}

/// Promote: move what may move, in one push, retried when another job
/// pushed first.
pub fn promote(request: &Request<'_>) -> anyhow::Result<Report> {
    let scratch = tempfile::tempdir().context("cannot create a scratch folder")?;
    let git = Git::init(scratch.path(), request.repo, request.secrets.clone())?;
    for attempt in 1..=MAX_ATTEMPTS {
        let tips = git.remote_tips()?;
        let (report, updates) = plan(&git, request, &tips)?;
        if updates.is_empty() {
            return Ok(report);
        }
        let updates: Vec<Update<'_>> = updates
            .iter()
            .map(|(branch, to)| Update {
                from: to,
                branch,
                expected: tips.get(branch).map(String::as_str),
            })
            .collect();
        match git.push(&updates)? {
            Push::Pushed => return Ok(report),
            Push::Behind => std::thread::sleep(backoff(attempt)),
        }
    }
    bail!(
        "gave up after {MAX_ATTEMPTS} attempts: the region branches of `{}` kept moving while slipway pushed",
        request.staged.env
    )
}

/// What one attempt would push, `(branch, commit)`, given the remote's
/// branches, and the report of it.
fn plan(
    git: &Git,
    request: &Request<'_>,
    tips: &BTreeMap<String, String>,
) -> anyhow::Result<(Report, Vec<(String, String)>)> {
    let staged = request.staged;
    let Some(target) = tips.get(&staged.target) else {
        bail!(
            "`{}` does not exist in the GitOps repository: nothing was published to `{}` yet",
            staged.target,
            staged.env
        );
    };
    let existing: Vec<&str> = std::iter::once(staged.target.as_str())
        .chain(staged.regions.iter().map(|(_, b)| b.as_str()))
        .filter(|b| tips.contains_key(*b))
        .collect();
    git.fetch_history(&existing)?;
    let mut report = Report::default();
    let mut updates = Vec::new();
    // Where each region is now: a missing branch starts at the target.
    let mut at: Vec<String> = Vec::new();
    for (index, (region, branch)) in staged.regions.iter().enumerate() {
        match tips.get(branch) {
            Some(tip) => at.push(tip.clone()),
            None => {
                at.push(target.clone());
                updates.push((branch.clone(), target.clone()));
                report
                    .moved
                    .push(moved(region, branch, target, Why::Created));
            }
        }
        if index == 0 && at[0] != *target {
            fast_forward(git, branch, &at[0], target, &staged.target)?;
            updates.push((branch.clone(), target.clone()));
            report.moved.push(moved(region, branch, target, Why::First));
        }
    }
    for next in (1..staged.regions.len()).rev() {
        let (after, _) = &staged.regions[next - 1];
        let (region, branch) = &staged.regions[next];
        let commit = &at[next - 1];
        if at[next] == *commit {
            continue;
        }
        let (stopped, reasons) = readiness(git, request, after, commit)?;
        if reasons.is_empty() {
            fast_forward(git, branch, &at[next], commit, after)?;
            updates.push((branch.clone(), commit.clone()));
            let why = Why::Promoted {
                after: after.clone(),
            };
            report.moved.push(moved(region, branch, commit, why));
            break;
        }
        report.held.push(Held {
            region: region.clone(),
            after: after.clone(),
            commit: commit.clone(),
            stopped,
            reasons,
        });
    }
    let first = at.first().filter(|c| *c == target);
    if updates.is_empty() && at.iter().all(|c| Some(c) == first) {
        report.settled = first.cloned();
    }
    Ok((report, updates))
}

fn moved(region: &str, branch: &str, to: &str, why: Why) -> Moved {
    Moved {
        region: region.to_owned(),
        branch: branch.to_owned(),
        to: to.to_owned(),
        why,
    }
}

/// A region branch only moves forward: `to` must have `from` in its
/// history. One that does not was moved by hand (a reset, a commit pushed
/// to it): slipway never overwrites it.
fn fast_forward(git: &Git, branch: &str, from: &str, to: &str, source: &str) -> anyhow::Result<()> {
    if is_ancestor(git.dir(), from, to) == Some(true) {
        return Ok(());
    }
    bail!(
        "`{branch}` is at {}, which is not in the history of {} (`{source}`): moving it there is not a fast-forward, and promote never forces; it was moved outside slipway, so reset it by hand to a commit of `{source}`",
        short(from),
        short(to)
    )
}

/// Is every Application of `region` synced at `commit` and healthy? Its
/// Applications are those its region root registers at that commit
/// (`<path>/<env>/_argocd/<region>/`, one file `application-<name>.yaml`
/// each, `emit::path`) and the region root itself. `(stopped, reasons)`:
/// no reasons when it is ready.
fn readiness(
    git: &Git,
    request: &Request<'_>,
    region: &str,
    commit: &str,
) -> anyhow::Result<(bool, Vec<String>)> {
    let staged = request.staged;
    let folder = path_of(&staged.path, &format!("{}/_argocd/{region}", staged.env));
    let files = git.files_at(commit, &folder, |file| {
        !file.contains('/') && file.starts_with("application-")
    })?;
    let mut names = vec![region_root_name(&staged.env, region)];
    names.extend(files.keys().filter_map(|file| {
        file.strip_prefix("application-")?
            .strip_suffix(".yaml")
            .map(str::to_owned)
    }));
    let (mut stopped, mut reasons) = (false, Vec::new());
    for name in names {
        let status = request.argocd.application(&name)?;
        match verdict(status.as_ref(), commit) {
            Verdict::Ready => {}
            Verdict::Waiting(why) => reasons.push(format!("`{name}` {why}")),
            Verdict::Stopped(why) => {
                stopped = true;
                reasons.push(format!("`{name}` {why}"));
            }
        }
    }
    Ok((stopped, reasons))
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ready,
    Waiting(String),
    Stopped(String),
}

/// One Application, as promotion judges it: ready when Argo CD compared it
/// at exactly `commit`, found it `Synced`, no sync is running, and its
/// health is `Healthy`. A Rollout in the middle of a canary is
/// `Progressing` or, paused, `Suspended` (argo-cd
/// `resource_customizations/argoproj.io/Rollout/health.lua`), so the next
/// region waits for the canary to finish. `Degraded`, or a failed sync of
/// this commit, stops promotion.
fn verdict(status: Option<&ApplicationStatus>, commit: &str) -> Verdict {
    let Some(status) = status else {
        return Verdict::Waiting("is not in Argo CD yet (or the token may not read it)".into());
    };
    let health = &status.health;
    let with_message = |text: &str, message: &str| match message {
        "" => text.to_owned(),
        message => format!("{text}: {message}"),
    };
    if health.status == "Degraded" {
        return Verdict::Stopped(with_message("is Degraded", &health.message));
    }
    if let Some(operation) = &status.operation_state {
        let of_commit = operation
            .sync_result
            .as_ref()
            .is_some_and(|r| r.revision == commit);
        match operation.phase.as_str() {
            "Running" | "Terminating" => {
                return Verdict::Waiting(format!("is syncing ({})", operation.phase));
            }
            "Failed" | "Error" if of_commit => {
                return Verdict::Stopped(with_message(
                    &format!("failed to sync {}", short(commit)),
                    &operation.message,
                ));
            }
            _ => {}
        }
    }
    let sync = &status.sync;
    if sync.status != "Synced" || sync.revision != commit {
        let revision = match sync.revision.as_str() {
            "" => "no revision".to_owned(),
            revision => short(revision).to_owned(),
        };
        return Verdict::Waiting(format!(
            "is {} at {revision}, not yet Synced at {}",
            or_unknown(&sync.status),
            short(commit)
        ));
    }
    if health.status != "Healthy" {
        return Verdict::Waiting(with_message(
            &format!("is {}", or_unknown(&health.status)),
            &health.message,
        ));
    }
    Verdict::Ready
}

fn or_unknown(status: &str) -> &str {
    if status.is_empty() { "Unknown" } else { status }
}

/// The first 12 characters of a commit.
pub fn short(commit: &str) -> &str {
    &commit[..12.min(commit.len())]
}

/// A folder under the tree's path, as `GitOps::path_of` writes it.
fn path_of(path: &str, folder: &str) -> String {
    match path.trim_matches('/') {
        "" | "." => folder.to_owned(),
        prefix => format!("{prefix}/{folder}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::argocd::{HealthStatus, OperationState, SyncResult, SyncStatus};
    use super::*;

    const C: &str = "0123456789abcdef0123456789abcdef01234567";

    fn status(sync: &str, revision: &str, health: &str) -> ApplicationStatus {
        ApplicationStatus {
            sync: SyncStatus {
                status: sync.into(),
                revision: revision.into(),
            },
            health: HealthStatus {
                status: health.into(),
                message: String::new(),
            },
            operation_state: None,
        }
    }

    #[test]
    fn ready_only_when_synced_at_exactly_the_commit_and_healthy() {
        assert_eq!(
            verdict(Some(&status("Synced", C, "Healthy")), C),
            Verdict::Ready
        );
        for (sync, revision, health) in [
            ("OutOfSync", C, "Healthy"),
            ("Synced", "fedcba", "Healthy"),
            ("Synced", C, "Progressing"),
            ("Synced", C, "Suspended"),
            ("Synced", C, "Missing"),
            ("", "", ""),
        ] {
            let status = status(sync, revision, health);
            assert!(
                matches!(verdict(Some(&status), C), Verdict::Waiting(_)),
                "{status:?}"
            );
        }
        assert!(matches!(verdict(None, C), Verdict::Waiting(_)));
        assert!(matches!(
            verdict(Some(&status("OutOfSync", "old", "Degraded")), C),
            Verdict::Stopped(_)
        ));
    }

    #[test]
    fn a_running_sync_waits_and_a_failed_sync_of_the_commit_stops() {
        let mut running = status("Synced", C, "Healthy");
        running.operation_state = Some(OperationState {
            phase: "Running".into(),
            ..OperationState::default()
        });
        assert!(matches!(verdict(Some(&running), C), Verdict::Waiting(_)));
        let mut failed = status("OutOfSync", "old", "Healthy");
        failed.operation_state = Some(OperationState {
            phase: "Failed".into(),
            message: "one or more objects failed to apply".into(),
            sync_result: Some(SyncResult { revision: C.into() }),
        });
        assert_eq!(
            verdict(Some(&failed), C),
            Verdict::Stopped(
                "failed to sync 0123456789ab: one or more objects failed to apply".into()
            )
        );
        // A failed sync of an older commit says nothing of this one.
        failed.operation_state = Some(OperationState {
            phase: "Failed".into(),
            message: String::new(),
            sync_result: Some(SyncResult {
                revision: "old".into(),
            }),
        });
        assert!(matches!(verdict(Some(&failed), C), Verdict::Waiting(_)));
    }
}
