//! `slipway explain`

use std::io::Write;

use anyhow::bail;

use super::{Output, Status, open_valid};
use crate::compile::Selection;
use crate::explain::{Action, provenance, value_at};
use crate::node::path::{display, parse_path};
use crate::validate::schema::check_field;

/// Show a field's final value for a service in an environment, and every
/// file and line that set it, in precedence order: blueprint, overlay
/// defaults, overlay service, region defaults, region service
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway explain --env prod orders scaling.minReplicas
  slipway explain --env prod --region eu-west-1 catalog containers.app.variables.CURRENCY_DEFAULT
  slipway explain --env dev checkout routes[0].host
  slipway explain --env prod api-gateway metadata.annotations[example.com/runbook]

Paths use dots between fields, [N] for list items and [key] for keys with dots.
The region defaults to the environment's primary region.")]
pub struct Args {
    /// Environment (an overlay name)
    #[arg(long, value_name = "ENV")]
    env: String,

    /// Region [default: the primary region]
    #[arg(long, value_name = "REGION")]
    region: Option<String>,

    /// Service (a blueprint name)
    service: String,

    /// Field path, e.g. scaling.minReplicas
    #[arg(value_name = "FIELD.PATH")]
    field: String,
}

pub fn run(args: &Args, out: &Output) -> anyhow::Result<Status> {
    let path = parse_path(&args.field).map_err(anyhow::Error::msg)?;
    if let Err(message) = check_field(&path) {
        bail!("{message}");
    }
    let project = match open_valid(out)? {
        Ok(project) => project,
        Err(status) => return Ok(status),
    };
    let selection = Selection {
        env: Some(args.env.clone()),
        region: args.region.clone(),
        service: Some(args.service.clone()),
    };
    // Explain reads one region: the primary one unless `--region` says.
    let selection = Selection {
        region: selection
            .region
            .clone()
            .or_else(|| primary_region(&project, &args.env)),
        ..selection
    };
    if let Err(message) = super::check_selection(&project, &selection) {
        bail!("{message}");
    }
    let (tree, layers) = match project.merged(&selection) {
        Ok(merged) => merged,
        Err(diagnostics) => {
            out.diagnostics(&diagnostics, &project.sources);
            return Ok(Status::Invalid);
        }
    };
    let field = display(&path);
    let mut text = match value_at(&tree, &path) {
        Some(value) if value.contains('\n') => format!("{field}:\n{}\n", indent(&value)),
        Some(value) => format!("{field} = {value}\n"),
        None => format!("{field} is not set: slipway's default applies\n"),
    };
    for step in provenance(&layers, &path) {
        let what = match &step.action {
            Action::Sets(value) if value.contains('\n') => {
                format!("sets it to\n{}", indent(&indent(value)))
            }
            Action::Sets(value) => format!("sets it to {value}"),
            Action::Removes { at } => format!("removes `{at}` (null)"),
            Action::Replaces { at } => format!("replaces all of `{at}`"),
        };
        text.push_str(&format!(
            "  {}  {}: {what}\n",
            project.sources.locate(step.span),
            step.layer
        ));
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    Ok(Status::Success)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The primary region of an environment (or its first), if it exists.
fn primary_region(project: &crate::compile::Project, env: &str) -> Option<String> {
    let environment = &project.inputs.overlays.get(env)?.head.environment;
    Some(environment.primary_region()?.name.value.clone())
}
