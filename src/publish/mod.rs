//! Publishing the rendered tree to the GitOps repository: a scratch clone,
//! the tree written under a path (removing only files slipway wrote), one
//! commit, a push that never forces, and retries when another job pushed
//! first. Then, if asked, a pull request. Under staged promotion the push
//! moves the first region's branch with it, and `promote` the others.

pub mod argocd;
pub mod git;
pub mod github;
pub mod promote;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::compile::Project;
use crate::diag::{Code, Diagnostic};
use crate::diff::{Comparison, compare, listing};
use crate::graph::{self, Topology};
use crate::model::DEFAULT_GITOPS_PATH;
use crate::names::promotion_branch;
use crate::write::{MANIFEST, Origin, read_rendered, symlink_on_the_way, write_tree};
use git::{Git, Push, Update};

/// Attempts at a push that keeps finding the branch moved.
pub const MAX_ATTEMPTS: usize = 8;

/// What to publish, and where.
pub struct Request<'a> {
    /// URL or path of the GitOps repository.
    pub repo: &'a str,
    /// Folder of the tree in the repository.
    pub path: &'a str,
    /// Branch to push to.
    pub branch: &'a str,
    /// Branch to start from when `branch` does not exist yet.
    pub base: &'a str,
    /// Subject line of the commit, instead of the default.
    pub message: Option<&'a str>,
    /// The commit of the blueprints the tree was rendered from.
    pub source: Option<&'a str>,
    /// The project's folder, whose history says which source is newer.
    pub project: &'a Path,
    /// The rendered tree, by path under `path`: everything the inputs render.
    pub files: &'a BTreeMap<String, String>,
    /// `Sources::fingerprint` of the inputs, for the tree's manifest.
    pub fingerprint: &'a str,
    /// Strings to mask in everything printed (tokens).
    pub secrets: Vec<String>,
    /// The environments under staged promotion.
    pub staged: &'a [Staged],
}

/// An environment under staged promotion, as publish and promote move it:
/// the branch its root reads, and its regions' branches in promotion order.
#[derive(Clone, Debug)]
pub struct Staged {
    pub env: String,
    /// `argocd.targetRevision`: the branch publish pushes to.
    pub target: String,
    /// `argocd.path`: the tree's folder in the GitOps repository.
    pub path: String,
    /// `(region, branch)`, first wave first.
    pub regions: Vec<(String, String)>,
}

/// Every environment of the project under staged promotion.
pub fn staged(project: &Project) -> Vec<Staged> {
    project
        .inputs
        .overlays
        .values()
        .filter_map(|overlay| {
            let argocd = overlay.head.environment.argocd.as_ref()?;
            let promotion = argocd.promotion.as_ref()?;
            let env = overlay.name().to_owned();
            Some(Staged {
                target: argocd
                    .target_revision
                    .as_ref()
                    .map(|r| r.value.clone())
                    .unwrap_or_default(),
                path: argocd
                    .path
                    .as_ref()
                    .map_or_else(|| DEFAULT_GITOPS_PATH.to_owned(), |p| p.value.clone()),
                regions: promotion
                    .value
                    .order
                    .iter()
                    .map(|r| (r.value.clone(), promotion_branch(&env, &r.value)))
                    .collect(),
                env,
            })
        })
        .collect()
}

/// The region branches a push to `branch` moves with it: under staged
/// promotion, where `branch` is what the environment's root reads, the first
/// region's branch follows it, and a region's branch that does not exist
/// yet starts there (the commit that turns promotion on reaches every
/// region at once). The others wait for `slipway promote`.
fn following<'a>(
    staged: &'a [Staged],
    branch: &str,
    tips: &'a BTreeMap<String, String>,
) -> Vec<Update<'a>> {
    let mut updates = Vec::new();
    for env in staged.iter().filter(|s| s.target == branch) {
        for (index, (_, region_branch)) in env.regions.iter().enumerate() {
            let expected = tips.get(region_branch).map(String::as_str);
            if index == 0 || expected.is_none() {
                updates.push(Update {
                    from: "HEAD",
                    branch: region_branch,
                    expected,
                });
            }
        }
    }
    updates
}

#[derive(Debug)]
pub enum Outcome {
    /// The branch holds a render of a newer source (this one is its
    /// ancestor): publishing would go backwards, so nothing was pushed.
    Behind { published: String },
    /// The branch already holds exactly this tree: nothing was committed.
    Unchanged {
        /// What the branch changes against the base.
        against_base: Against,
    },
    Published {
        commit: String,
        comparison: Comparison,
        attempts: usize,
        /// What the branch changes against the base.
        against_base: Against,
        /// The region branches of staged promotion the push moved with it.
        followed: Vec<String>,
    },
}

/// What the branch changes against the base, which a pull request's body
/// describes: not only the last push.
#[derive(Debug)]
pub struct Against {
    /// File by file under the path (`A path`, `M path`, `D path`), sorted;
    /// empty when the branch is the base.
    pub files: Vec<String>,
    /// The topology of the base's tree under the path, read from its
    /// rendered files (the base holds no inputs); empty when there is no
    /// base yet.
    pub base: Topology,
}

/// Publish the tree: commit it on top of the branch and push.
pub fn publish(request: &Request<'_>) -> anyhow::Result<Outcome> {
    check_path(request.path)?;
    let scratch = tempfile::tempdir().context("cannot create a scratch folder")?;
    let git = Git::init(scratch.path(), request.repo, request.secrets.clone())?;
    for attempt in 1..=MAX_ATTEMPTS {
        let start =
            [request.branch, request.base]
                .into_iter()
                .find_map(|b| match git.remote_has(b) {
                    Ok(true) => Some(git.fetch(b).map(|()| b)),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                });
        let start = start.transpose()?;
        // What this attempt builds on: the branch as fetched, or nothing.
        let expected = match start {
            Some(b) if b == request.branch => Some(git.fetched_tip(b)?),
            _ => None,
        };
        if start.is_none() && git.has_branches()? {
            bail!(
                "`--base {}` does not exist in the GitOps repository (nor does `{}`); name an existing branch",
                request.base,
                request.branch
            );
        }
        git.start(request.branch, start)?;
        no_symlink_on_the_way(git.dir(), request.path)?;
        if start.is_some() {
            if let Some(published) = newer_published(&git, request)? {
                return Ok(Outcome::Behind { published });
            }
        }
        let out = git.dir().join(request.path);
        let before = match fs::symlink_metadata(&out) {
            Ok(_) => read_rendered(&out)?.owned(),
            Err(_) => BTreeMap::new(),
        };
        let origin = Origin {
            fingerprint: request.fingerprint,
            whole: true,
        };
        write_tree(&out, request.files, |_| true, origin)?;
        if !git.stage(request.path)? {
            return Ok(Outcome::Unchanged {
                against_base: against_base(&git, request)?,
            });
        }
        let comparison = compare(&before, request.files);
        git.commit(&commit_message(request, &comparison))?;
        let tips = git.remote_tips()?;
        let mut updates = vec![Update {
            from: "HEAD",
            branch: request.branch,
            expected: expected.as_deref(),
        }];
        updates.extend(following(request.staged, request.branch, &tips));
        match git.push(&updates)? {
            Push::Pushed => {
                return Ok(Outcome::Published {
                    commit: git.head()?,
                    comparison,
                    attempts: attempt,
                    against_base: against_base(&git, request)?,
                    followed: updates[1..].iter().map(|u| u.branch.to_owned()).collect(),
                });
            }
            Push::Behind => std::thread::sleep(backoff(attempt)),
        }
    }
    bail!(
        "gave up after {MAX_ATTEMPTS} attempts: `{}` kept moving while slipway pushed",
        request.branch
    )
}

/// Trailers of slipway's commits in the GitOps repository: the source
/// commit a render came from, and the folder it went to.
pub const SOURCE_TRAILER: &str = "Slipway-Source";
pub const PATH_TRAILER: &str = "Slipway-Path";

/// The source of the render the branch (as checked out) holds for this
/// path, when it is newer than the one being published: this one is its
/// ancestor. Unknown histories never block (a shallow checkout cannot tell).
fn newer_published(git: &Git, request: &Request<'_>) -> anyhow::Result<Option<String>> {
    let Some(source) = request.source else {
        return Ok(None);
    };
    if git.trailer(PATH_TRAILER)?.as_deref() != Some(request.path) {
        return Ok(None);
    }
    let Some(published) = git.trailer(SOURCE_TRAILER)? else {
        return Ok(None);
    };
    let behind =
        published != source && git::is_ancestor(request.project, source, &published) == Some(true);
    Ok(behind.then_some(published))
}

/// The whole change the branch makes against the base under the path.
fn against_base(git: &Git, request: &Request<'_>) -> anyhow::Result<Against> {
    if request.branch == request.base {
        return Ok(Against {
            files: Vec::new(),
            base: graph::read(request.files),
        });
    }
    if !git.remote_has(request.base)? {
        // No base yet: the branch adds the whole tree.
        let path = request.path.trim_end_matches('/');
        return Ok(Against {
            files: request
                .files
                .keys()
                .map(|file| format!("A {path}/{file}"))
                .collect(),
            base: Topology::default(),
        });
    }
    git.fetch(request.base)?;
    let base = format!("origin/{}", request.base);
    let mut files = git.changed_files(&base, request.path)?;
    // The manifest is slipway's bookkeeping, not a change to review.
    files.retain(|line| !line.ends_with(&format!("/{MANIFEST}")));
    let rendered = git.files_at(&base, request.path, graph::wanted)?;
    Ok(Against {
        files,
        base: graph::read(&rendered),
    })
}

/// Every overlay without an `argocd` section: nothing would sync the
/// environment's tree once it is published to `repo` under `path`. The hint
/// gives the section to add, with the repository as Argo CD can clone it
/// (credentials removed), if `repo` is a remote.
pub fn unsynced(project: &Project, repo: &str, path: &str) -> Vec<Diagnostic> {
    let hint = match git::argocd_url(repo) {
        Some(url) => format!(
            "add `argocd: {{repoURL: {url}, path: {path}}}` under `environment`: the repository and folder this publish writes to"
        ),
        None => format!(
            "add `argocd: {{repoURL: <URL>, path: {path}}}` under `environment`, with the URL Argo CD clones this repository from (it cannot clone the local `{}`)",
            git::redact(repo, &[])
        ),
    };
    project
        .inputs
        .overlays
        .values()
        .filter(|o| o.head.environment.argocd.is_none())
        .map(|overlay| {
            let at = overlay
                .tree
                .entry("environment")
                .map_or(overlay.tree.span, |e| e.key_span);
            Diagnostic::error(
                Code::ARGOCD_MISSING,
                at,
                format!(
                    "nothing would sync environment `{}` once published: its overlay has no `environment.argocd`",
                    overlay.name()
                ),
            )
            .with_label("no `argocd` here")
            .with_hint(hint.clone())
        })
        .collect()
}

/// The folder must be a plain relative path inside the repository.
fn check_path(path: &str) -> anyhow::Result<()> {
    let plain = Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if path.is_empty() || !plain {
        bail!("`--path {path}` must be a relative folder inside the repository");
    }
    if Path::new(path)
        .components()
        .any(|c| c.as_os_str() == ".git")
    {
        bail!("`--path {path}` is inside `.git`, git's own folder; name a folder of the tree");
    }
    Ok(())
}

/// No folder on the way to the tree in the checked-out repository may be a
/// symlink: the repository's content could lead the write out of the
/// scratch clone.
fn no_symlink_on_the_way(clone: &Path, path: &str) -> anyhow::Result<()> {
    if let Some(link) = symlink_on_the_way(clone, Path::new(path)) {
        bail!(
            "`{}` is a symlink in the GitOps repository; slipway writes only into real folders of it",
            link.strip_prefix(clone).unwrap_or(&link).display()
        );
    }
    Ok(())
}

/// Wait longer after each rejected push, with jitter so that racing jobs
/// do not retry in lockstep.
pub(crate) fn backoff(attempt: usize) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = u64::from((nanos ^ std::process::id()) % 250);
    Duration::from_millis(100 * attempt as u64 + jitter)
}

/// Names the source commit and summarises the change.
pub fn commit_message(request: &Request<'_>, comparison: &Comparison) -> String {
    let subject = request.message.map_or_else(
        || {
            format!(
                "slipway: publish rendered manifests ({})",
                short_summary(comparison)
            )
        },
        str::to_owned,
    );
    let source = request.source.map_or_else(
        || "a working tree that is not a git checkout".to_owned(),
        |s| format!("commit {s}"),
    );
    let mut trailers = format!("{PATH_TRAILER}: {}", request.path);
    if let Some(source) = request.source {
        trailers = format!("{SOURCE_TRAILER}: {source}\n{trailers}");
    }
    format!(
        "{subject}\n\nRendered by slipway from {source}.\n\n{}\n\n{trailers}",
        body(comparison)
    )
}

/// `3 added, 1 changed, 2 removed`, leaving out what is zero.
fn short_summary(comparison: &Comparison) -> String {
    use crate::diff::Change::{Added, Changed, Removed};
    let parts: Vec<String> = [(Added, "added"), (Changed, "changed"), (Removed, "removed")]
        .into_iter()
        .map(|(change, word)| (comparison.count(change), word))
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
    parts.join(", ")
}

/// The change, object by object (at most [`LISTED`] lines), and a summary.
pub fn body(comparison: &Comparison) -> String {
    let listed = listing(comparison);
    let lines: Vec<&str> = listed.lines().collect();
    let mut text: String = lines
        .iter()
        .take(LISTED)
        .map(|l| format!("{l}\n"))
        .collect();
    if lines.len() > LISTED {
        text.push_str(&format!("... and {} more\n", lines.len() - LISTED));
    }
    text.push_str(&comparison.summary());
    text
}

/// Objects listed by name in a commit message or pull request.
const LISTED: usize = 50;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_in_the_tree_and_out_of_git() {
        assert!(check_path("rendered").is_ok());
        assert!(check_path("deploy/rendered").is_ok());
        assert!(check_path("../up").is_err());
        assert!(check_path("/abs").is_err());
        assert!(check_path(".git/hooks").is_err());
        assert!(check_path("a/.git").is_err());
    }
}
