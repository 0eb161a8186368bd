//! `slipway render`

use std::path::PathBuf;

use super::{Output, Status, compile};
use crate::compile::Selection;
use crate::emit;
use crate::write::{Origin, write_tree};

/// Render Kubernetes manifests: to stdout (a local preview) or as a tree of
/// files, one object per file, under `<DIR>/<env>/<region>/<service>/`
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway render --env staging                     preview staging on stdout
  slipway render --env prod --region eu-west-1 --service orders
  slipway render --all -o rendered                 write every cluster to rendered/

With -o, files are written atomically (temp file + rename) and only when their
bytes change; files a previous render wrote and this one no longer renders are
removed (tracked in <DIR>/.slipway-manifest.json); other files are never touched.
A first render into a DIR that does not exist yet writes the whole tree
beside it and renames it into place. Nothing is written unless every input is valid.")]
pub struct Args {
    /// Environment to render (an overlay name, e.g. staging)
    #[arg(long, value_name = "ENV", conflicts_with = "all")]
    env: Option<String>,

    /// Render every environment and region
    #[arg(long)]
    all: bool,

    /// Only this region of the environment
    #[arg(long, value_name = "REGION", requires = "env")]
    region: Option<String>,

    /// Only this service
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,

    /// Write a tree of files under DIR instead of printing to stdout
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: Option<PathBuf>,
}

pub fn run(args: &Args, out: &Output) -> anyhow::Result<Status> {
    if args.env.is_none() && !args.all {
        out.note(
            "error: nothing selected; pass `--env <ENV>` to render one environment, or `--all` to render every environment and region",
        );
        return Ok(Status::Failure);
    }
    let selection = Selection {
        env: args.env.clone(),
        region: args.region.clone(),
        service: args.service.clone(),
    };
    let compiled = match compile(out, &selection)? {
        Ok(compiled) => compiled,
        Err(status) => return Ok(status),
    };
    match &args.output {
        None => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            emit::write_stream(&compiled.documents, &mut stdout)?;
            // The process ends next: freeing every document and input tree
            // one by one would only delay the exit.
            std::mem::forget(compiled);
        }
        Some(dir) => {
            let fingerprint = compiled.project.sources.fingerprint();
            let origin = Origin {
                fingerprint: &fingerprint,
                whole: selection.is_all(),
            };
            let files = compiled.tree();
            let report = write_tree(dir, &files, |path| selection.includes(path), origin)?;
            out.note(&format!(
                "rendered {} objects into `{}`: {} written, {} unchanged, {} removed",
                files.len(),
                dir.display(),
                report.written,
                report.unchanged,
                report.removed
            ));
            std::mem::forget(files);
        }
    }
    Ok(Status::Success)
}
