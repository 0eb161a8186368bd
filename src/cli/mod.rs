//! The command line. Each command is a thin wrapper: parse flags, call the
//! pipeline in `crate::compile`, print data to stdout and everything else
//! to stderr.

mod check;
mod diff;
mod explain;
mod graph;
mod promote;
mod publish;
mod render;
mod set_image;
mod validate;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::compile::{Project, Selection, deployed, has_errors, open};
use crate::diag::{Diagnostic, normalize, render as render_diagnostics};
use crate::source::Sources;
use crate::suggest::did_you_mean;

/// slipway compiles service blueprints and environment overlays into
/// reviewable Kubernetes YAML for GitOps.
#[derive(Debug, Parser)]
#[command(name = "slipway", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// Run as if started in DIR (the project root, holding blueprints/ and overlays/)
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub directory: Option<PathBuf>,

    /// When to colour diagnostics (NO_COLOR is respected)
    #[arg(long, value_enum, default_value_t = Colour::Auto, global = true)]
    pub color: Colour,

    /// How to print diagnostics on stderr: for people, or one JSON object per line
    #[arg(long, value_enum, default_value_t = Format::Human, global = true)]
    pub format: Format,

    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str =
    "Exit codes: 0 success, 1 invalid input (diagnostics on stderr), 2 usage or operational error.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Colour {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Render(render::Args),
    Validate(validate::Args),
    Diff(diff::Args),
    Check(check::Args),
    Publish(publish::Args),
    Promote(promote::Args),
    Explain(explain::Args),
    Graph(graph::Args),
    SetImage(set_image::Args),
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success = 0,
    Invalid = 1,
    Failure = 2,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status as u8)
    }
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Status> {
    if let Some(dir) = &cli.directory {
        std::env::set_current_dir(dir)
            .map_err(|e| anyhow::anyhow!("cannot change to `{}`: {e}", dir.display()))?;
    }
    let out = Output {
        colour: use_colour(cli.color, std::io::stderr().is_terminal()),
        colour_stdout: use_colour(cli.color, std::io::stdout().is_terminal()),
        format: cli.format,
        github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
    };
    match cli.command {
        Command::Render(args) => render::run(&args, &out),
        Command::Validate(args) => validate::run(&args, &out),
        Command::Diff(args) => diff::run(&args, &out),
        Command::Check(args) => check::run(&args, &out),
        Command::Publish(args) => publish::run(&args, &out),
        Command::Promote(args) => promote::run(&args, &out),
        Command::Explain(args) => explain::run(&args, &out),
        Command::Graph(args) => graph::run(&args, &out),
        Command::SetImage(args) => set_image::run(&args, &out),
    }
}

/// Colour on a stream: `--color`, then `NO_COLOR`, then whether it is a terminal.
fn use_colour(choice: Colour, terminal: bool) -> bool {
    match choice {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && terminal,
    }
}

/// Where commands report.
pub struct Output {
    colour: bool,
    colour_stdout: bool,
    format: Format,
    /// Also print GitHub Actions annotations (`GITHUB_ACTIONS=true`).
    github: bool,
}

impl Output {
    /// Print diagnostics to stderr.
    pub fn diagnostics(&self, diags: &[Diagnostic], sources: &Sources) {
        if diags.is_empty() {
            return;
        }
        let mut text = match self.format {
            Format::Human => {
                let errors = diags.iter().filter(|d| d.is_error()).count();
                let summary = match errors {
                    0 => String::new(),
                    1 => "error: 1 problem found; nothing was written\n".to_owned(),
                    n => format!("error: {n} problems found; nothing was written\n"),
                };
                render_diagnostics(diags, sources, self.colour) + &summary
            }
            Format::Json => diags
                .iter()
                .map(|d| d.to_json(sources).to_string() + "\n")
                .collect(),
        };
        if self.github {
            text.extend(diags.iter().map(|d| d.github_annotation(sources) + "\n"));
        }
        let _ = write!(std::io::stderr().lock(), "{text}");
    }

    /// Should data on stdout (a diff) be coloured?
    pub fn colour_stdout(&self) -> bool {
        self.colour_stdout
    }

    /// A status line on stderr.
    pub fn note(&self, message: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{message}");
    }
}

/// Load, validate and render a selection of the project in the current
/// folder, printing every diagnostic. `Err(status)` when the command must
/// stop: invalid input (1) or an unknown environment, region or service (2).
fn compile(out: &Output, selection: &Selection) -> anyhow::Result<Result<Compiled, Status>> {
    let (project, mut diagnostics) = open(Path::new("."))?;
    if !has_errors(&diagnostics) {
        match check_selection(&project, selection) {
            Ok(notes) => notes.iter().for_each(|n| out.note(&format!("note: {n}"))),
            Err(message) => {
                out.note(&format!("error: {message}"));
                return Ok(Err(Status::Failure));
            }
        }
    }
    let (documents, found) = project.render(selection, |_| ());
    diagnostics.extend(found);
    let clusters = clusters_in(&documents);
    normalize(&mut diagnostics, &project.sources);
    out.diagnostics(&diagnostics, &project.sources);
    if has_errors(&diagnostics) {
        return Ok(Err(Status::Invalid));
    }
    Ok(Ok(Compiled {
        project,
        documents,
        clusters,
    }))
}

/// The project in the current folder, its diagnostics printed; the exit
/// status instead when any is an error.
pub(crate) fn open_valid(out: &Output) -> anyhow::Result<Result<Project, Status>> {
    let (project, diagnostics) = open(Path::new("."))?;
    out.diagnostics(&diagnostics, &project.sources);
    if has_errors(&diagnostics) {
        return Ok(Err(Status::Invalid));
    }
    Ok(Ok(project))
}

/// Check a selection against the project: notes to print (regions the
/// selected service is not deployed in), or a usage message.
pub(crate) fn check_selection(
    project: &Project,
    selection: &Selection,
) -> Result<Vec<String>, String> {
    let inputs = &project.inputs;
    if inputs.overlays.is_empty() {
        return Err("no overlays: add `overlays/<env>.yaml` for each environment".into());
    }
    let envs: Vec<&str> = inputs.overlays.keys().map(String::as_str).collect();
    if let Some(env) = &selection.env {
        let Some(overlay) = inputs.overlays.get(env) else {
            return Err(unknown("environment", env, &envs));
        };
        if let Some(region) = &selection.region {
            let regions = overlay.region_names();
            if !regions.contains(&region.as_str()) {
                return Err(unknown(&format!("region in `{env}`"), region, &regions));
            }
        }
    }
    if let Some(service) = &selection.service {
        let services: Vec<&str> = inputs.blueprints.keys().map(String::as_str).collect();
        if !services.contains(&service.as_str()) {
            return Err(unknown("service", service, &services));
        }
    }
    not_deployed(project, selection)
}

/// The selected regions that the selected service is not deployed in, as
/// notes; an error when that is every selected region, so that a render is
/// never silently empty.
fn not_deployed(project: &Project, selection: &Selection) -> Result<Vec<String>, String> {
    let Some(service) = &selection.service else {
        return Ok(Vec::new());
    };
    let blueprint = &project.inputs.blueprints[service];
    let mut notes = Vec::new();
    let mut selected = 0;
    for overlay in project.inputs.overlays.values() {
        let env = overlay.name();
        if selection.env.as_ref().is_some_and(|e| e != env) {
            continue;
        }
        for region in &overlay.head.environment.regions {
            if selection
                .region
                .as_ref()
                .is_some_and(|r| r != &region.name.value)
            {
                continue;
            }
            selected += 1;
            if !deployed(blueprint, region) {
                let only: Vec<&str> = region
                    .only
                    .iter()
                    .flatten()
                    .map(|s| s.value.as_str())
                    .collect();
                notes.push(format!(
                    "`{service}` is not deployed in `{env}/{}`: the region's `only` lists {}",
                    region.name.value,
                    only.join(", ")
                ));
            }
        }
    }
    if selected > 0 && notes.len() == selected {
        let hint = "add it to the region's `only`, or choose another region";
        return Err(format!("{}; {hint}", notes.join("; ")));
    }
    Ok(notes)
}

fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    let hint = did_you_mean(name, known.iter().copied())
        .unwrap_or_else(|| format!("known: {}", known.join(", ")));
    format!("unknown {what} `{name}`; {hint}")
}

/// How many (environment, region) folders the documents fill.
fn clusters_in(documents: &[(String, String)]) -> usize {
    let clusters: std::collections::BTreeSet<(&str, &str)> = documents
        .iter()
        .filter_map(|(path, _)| {
            let mut parts = path.split('/');
            Some((parts.next()?, parts.next()?))
        })
        .filter(|(_, region)| !region.starts_with('_'))
        .collect();
    clusters.len()
}

/// A selection rendered without errors: the documents with their paths,
/// in object order, and how many clusters they came from.
struct Compiled {
    project: Project,
    documents: Vec<(String, String)>,
    clusters: usize,
}

impl Compiled {
    /// The rendered tree: path -> document.
    fn tree(self) -> BTreeMap<String, String> {
        // Commands need only the documents from here on; the input trees are
        // left to the process exit rather than freed one node at a time.
        std::mem::forget(self.project);
        self.documents.into_iter().collect()
    }
}
