//! `slipway graph`

use std::io::Write;
use std::path::Path;

use super::{Output, Status, check_selection};
use crate::compile::{Selection, has_errors, open};
use crate::diag::normalize;
use crate::graph::{environment, mermaid};

/// Print a Mermaid flowchart of an environment: each region's namespaces
/// and services (with node group and strategy), the callers each service
/// admits (`mesh.allowFrom`) and the gateway's hosts and routes
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway graph --env staging                      every region of staging
  slipway graph --env prod --region ap-southeast-1 > prod-ap.mmd

Regions are subgraphs (in the overlay's order), holding the gateway's hosts
and a subgraph per namespace with its services. An edge from a caller to a
service is a caller its `mesh.allowFrom` admits, labelled with the ports the
caller's templates name through `endpoint()`; an edge from a host to a service
is a gateway route, labelled with its path prefix and header matches. Nothing
is printed unless the environment renders without errors. GitHub renders the
output in a ```mermaid block.")]
pub struct Args {
    /// Environment to draw (an overlay name)
    #[arg(long, value_name = "ENV")]
    env: String,

    /// Only this region of the environment
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
}

pub fn run(args: &Args, out: &Output) -> anyhow::Result<Status> {
    let (project, mut diagnostics) = open(Path::new("."))?;
    let selection = Selection {
        env: Some(args.env.clone()),
        region: args.region.clone(),
        service: None,
    };
    if !has_errors(&diagnostics) {
        if let Err(message) = check_selection(&project, &selection) {
            out.note(&format!("error: {message}"));
            return Ok(Status::Failure);
        }
    }
    let (clusters, found) = project.clusters(&selection);
    diagnostics.extend(found);
    normalize(&mut diagnostics, &project.sources);
    out.diagnostics(&diagnostics, &project.sources);
    if has_errors(&diagnostics) {
        return Ok(Status::Invalid);
    }
    let text = mermaid::write(&environment(&clusters));
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(Status::Success)
}
