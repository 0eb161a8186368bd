//! The pipeline, end to end, in memory: load -> parse -> validate -> merge ->
//! template -> resolve -> lower -> check. Commands call this; only `load`
//! touches the filesystem, and nothing here writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::check::{self, Facts};
use crate::diag::{Code, Diagnostic, normalize};
use crate::emit;
use crate::explain::{self, Layers};
use crate::input::FileKind;
use crate::input::{self, Region};
use crate::load::{Attached, Loaded, load};
use crate::lower::{self, Rendered};
use crate::merge;
use crate::model::{self, Context, Service};
use crate::node::de::{Spanned, from_node};
use crate::node::{Node, Scalar, ScalarKind, Value as NodeValue};
use crate::policy;
use crate::source::Sources;
use crate::template::{Directory, ListedPort, Listing, Reference, Scope, ServiceScope, Templates};
use crate::validate::schema;
use crate::validate::{self, BlueprintInput, Inputs, OverlayInput};

/// A loaded and validated project.
pub struct Project {
    pub sources: Sources,
    pub inputs: Inputs,
    /// The files Score workloads name as a file's `source`, read.
    pub attached: Attached,
}

/// Which part of the platform to render. A selection filters what a render
/// returns, never what it compiles: every service of a selected cluster is
/// compiled, so the objects shared across services (gateway routes,
/// namespaces, AuthorizationPolicies with their callers, Argo CD objects)
/// are the same as in a render of everything.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `None`: every environment.
    pub env: Option<String>,
    pub region: Option<String>,
    pub service: Option<String>,
}

impl Selection {
    /// Everything: every environment, region and service.
    pub fn is_all(&self) -> bool {
        self.env.is_none() && self.region.is_none() && self.service.is_none()
    }

    /// Does a path of the rendered tree belong to the selection? Paths are
    /// `<env>/<region>/<folder>/<file>` and `<env>/_argocd/<file>`
    /// (`emit::path`); a selected service keeps the shared folders
    /// (`_namespaces/`, `_gateway/`, `_argocd/`), which depend on it.
    pub fn includes(&self, path: &str) -> bool {
        let mut parts = path.split('/');
        let (env, second, third) = (parts.next(), parts.next(), parts.next());
        let wanted = |want: &Option<String>, part: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == part)
        };
        let shared = |part: Option<&str>| part.is_some_and(|p| p.starts_with('_'));
        if !wanted(&self.env, env) {
            return false;
        }
        if shared(second) {
            // The environment's own objects (Argo CD's).
            return self.region.is_none();
        }
        wanted(&self.region, second) && (shared(third) || wanted(&self.service, third))
    }
}

/// One owner's typed objects as they are rendered, before they are
/// emitted and freed: what [`Project::render`] shows its `inspect` hook.
pub struct Group<'a> {
    pub env: &'a str,
    /// `None` for the objects of the whole environment (Argo CD's).
    pub region: Option<&'a str>,
    /// Mesh identities and pods allowed to call services that are not
    /// rendered here.
    pub external: &'a model::External,
    pub objects: &'a [Rendered],
}

/// Is any of these diagnostics an error (not just a warning)?
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// Load and validate a project: the inputs that passed, and every
/// diagnostic found. `Err` is operational (no project there).
pub fn open(root: &Path) -> anyhow::Result<(Project, Vec<Diagnostic>)> {
    Ok(validated(load(root)?))
}

/// [`open`] with one file's text replaced by `text`: what the project
/// would be with an edit written. `Err` is operational, and also when no
/// input file is shown as `name`.
pub fn open_edited(
    root: &Path,
    name: &str,
    text: String,
) -> anyhow::Result<(Project, Vec<Diagnostic>)> {
    let mut loaded = load(root)?;
    let id = loaded
        .sources
        .find(name)
        .ok_or_else(|| anyhow::anyhow!("`{name}` is not an input file of this project"))?;
    loaded.sources.replace(id, text);
    Ok(validated(loaded))
}

/// Validate loaded inputs (from disk, or from memory for the fuzzer).
pub fn validated(loaded: Loaded) -> (Project, Vec<Diagnostic>) {
    let Loaded {
        sources,
        files,
        blueprint_stems,
        attached,
        mut diagnostics,
    } = loaded;
    let (inputs, found) = validate::inputs(&sources, &files, &attached, blueprint_stems);
    diagnostics.extend(found);
    normalize(&mut diagnostics, &sources);
    (
        Project {
            sources,
            inputs,
            attached,
        },
        diagnostics,
    )
}

impl Project {
    /// Render the selection to documents (path, YAML) in object order, with
    /// every diagnostic found. Callers must not use the documents when any
    /// diagnostic is an error. Works on a project whose inputs had errors
    /// too: what passed validation is rendered, so one run reports every
    /// problem.
    ///
    /// Objects are checked and emitted one owner (service) at a time and
    /// freed at once; the references across a cluster are checked over each
    /// object's [`Facts`]. Memory holds documents, not objects. `inspect`
    /// sees each owner's typed objects before they are emitted (for tests
    /// and tools that want them; commands pass `|_| ()`).
    pub fn render(
        &self,
        selection: &Selection,
        inspect: impl Fn(&Group<'_>) + Sync,
    ) -> (Vec<(String, String)>, Vec<Diagnostic>) {
        let (mut documents, diagnostics, _) =
            self.render_with(selection, |pending| documents_of(pending, &inspect));
        documents.retain(|(path, _)| selection.includes(path));
        (documents, diagnostics)
    }

    /// The resolved model of every selected cluster, once a render of the
    /// selection has checked everything a render checks (the documents are
    /// dropped): what `graph` draws. Callers must not use the clusters when
    /// any diagnostic is an error; a cluster whose model was refused is
    /// missing.
    pub fn clusters(&self, selection: &Selection) -> (Vec<model::Cluster>, Vec<Diagnostic>) {
        let (_, diagnostics, clusters) = self.render_with(selection, |pending| {
            let (_, found) = documents_of(pending, &|_| ());
            (Vec::<()>::new(), found)
        });
        (clusters, diagnostics)
    }

    /// Render every selected cluster and turn each into `T`s as soon as it
    /// is resolved: `finish` lowers and checks it. The models come back too.
    fn render_with<T: Send>(
        &self,
        selection: &Selection,
        finish: impl Fn(Pending<'_>) -> (Vec<T>, Vec<Diagnostic>) + Sync,
    ) -> (Vec<T>, Vec<Diagnostic>, Vec<model::Cluster>) {
        let templates = Templates::default();
        let overlays: Vec<&OverlayInput> = self
            .inputs
            .overlays
            .values()
            .filter(|o| selection.env.as_ref().is_none_or(|e| e == o.name()))
            .collect();
        let rendered: Vec<Rendering<T>> = overlays
            .par_iter()
            .map(|overlay| self.render_environment(overlay, selection, &templates, &finish))
            .collect();
        let (mut out, mut diagnostics, mut claims) = (Vec::new(), Vec::new(), Vec::new());
        let mut clusters = Vec::new();
        for environment in rendered {
            out.extend(environment.items);
            diagnostics.extend(environment.diagnostics);
            claims.extend(environment.clusters.iter().flat_map(model::Cluster::claims));
            clusters.extend(environment.clusters);
        }
        diagnostics.extend(model::conflicting_claims(claims));
        normalize(&mut diagnostics, &self.sources);
        (out, diagnostics, clusters)
    }

    /// The selected clusters of one environment, rendered in parallel, then
    /// the environment's Argo CD objects; with the models they came from.
    fn render_environment<T: Send>(
        &self,
        overlay: &OverlayInput,
        selection: &Selection,
        templates: &Templates,
        finish: &(impl Fn(Pending<'_>) -> (Vec<T>, Vec<Diagnostic>) + Sync),
    ) -> Rendering<T> {
        let regions: Vec<&Region> = overlay
            .head
            .environment
            .regions
            .iter()
            .filter(|r| {
                selection
                    .region
                    .as_ref()
                    .is_none_or(|name| name == &r.name.value)
            })
            .collect();
        let resolved: Vec<(Option<model::Cluster>, Vec<Diagnostic>)> = regions
            .par_iter()
            .map(|region| self.resolve(overlay, region, templates))
            .collect();
        let mut diagnostics = Vec::new();
        let mut models = Vec::new();
        for (model, found) in resolved {
            diagnostics.extend(found);
            models.extend(model);
        }
        let lowered: Vec<(Vec<T>, Vec<Diagnostic>)> = models
            .par_iter()
            .map(|model| {
                finish(Pending {
                    env: &model.env,
                    region: Some(model.region.clone()),
                    external: model.external(),
                    objects: Objects::Model(model),
                })
            })
            .collect();
        let mut out = Vec::new();
        for (items, found) in lowered {
            out.extend(items);
            diagnostics.extend(found);
        }
        // Argo CD objects describe the whole environment: only a render of
        // all of it has them.
        let whole = selection.region.is_none();
        if let (true, Some(first)) = (whole, models.first()) {
            let (items, found) = finish(Pending {
                env: &first.env,
                region: None,
                external: model::External::default(),
                objects: Objects::Lowered(lower::argocd::environment(&first.env, &models)),
            });
            out.extend(items);
            diagnostics.extend(found);
        }
        Rendering {
            items: out,
            diagnostics,
            clusters: models,
        }
    }

    /// One service's merged, template-expanded blueprint in one cluster, and
    /// the layers it was merged from (for `explain`). The selection must
    /// name an environment and a service; the region defaults to the
    /// primary one.
    pub fn merged(&self, selection: &Selection) -> Result<(Node, Layers<'_>), Vec<Diagnostic>> {
        let overlay = selection
            .env
            .as_ref()
            .and_then(|e| self.inputs.overlays.get(e))
            .ok_or_else(Vec::new)?;
        let blueprint = selection
            .service
            .as_ref()
            .and_then(|s| self.inputs.blueprints.get(s))
            .ok_or_else(Vec::new)?;
        let regions = &overlay.head.environment.regions;
        let region = match &selection.region {
            Some(name) => regions.iter().find(|r| &r.name.value == name),
            None => overlay.head.environment.primary_region(),
        }
        .ok_or_else(Vec::new)?;
        let templates = Templates::default();
        // The other services' problems are theirs: a render reports them.
        let (_, directory) = self.prepare(overlay, region, &templates, &mut Vec::new());
        let target = Target {
            overlay,
            patches: merge::Patches::new(&overlay.tree, &region.name.value)
                .chain(&blueprint.name.value),
            region,
            blueprint,
            services: &self.inputs.service_names,
            templates: &templates,
        };
        let mut diags = Vec::new();
        let (Prepared { tree, .. }, _) = target
            .prepare(&mut diags)
            .and_then(|prepared| target.expanded(prepared, &directory, &mut diags))
            .ok_or(diags)?;
        Ok((tree, explain::layers(overlay, region, blueprint)))
    }

    /// Resolve every service of one (environment, region) and run the
    /// checks across them; `None` if any was refused.
    fn resolve(
        &self,
        overlay: &OverlayInput,
        region: &Region,
        templates: &Templates,
    ) -> (Option<model::Cluster>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let (prepared, directory) = self.prepare(overlay, region, templates, &mut diagnostics);
        let secrets = model::StoreSetting::new(&overlay.head, region);
        let data_stores = model::DataStores::new(&overlay.head, region);
        let resolved: Vec<(Option<Service>, Vec<Diagnostic>)> = prepared
            .into_par_iter()
            .map(|(target, prepared)| {
                let mut diagnostics = Vec::new();
                let stores = (&secrets, &data_stores);
                let service = prepared.and_then(|prepared| {
                    target.resolve(
                        prepared,
                        &directory,
                        &self.sources,
                        stores,
                        &mut diagnostics,
                    )
                });
                (service, diagnostics)
            })
            .collect();
        let mut services = Vec::with_capacity(resolved.len());
        for (service, found) in resolved {
            services.extend(service);
            diagnostics.extend(found);
        }
        let model = model::Cluster {
            env: model::Environment::new(&overlay.head),
            region: region.name.value.clone(),
            cluster: region.cluster.value.clone(),
            services,
        };
        diagnostics.extend(model.check());
        diagnostics.extend(policy::check(&model));
        let ok = !has_errors(&diagnostics);
        (ok.then_some(model), diagnostics)
    }
}

impl Project {
    /// Every service the region runs, merged and with its template scope
    /// (`None` where that failed, with the diagnostics), and the directory
    /// `endpoint()` resolves in: a service's templates may name the others.
    fn prepare<'a>(
        &'a self,
        overlay: &'a OverlayInput,
        region: &'a Region,
        templates: &'a Templates,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> (Vec<(Target<'a>, Option<Prepared>)>, Arc<Directory>) {
        let patches = merge::Patches::new(&overlay.tree, &region.name.value);
        let prepared: Vec<(Target<'_>, Option<Prepared>, Vec<Diagnostic>)> = self
            .inputs
            .blueprints
            .values()
            .filter(|b| deployed(b, region))
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|blueprint| {
                let target = Target {
                    overlay,
                    patches: patches.chain(&blueprint.name.value),
                    region,
                    blueprint,
                    services: &self.inputs.service_names,
                    templates,
                };
                let mut found = Vec::new();
                let prepared = target.prepare(&mut found);
                (target, prepared, found)
            })
            .collect();
        let mut services: BTreeMap<String, Option<Listing>> = BTreeMap::new();
        let mut targets = Vec::with_capacity(prepared.len());
        for (target, prepared, found) in prepared {
            diagnostics.extend(found);
            let listing = prepared.as_ref().and_then(|p| p.listing(templates));
            services.insert(target.blueprint.name.value.clone(), listing);
            targets.push((target, prepared));
        }
        // A refused blueprint the region would run is in error here.
        let mut elsewhere = BTreeSet::new();
        for name in &self.inputs.service_names {
            if !services.contains_key(name) {
                if runs(region, name) {
                    services.insert(name.clone(), None);
                } else {
                    elsewhere.insert(name.clone());
                }
            }
        }
        let directory = Directory {
            region: region.name.value.clone(),
            services,
            elsewhere,
        };
        (targets, Arc::new(directory))
    }
}

/// Does the region run the service? Its `only`, if any, must list it.
pub fn deployed(blueprint: &BlueprintInput, region: &Region) -> bool {
    runs(region, &blueprint.name.value)
}

fn runs(region: &Region, name: &str) -> bool {
    region
        .only
        .as_ref()
        .is_none_or(|only| only.iter().any(|s| s.value == name))
}

/// One environment rendered: what `finish` made of its clusters, every
/// diagnostic, and the models of the clusters that resolved.
struct Rendering<T> {
    items: Vec<T>,
    diagnostics: Vec<Diagnostic>,
    clusters: Vec<model::Cluster>,
}

/// A cluster to lower: one (environment, region) or, with no region, the
/// objects of a whole environment (Argo CD's).
struct Pending<'a> {
    env: &'a model::Environment,
    region: Option<String>,
    /// Mesh identities and pods allowed to call services that are not
    /// rendered here.
    external: model::External,
    objects: Objects<'a>,
}

enum Objects<'a> {
    /// Lowered from the model, owner by owner.
    Model(&'a model::Cluster),
    /// Lowered already, as one group.
    Lowered(Vec<Rendered>),
}

impl Pending<'_> {
    /// Lower the cluster, handing each owner's objects to `finish` as they
    /// are lowered; the results are in object order.
    fn lower_with<T: Send>(self, finish: impl Fn(Vec<Rendered>) -> T + Sync) -> Vec<T> {
        match self.objects {
            Objects::Model(model) => lower::cluster_with(model, finish),
            Objects::Lowered(objects) => vec![finish(objects)],
        }
    }
}

/// Lower, check and emit one cluster owner by owner, keeping only each
/// object's document and facts; then the checks across the cluster (over
/// the facts) and the policy rules over the bytes.
fn documents_of(
    pending: Pending<'_>,
    inspect: &(impl Fn(&Group<'_>) + Sync),
) -> (Vec<(String, String)>, Vec<Diagnostic>) {
    let env = pending.env;
    let region = pending.region.clone();
    let external = pending.external.clone();
    let groups = pending.lower_with(|group| {
        inspect(&Group {
            env: &env.name,
            region: region.as_deref(),
            external: &external,
            objects: &group,
        });
        let found: Vec<Diagnostic> = group.iter().flat_map(check::object).collect();
        debug_assert!(
            policy::pod_violations(&group).is_empty(),
            "lowering renders no pod on the host network and no privileged container"
        );
        let facts: Vec<Facts> = group.iter().map(Facts::of).collect();
        let documents = emit::into_documents(&env.name, region.as_deref(), group);
        (documents, facts, found)
    });
    let (mut documents, mut facts, mut diagnostics) = (Vec::new(), Vec::new(), Vec::new());
    for (docs, more_facts, found) in groups {
        documents.extend(docs);
        facts.extend(more_facts);
        diagnostics.extend(found);
    }
    diagnostics.extend(check::across(&facts));
    debug_assert!(
        check::references(&facts, &external).is_empty(),
        "lowering renders consistent references: {:?}",
        check::references(&facts, &external)
    );
    (documents, diagnostics)
}

/// One (environment, region, service).
struct Target<'a> {
    overlay: &'a OverlayInput,
    /// The overlay's patches of the blueprint, lowest precedence first.
    patches: Vec<&'a Node>,
    region: &'a Region,
    blueprint: &'a BlueprintInput,
    services: &'a BTreeSet<String>,
    templates: &'a Templates,
}

/// A service merged, with the scope of its templates.
struct Prepared {
    tree: Node,
    scope: Scope,
    namespace: Spanned<String>,
    gateway: Spanned<String>,
}

impl Prepared {
    /// Where the service answers, as `endpoint()` finds it: its namespace
    /// and the service ports of its merged blueprint (a templated protocol
    /// rendered in its scope). `None` when a port is not one the schema
    /// takes, which the service's own checks report.
    fn listing(&self, templates: &Templates) -> Option<Listing> {
        let ports = match self.tree.get("service").and_then(|s| s.get("ports")) {
            None => Vec::new(),
            Some(ports) => ports
                .as_map()?
                .iter()
                .map(|entry| self.listed_port(&entry.key, &entry.value, templates))
                .collect::<Option<_>>()?,
        };
        Some(Listing {
            namespace: self.namespace.value.clone(),
            ports,
        })
    }

    fn listed_port(&self, name: &str, port: &Node, templates: &Templates) -> Option<ListedPort> {
        let number = match port.get("port")?.value {
            NodeValue::Scalar(Scalar {
                kind: ScalarKind::Int(n),
                ..
            }) => u16::try_from(n).ok().filter(|n| *n > 0)?,
            _ => return None,
        };
        let protocol = match port.get("protocol") {
            None => "TCP".to_owned(),
            Some(node) => templates
                .render(node.as_str()?, node.span, &self.scope)
                .ok()?,
        };
        let url = match protocol.as_str() {
            "HTTP" | "HTTP2" => true,
            "GRPC" | "TCP" => false,
            _ => return None,
        };
        Some(ListedPort {
            name: name.to_owned(),
            port: number,
            url,
        })
    }
}

impl Target<'_> {
    /// The merged blueprint and the scope of its templates.
    fn prepare(&self, diags: &mut Vec<Diagnostic>) -> Option<Prepared> {
        let tree = merge::merged(&self.blueprint.tree, &self.patches);
        let team = tree
            .get("metadata")
            .and_then(|m| m.get("team"))
            .and_then(Node::as_str);
        let service = ServiceScope {
            name: self.blueprint.name.value.clone(),
            team: team.unwrap_or(&self.blueprint.name.value).to_owned(),
        };
        let env = (self.overlay.name(), &self.overlay.head.environment);
        let (scope, namespace, gateway) = self.templates.scope(service, env, self.region, diags)?;
        Some(Prepared {
            tree,
            scope,
            namespace,
            gateway,
        })
    }

    /// The merged blueprint with templates expanded (`endpoint()` finding
    /// the region's services in `directory`), and the calls it made.
    fn expanded(
        &self,
        prepared: Prepared,
        directory: &Arc<Directory>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Prepared, Vec<Reference>)> {
        let mut prepared = prepared;
        prepared.scope.endpoints = Some(Arc::clone(directory));
        let before = diags.len();
        let references = self
            .templates
            .expand(&mut prepared.tree, &prepared.scope, diags);
        (diags.len() == before).then_some((prepared, references))
    }

    /// Resolve the service against the cluster's secret store and data stores.
    fn resolve(
        &self,
        prepared: Prepared,
        directory: &Arc<Directory>,
        sources: &Sources,
        (secrets, data_stores): (&model::StoreSetting, &model::DataStores),
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Service> {
        let (
            Prepared {
                tree,
                namespace,
                gateway,
                ..
            },
            references,
        ) = self.expanded(prepared, directory, diags)?;
        let errors = schema::check(&tree, FileKind::Blueprint);
        if !errors.is_empty() {
            let context = "found after merging overlays: a patch may have removed this (`null`) or created a partial entry";
            diags.extend(errors.into_iter().map(|d| {
                if d.hint.is_some() {
                    d
                } else {
                    d.with_hint(context)
                }
            }));
            return None;
        }
        let raw: input::Blueprint = from_node(&tree)
            .map_err(|e| {
                diags.push(Diagnostic::error(
                    Code::INVALID_VALUE,
                    e.span.unwrap_or(tree.span),
                    e.message,
                ))
            })
            .ok()?;
        let cx = Context {
            sources,
            namespace,
            gateway,
            services: self.services,
            calls: &references,
            secrets,
            data_stores,
        };
        let (service, found) = Service::resolve(&raw, &cx);
        diags.extend(found);
        service
    }
}
