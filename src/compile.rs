//! The pipeline, end to end, in memory: load -> parse -> validate -> merge ->
//! template -> resolve -> lower -> check. Commands call this; only `load`
//! touches the filesystem, and nothing here writes.

use std::collections::BTreeSet;
use std::path::Path;

use rayon::prelude::*;

use crate::check::{self, Facts};
use crate::diag::{Code, Diagnostic, normalize};
use crate::emit;
use crate::explain::{self, Layers};
use crate::input::FileKind;
use crate::input::{self, Region};
use crate::load::{Loaded, load};
use crate::lower::{self, Rendered};
use crate::merge;
use crate::model::{self, Context, Service};
use crate::node::Node;
use crate::node::de::{Spanned, from_node};
use crate::policy;
use crate::source::Sources;
use crate::template::{ServiceScope, Templates};
use crate::validate::schema;
use crate::validate::{self, BlueprintInput, Inputs, OverlayInput};

/// A loaded and validated project.
pub struct Project {
    pub sources: Sources,
    pub inputs: Inputs,
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

/// Validate loaded inputs (from disk, or from memory for the fuzzer).
pub fn validated(loaded: Loaded) -> (Project, Vec<Diagnostic>) {
    let Loaded {
        sources,
        files,
        blueprint_stems,
        mut diagnostics,
    } = loaded;
    let (inputs, found) = validate::inputs(&sources, &files, blueprint_stems);
    diagnostics.extend(found);
    normalize(&mut diagnostics, &sources);
    (Project { sources, inputs }, diagnostics)
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
        let (mut documents, diagnostics) =
            self.render_with(selection, |pending| documents_of(pending, &inspect));
        documents.retain(|(path, _)| selection.includes(path));
        (documents, diagnostics)
    }

    /// Render every selected cluster and turn each into `T`s as soon as it
    /// is resolved: `finish` lowers and checks it.
    fn render_with<T: Send>(
        &self,
        selection: &Selection,
        finish: impl Fn(Pending<'_>) -> (Vec<T>, Vec<Diagnostic>) + Sync,
    ) -> (Vec<T>, Vec<Diagnostic>) {
        let templates = Templates::default();
        let overlays: Vec<&OverlayInput> = self
            .inputs
            .overlays
            .values()
            .filter(|o| selection.env.as_ref().is_none_or(|e| e == o.name()))
            .collect();
        let rendered: Vec<(Vec<T>, Vec<Diagnostic>, Vec<model::Claim>)> = overlays
            .par_iter()
            .map(|overlay| self.render_environment(overlay, selection, &templates, &finish))
            .collect();
        let (mut out, mut diagnostics, mut claims) = (Vec::new(), Vec::new(), Vec::new());
        for (items, found, claimed) in rendered {
            out.extend(items);
            diagnostics.extend(found);
            claims.extend(claimed);
        }
        diagnostics.extend(model::conflicting_claims(claims));
        normalize(&mut diagnostics, &self.sources);
        (out, diagnostics)
    }

    /// The selected clusters of one environment, rendered in parallel, then
    /// the environment's Argo CD objects; with the namespaces each cluster
    /// renders into.
    fn render_environment<T: Send>(
        &self,
        overlay: &OverlayInput,
        selection: &Selection,
        templates: &Templates,
        finish: &(impl Fn(Pending<'_>) -> (Vec<T>, Vec<Diagnostic>) + Sync),
    ) -> (Vec<T>, Vec<Diagnostic>, Vec<model::Claim>) {
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
        let claims = models.iter().flat_map(model::Cluster::claims).collect();
        (out, diagnostics, claims)
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
        let target = Target {
            overlay,
            region,
            blueprint,
            services: &self.inputs.service_names,
            templates: &templates,
        };
        let mut diags = Vec::new();
        let (tree, _, _) = target.expanded(&mut diags).ok_or(diags)?;
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
        let blueprints: Vec<&BlueprintInput> = self
            .inputs
            .blueprints
            .values()
            .filter(|b| deployed(b, region))
            .collect();
        let secrets = model::StoreSetting::new(&overlay.head, region);
        let data_stores = model::DataStores::new(&overlay.head, region);
        let resolved: Vec<(Option<Service>, Vec<Diagnostic>)> = blueprints
            .par_iter()
            .map(|blueprint| {
                let target = Target {
                    overlay,
                    region,
                    blueprint,
                    services: &self.inputs.service_names,
                    templates,
                };
                let mut diagnostics = Vec::new();
                let stores = (&secrets, &data_stores);
                let service = target.resolve(&self.sources, stores, &mut diagnostics);
                (service, diagnostics)
            })
            .collect();
        let mut diagnostics = Vec::new();
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

/// Does the region run the service? Its `only`, if any, must list it.
pub fn deployed(blueprint: &BlueprintInput, region: &Region) -> bool {
    let name = &blueprint.name.value;
    region
        .only
        .as_ref()
        .is_none_or(|only| only.iter().any(|s| &s.value == name))
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
    region: &'a Region,
    blueprint: &'a BlueprintInput,
    services: &'a BTreeSet<String>,
    templates: &'a Templates,
}

impl Target<'_> {
    /// The merged blueprint with templates expanded, the namespace and the gateway.
    fn expanded(
        &self,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Node, Spanned<String>, Spanned<String>)> {
        let chain = merge::chain(
            &self.overlay.tree,
            &self.region.name.value,
            &self.blueprint.name.value,
        );
        let mut tree = merge::merged(&self.blueprint.tree, &chain);
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
        let before = diags.len();
        self.templates.expand(&mut tree, &scope, diags);
        (diags.len() == before).then_some((tree, namespace, gateway))
    }

    /// Resolve the service against the cluster's secret store and data stores.
    fn resolve(
        &self,
        sources: &Sources,
        (secrets, data_stores): (&model::StoreSetting, &model::DataStores),
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Service> {
        let (tree, namespace, gateway) = self.expanded(diags)?;
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
            secrets,
            data_stores,
        };
        let (service, found) = Service::resolve(&raw, &cx);
        diags.extend(found);
        service
    }
}
