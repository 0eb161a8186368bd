//! `slipway promote`

use anyhow::bail;

use super::{Output, Status, check_selection, open_valid};
use crate::compile::Selection;
use crate::publish::argocd::ArgoCd;
use crate::publish::git::redact;
use crate::publish::promote::{Request, Why, promote, short};
use crate::publish::staged;

/// Staged region promotion: move the next region's branch of the GitOps
/// repository to the commit the region before it runs, once Argo CD says
/// every Application there is synced at that commit and healthy
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway promote --env prod --repo https://github.com/example/platform-gitops.git --argocd argocd.example.com
  ARGOCD_SERVER=argocd.example.com slipway promote --env prod --repo ../gitops

The environment's overlay sets the order (`argocd.promotion.order`). One
run creates missing region branches at the target branch, moves the first
region's branch to the target branch's tip, and promotes at most one later
region; it never waits: run it on a schedule. Only fast-forwards. Exit 0
when something moved or is still waiting (it says which Application, and
its sync and health); 2 when an Application of the region before is
Degraded or failed to sync that commit (promotion stops there). Needs a
token in ARGOCD_AUTH_TOKEN, never printed.")]
pub struct Args {
    /// The environment to promote
    #[arg(long, value_name = "ENV")]
    env: String,

    /// The GitOps repository: a URL or a local path
    #[arg(long, value_name = "URL|PATH")]
    repo: String,

    /// Argo CD's API server: HOST[:PORT] (HTTPS) or a URL [default: ARGOCD_SERVER]
    #[arg(long, value_name = "URL")]
    argocd: Option<String>,
}

pub fn run(args: &Args, out: &Output) -> anyhow::Result<Status> {
    let project = match open_valid(out)? {
        Ok(project) => project,
        Err(status) => return Ok(status),
    };
    let selection = Selection {
        env: Some(args.env.clone()),
        ..Selection::default()
    };
    if let Err(message) = check_selection(&project, &selection) {
        bail!("{message}");
    }
    let Some(staged) = staged(&project).into_iter().find(|s| s.env == args.env) else {
        bail!(
            "environment `{}` has no `argocd.promotion`: every region reads `argocd.targetRevision`, and there is nothing to promote",
            args.env
        );
    };
    let Some(server) = args
        .argocd
        .clone()
        .or_else(|| std::env::var("ARGOCD_SERVER").ok())
    else {
        bail!("promote needs Argo CD's API server: pass --argocd or set ARGOCD_SERVER");
    };
    let Ok(token) = std::env::var("ARGOCD_AUTH_TOKEN") else {
        bail!("promote needs an Argo CD token in ARGOCD_AUTH_TOKEN");
    };
    let secrets = vec![token.clone()];
    let repo = redact(&args.repo, &secrets);
    let argocd = ArgoCd::new(&server, token);
    let report = promote(&Request {
        repo: &args.repo,
        staged: &staged,
        argocd: &argocd,
        secrets,
    })?;
    for moved in &report.moved {
        let (region, branch, to) = (&moved.region, &moved.branch, short(&moved.to));
        out.note(&match &moved.why {
            Why::Created => format!(
                "{region}: created `{branch}` of {repo} at {to}, the tip of `{}`",
                staged.target
            ),
            Why::First => format!(
                "{region}: moved `{branch}` of {repo} to {to}, the tip of `{}`",
                staged.target
            ),
            Why::Promoted { after } => format!(
                "{region}: promoted `{branch}` of {repo} to {to}: every Application of `{after}` is Synced at it and Healthy"
            ),
        });
    }
    let mut stopped = false;
    for held in &report.held {
        stopped |= held.stopped;
        let verb = if held.stopped {
            "error: promotion stopped"
        } else {
            "waiting"
        };
        out.note(&format!(
            "{verb}: `{}` gets {} only when every Application of `{}` is Synced at it and Healthy:",
            held.region,
            short(&held.commit),
            held.after
        ));
        for reason in &held.reasons {
            out.note(&format!("  {reason}"));
        }
    }
    if let Some(commit) = &report.settled {
        out.note(&format!(
            "nothing to promote: every region of `{}` is at {} (`{}`)",
            staged.env,
            short(commit),
            staged.target
        ));
    }
    Ok(if stopped {
        Status::Failure
    } else {
        Status::Success
    })
}
