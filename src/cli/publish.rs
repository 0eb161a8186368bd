//! `slipway publish`

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;

use super::{Output, Status, compile};
use crate::compile::{Project, Selection};
use crate::graph::{self, Topology, mermaid};
use crate::model::DEFAULT_GITOPS_PATH;
use crate::names::PROMOTION_BRANCHES;
use crate::publish::git::{dirty_inputs, redact, source_commit};
use crate::publish::github::{DEFAULT_API, GitHub, repository_of};
use crate::publish::{Against, Outcome, Request, publish, staged, unsynced};

/// Render everything and publish it to the GitOps repository: clone it into
/// a scratch folder with the system git, write the tree under --path
/// (removing only files slipway wrote before), commit, push, and with --pr
/// open or update a pull request
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway publish --repo ../gitops                       commit to main of a local repository
  slipway publish --repo https://github.com/example/platform-gitops.git --pr
  slipway publish --repo git@github.com:example/gitops.git --branch slipway/staging --pr

Every overlay needs an `argocd` section: a tree nothing syncs is never
pushed, and the error says what to add. No change: no commit, no push. A
push rejected because another job pushed first is retried on the new tip
(never forced); any other refusal (protected branch, hook) is an error.
--pr needs GITHUB_TOKEN; GITHUB_API_URL selects a GitHub Enterprise API
(default https://api.github.com). The token is never printed.")]
pub struct Args {
    /// The GitOps repository: a URL or a local path
    #[arg(long, value_name = "URL|PATH")]
    repo: String,

    /// Folder of the tree in the repository [default: the overlays' `argocd.path`, else rendered]
    #[arg(long, value_name = "DIR")]
    path: Option<String>,

    /// Branch to push to [default: --base, or slipway/render with --pr]
    #[arg(long, value_name = "BRANCH")]
    branch: Option<String>,

    /// Branch to start from, and the pull request's base
    #[arg(long, value_name = "BRANCH", default_value = "main")]
    base: String,

    /// Subject line of the commit (the body always summarises the change)
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,

    /// Open a pull request for the branch, or update the open one
    #[arg(long)]
    pr: bool,

    /// The repository on GitHub [default: from a GitHub --repo URL]
    #[arg(long, value_name = "OWNER/NAME")]
    github_repo: Option<String>,
}

/// The branch a pull request comes from, unless --branch says.
const PR_BRANCH: &str = "slipway/render";

pub fn run(args: &Args, out: &Output) -> anyhow::Result<Status> {
    let (project, files) = match compile(out, &Selection::default())? {
        Ok(compiled) => (compiled.project, compiled.documents.into_iter().collect()),
        Err(status) => return Ok(status),
    };
    let path = tree_path(&project, args.path.as_deref())?;
    // A tree nothing syncs is never pushed.
    let unsynced = unsynced(&project, &args.repo, &path);
    if !unsynced.is_empty() {
        out.diagnostics(&unsynced, &project.sources);
        return Ok(Status::Invalid);
    }
    let branch = args.branch.clone().unwrap_or_else(|| {
        if args.pr {
            PR_BRANCH.into()
        } else {
            args.base.clone()
        }
    });
    if args.pr && branch == args.base {
        bail!(
            "a pull request needs a branch other than its base `{}`; pass --branch",
            args.base
        );
    }
    if branch == PROMOTION_BRANCHES || branch.starts_with(&format!("{PROMOTION_BRANCHES}/")) {
        bail!(
            "`{branch}` is among the region branches of staged promotion, which only publish's push to the target branch and `slipway promote` move; name another branch"
        );
    }
    let github = args.pr.then(|| github(args)).transpose()?;

    let project_dir = std::path::Path::new(".");
    let source = source_commit(project_dir);
    if source.is_some() {
        let dirty = dirty_inputs(project_dir)?;
        if let Some(first) = dirty.first() {
            let more = match dirty.len() {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            bail!(
                "`{first}`{more}: changed since the commit checked out, so a render of them is not a render of {}; commit them, then publish",
                source.as_deref().unwrap_or_default()
            );
        }
    }
    let secrets: Vec<String> = std::env::var("GITHUB_TOKEN").ok().into_iter().collect();
    let repo = redact(&args.repo, &secrets);
    let fingerprint = project.sources.fingerprint();
    let request = Request {
        repo: &args.repo,
        path: &path,
        branch: &branch,
        base: &args.base,
        message: args.message.as_deref(),
        source: source.as_deref(),
        project: project_dir,
        files: &files,
        fingerprint: &fingerprint,
        secrets,
        staged: &staged(&project),
    };
    let against_base = match publish(&request)? {
        Outcome::Behind { published } => {
            out.note(&format!(
                "skipped: `{branch}` of {repo} holds a render of {published}, which is newer than {}; nothing was published",
                source.as_deref().unwrap_or_default()
            ));
            return Ok(Status::Success);
        }
        Outcome::Unchanged { against_base } => {
            out.note(&format!(
                "nothing to publish: `{branch}` of {repo} already holds this render"
            ));
            against_base
        }
        Outcome::Published {
            commit,
            comparison,
            attempts,
            against_base,
            followed,
        } => {
            let retried = if attempts > 1 {
                format!(" after {attempts} attempts")
            } else {
                String::new()
            };
            out.note(&format!(
                "published {} to `{branch}` of {repo}{retried}: {}",
                &commit[..12.min(commit.len())],
                comparison.summary()
            ));
            if !followed.is_empty() {
                let branches: Vec<String> = followed.iter().map(|b| format!("`{b}`")).collect();
                out.note(&format!(
                    "and to {}: staged promotion's first region follows `{branch}` (a region branch that did not exist starts there); `slipway promote` moves the others",
                    branches.join(", ")
                ));
            }
            against_base
        }
    };
    // The pull request converges: a rerun after a failed API call (or with
    // nothing new to push) still opens or updates it, and its body is the
    // whole change against the base, not only the last push.
    if let Some(github) = github {
        let title = args
            .message
            .clone()
            .unwrap_or_else(|| "slipway: publish rendered manifests".into());
        let text = pr_body(source.as_deref(), &args.base, &against_base, &files);
        let pr = github.open_or_update(&branch, &args.base, &title, &text)?;
        let verb = if pr.created { "opened" } else { "updated" };
        out.note(&format!("{verb} pull request #{} {}", pr.number, pr.url));
    }
    Ok(Status::Success)
}

/// Files listed in a pull request's body; the rest are counted.
const PR_LISTED: usize = 200;

/// Topology changes drawn in a pull request's body; past this many the
/// graph would be unreadable (and near Mermaid's limits), and only the
/// list is given.
const PR_DRAWN: usize = 100;

/// The pull request's text: where the render came from, what it changes
/// in the topology, and every file the branch changes against the base.
fn pr_body(
    source: Option<&str>,
    base: &str,
    against: &Against,
    files: &BTreeMap<String, String>,
) -> String {
    let changes = &against.files;
    let count = |status: &str| changes.iter().filter(|c| c.starts_with(status)).count();
    let mut listed: String = changes
        .iter()
        .take(PR_LISTED)
        .map(|c| format!("{c}\n"))
        .collect();
    if changes.len() > PR_LISTED {
        listed.push_str(&format!("... and {} more\n", changes.len() - PR_LISTED));
    }
    format!(
        "Rendered by slipway{}.\n\n{}\n## Files\n\nAgainst `{base}`: {} added, {} changed, {} removed.\n\n```\n{listed}```\n",
        source.map(|s| format!(" from {s}")).unwrap_or_default(),
        topology_section(base, &against.base, &graph::read(files)),
        count("A "),
        count("M "),
        count("D "),
    )
}

/// The services, callers and gateway routes the change adds, removes or
/// changes, as a Mermaid graph and a list; both sides read from the
/// rendered trees, so they are compared alike.
fn topology_section(base: &str, before: &Topology, after: &Topology) -> String {
    let changes = graph::changes(before, after);
    if changes.is_empty() {
        return format!(
            "## Topology\n\nNo topology change against `{base}`: the same services, callers and gateway routes.\n"
        );
    }
    let drawn = if changes.len() <= PR_DRAWN {
        format!("```mermaid\n{}```\n\n", mermaid::write(&changes.graph()))
    } else {
        format!("({} changes: too many to draw.)\n\n", changes.len())
    };
    let lines: String = changes.lines().iter().map(|l| format!("{l}\n")).collect();
    format!(
        "## Topology\n\nAgainst `{base}`: {}.\n\n{drawn}```diff\n{lines}```\n",
        changes.summary()
    )
}

/// Where the tree goes: --path, or the folder the Argo CD Applications
/// point at. The two must agree, or Argo CD would sync empty folders.
fn tree_path(project: &Project, given: Option<&str>) -> anyhow::Result<String> {
    let configured: BTreeSet<String> = project
        .inputs
        .overlays
        .values()
        .filter_map(|o| o.head.environment.argocd.as_ref())
        .map(|a| {
            a.path
                .as_ref()
                .map_or_else(|| DEFAULT_GITOPS_PATH.to_owned(), |p| p.value.clone())
        })
        .collect();
    match (given, configured.len()) {
        (Some(path), 0) => Ok(path.to_owned()),
        (Some(path), _) if configured.contains(path) && configured.len() == 1 => {
            Ok(path.to_owned())
        }
        (None, 0) => Ok(DEFAULT_GITOPS_PATH.to_owned()),
        (None, 1) => Ok(configured.into_iter().next().unwrap_or_default()),
        _ => bail!(
            "the overlays' `argocd.path` ({}) and --path must name one folder: Argo CD syncs from there",
            configured.into_iter().collect::<Vec<_>>().join(", ")
        ),
    }
}

fn github(args: &Args) -> anyhow::Result<GitHub> {
    let Ok(token) = std::env::var("GITHUB_TOKEN") else {
        bail!("--pr needs a token in GITHUB_TOKEN");
    };
    let api = std::env::var("GITHUB_API_URL").unwrap_or_else(|_| DEFAULT_API.to_owned());
    let repository = match (&args.github_repo, repository_of(&args.repo)) {
        (Some(given), _) => given.clone(),
        (None, Some(parsed)) => parsed,
        (None, None) => bail!(
            "cannot tell the GitHub repository from `{}`; pass --github-repo OWNER/NAME",
            args.repo
        ),
    };
    GitHub::new(&api, token, &repository)
}
