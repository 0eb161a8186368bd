//! `slipway set-image`

use std::path::Path;

use super::{Output, Status, check_selection, unknown};
use crate::compile::{Project, Selection, deployed, has_errors, open, open_edited};
use crate::diag::normalize;
use crate::edit::{Outcome, set_string};
use crate::model::check_image;
use crate::node::Node;
use crate::source::{FileId, Span};
use crate::suggest::did_you_mean;
use crate::write::replace_input;

/// Set the image of a service's container in an environment's overlay (or
/// in its blueprint), editing the file in place: only the image's bytes
/// change, or the missing keys are added; comments and formatting stay.
/// The project is compiled with the edit before the file is written
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  slipway set-image --env staging checkout=registry.example.com/commerce/checkout:2.6.0
  slipway set-image --env prod --region eu-west-1 orders=registry.example.com/commerce/orders:1.8.4
  slipway set-image --env dev api-gateway/authz=registry.example.com/platform/authz-sidecar:0.9.4
  slipway set-image --blueprint payments=registry.example.com/commerce/payments@sha256:<64 hex>

Without --region it sets services.<SERVICE>.containers.<CONTAINER>.image in
overlays/<ENV>.yaml; with it, under regionOverrides.<REGION>. The container
defaults to the main (first) container of the blueprint. Exit 1 with the
diagnostics when the project would not compile; the file is then left as it
was. An image already set to that value: exit 0, the file untouched.")]
pub struct Args {
    /// Environment whose overlay to edit
    #[arg(long, value_name = "ENV", required_unless_present = "blueprint")]
    env: Option<String>,

    /// Set the image for one region only (the overlay's `regionOverrides`)
    #[arg(long, value_name = "REGION", requires = "env")]
    region: Option<String>,

    /// Edit the service's blueprint instead: every environment that does not set an image of its own
    #[arg(long, conflicts_with_all = ["env", "region"])]
    blueprint: bool,

    /// The container and its new image
    #[arg(value_name = "SERVICE[/CONTAINER]=IMAGE", value_parser = assignment)]
    assignment: Assignment,
}

#[derive(Clone, Debug)]
struct Assignment {
    service: String,
    container: Option<String>,
    image: String,
}

fn assignment(text: &str) -> Result<Assignment, String> {
    let usage = || format!("`{text}` is not SERVICE[/CONTAINER]=IMAGE");
    let (target, image) = text.split_once('=').ok_or_else(usage)?;
    let (service, container) = match target.split_once('/') {
        Some((service, container)) => (service, Some(container)),
        None => (target, None),
    };
    if service.is_empty() || container == Some("") || image.is_empty() {
        return Err(usage());
    }
    Ok(Assignment {
        service: service.to_owned(),
        container: container.map(str::to_owned),
        image: image.to_owned(),
    })
}

/// Where the image goes: a file, the path of keys in it, and what to
/// compile to check the edit.
struct Target {
    file: FileId,
    container: String,
    path: Vec<String>,
    /// The clusters the edit can change, compiled before it is written.
    compiled: Selection,
}

pub fn run(args: &Args, out: &Output) -> anyhow::Result<Status> {
    let root = Path::new(".");
    let (project, diagnostics) = open(root)?;
    if has_errors(&diagnostics) {
        out.diagnostics(&diagnostics, &project.sources);
        return Ok(Status::Invalid);
    }
    let target = match target(&project, args, out) {
        Ok(target) => target,
        Err(message) => {
            out.note(&format!("error: {message}"));
            return Ok(Status::Failure);
        }
    };
    let Assignment { service, image, .. } = &args.assignment;
    let shown = format!("{service}/{}", target.container);
    let file = project.sources.get(target.file);
    let path: Vec<&str> = target.path.iter().map(String::as_str).collect();
    let edit = match set_string(file, target.file, &path, image) {
        Ok(Outcome::Unchanged(span)) => {
            let at = project.sources.locate(span);
            out.note(&format!(
                "unchanged: {at} sets `{shown}` to `{image}` already"
            ));
            return Ok(Status::Success);
        }
        Ok(Outcome::Changed(edit)) => edit,
        Err(diagnostic) => {
            out.diagnostics(&[diagnostic], &project.sources);
            return Ok(Status::Invalid);
        }
    };
    // The project as it would be with the edit written, compiled whole.
    let (edited, mut diagnostics) = open_edited(root, &file.name, edit.text.clone())?;
    let at = Span {
        file: edited.sources.find(&file.name).unwrap_or(target.file),
        start: u32::try_from(edit.at.start).unwrap_or(u32::MAX),
        end: u32::try_from(edit.at.end).unwrap_or(u32::MAX),
    };
    diagnostics.extend(check_image(image, at));
    let (_, found) = edited.render(&target.compiled, |_| ());
    diagnostics.extend(found);
    normalize(&mut diagnostics, &edited.sources);
    out.diagnostics(&diagnostics, &edited.sources);
    if has_errors(&diagnostics) {
        return Ok(Status::Invalid);
    }
    replace_input(&file.path, &file.text, &edit.text)?;
    let was = edit
        .old
        .map_or_else(|| "added".to_owned(), |old| format!("was `{old}`"));
    out.note(&format!(
        "set `{shown}` to `{image}` at {} ({was})",
        edited.sources.locate(at)
    ));
    for (cluster, value, from) in overridden(&edited, &target, service, at) {
        out.note(&format!(
            "warning: `{cluster}` still deploys `{value}`: {from} sets it in a later layer"
        ));
    }
    Ok(Status::Success)
}

/// The file, path and container an assignment names; a usage message
/// (with did-you-mean) when an environment, region, service or container
/// does not exist.
fn target(project: &Project, args: &Args, out: &Output) -> Result<Target, String> {
    let service = &args.assignment.service;
    let blueprint = project
        .inputs
        .blueprints
        .get(service)
        .ok_or_else(|| unknown("service", service, &names(project.inputs.blueprints.keys())))?;
    let (tree, mut path, compiled) = match &args.env {
        None => (&blueprint.tree, Vec::new(), Selection::default()),
        Some(env) => {
            let selection = Selection {
                env: Some(env.clone()),
                region: args.region.clone(),
                service: Some(service.clone()),
            };
            for note in check_selection(project, &selection)? {
                out.note(&format!("note: {note}"));
            }
            let overlay = &project.inputs.overlays[env];
            let mut path = Vec::new();
            if let Some(region) = &args.region {
                path.extend(["regionOverrides".to_owned(), region.clone()]);
            }
            path.extend(["services".to_owned(), service.clone()]);
            let compiled = Selection {
                env: Some(env.clone()),
                ..Selection::default()
            };
            (&overlay.tree, path, compiled)
        }
    };
    let containers = |tree: &Node, at: &[String]| -> Vec<String> {
        let node = at.iter().try_fold(tree, |node, key| node.get(key));
        node.and_then(|n| n.get("containers"))
            .and_then(Node::as_map)
            .map(|entries| entries.iter().map(|e| e.key.clone()).collect())
            .unwrap_or_default()
    };
    let mut known = containers(&blueprint.tree, &[]);
    let Some(main) = known.first().cloned() else {
        return Err(format!("`{service}` has no containers"));
    };
    for name in containers(tree, &path) {
        if !known.contains(&name) {
            known.push(name);
        }
    }
    let container = args.assignment.container.clone().unwrap_or(main);
    if !known.contains(&container) {
        let hint = did_you_mean(&container, known.iter().map(String::as_str))
            .unwrap_or_else(|| format!("its containers: {}", known.join(", ")));
        return Err(format!(
            "`{service}` has no container `{container}`; {hint}"
        ));
    }
    path.extend([
        "containers".to_owned(),
        container.clone(),
        "image".to_owned(),
    ]);
    Ok(Target {
        file: tree.span.file,
        container,
        path,
        compiled,
    })
}

fn names<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    names.map(String::as_str).collect()
}

/// The clusters of the edit whose image a later layer sets (a region's
/// override over the environment's, an overlay's over the blueprint's):
/// `(env/region, image, where it is set)`.
fn overridden(
    project: &Project,
    target: &Target,
    service: &str,
    at: Span,
) -> Vec<(String, String, String)> {
    let Some(blueprint) = project.inputs.blueprints.get(service) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for overlay in project.inputs.overlays.values() {
        let env = overlay.name();
        if target.compiled.env.as_ref().is_some_and(|e| e != env) {
            continue;
        }
        let regions = &overlay.head.environment.regions;
        for region in regions.iter().filter(|r| deployed(blueprint, r)) {
            let region = &region.name.value;
            let edited_region = target.path.first().is_some_and(|k| k == "regionOverrides");
            if edited_region && target.path.get(1) != Some(region) {
                continue;
            }
            let selection = Selection {
                env: Some(env.to_owned()),
                region: Some(region.clone()),
                service: Some(service.to_owned()),
            };
            let Ok((tree, _)) = project.merged(&selection) else {
                continue;
            };
            let image = ["containers", target.container.as_str(), "image"]
                .iter()
                .try_fold(&tree, |node, key| node.get(key));
            if let Some(image) = image.filter(|n| n.span != at) {
                found.push((
                    format!("{env}/{region}"),
                    image.as_str().unwrap_or_default().to_owned(),
                    project.sources.locate(image.span),
                ));
            }
        }
    }
    found
}
