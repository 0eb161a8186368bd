//! Input validation: every file is parsed and checked against its schema,
//! then the semantic rules no schema can express are checked across files.
//! All problems are collected, not just the first.

mod credentials;
mod environment;
pub mod schema;
pub mod score;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rayon::prelude::*;

use crate::diag::{Code, Diagnostic};
use crate::input::OverlayHead;
use crate::input::{FileKind, SCORE_API_VERSION, SIDE_FILE_SUFFIX};
use crate::load::Attached;
use crate::names;
use crate::node::de::{Spanned, from_node};
use crate::node::{Node, Value};
use crate::parse::parse;
use crate::rules::Rule;
use crate::source::{FileId, SourceFile, Sources, Span};
use crate::suggest::did_you_mean;

/// Longest service name: a Kubernetes Service name and a label value hold
/// 63 characters. Names slipway derives from it with a suffix (the canary
/// Service) are shortened to fit (`names::derived_name`), never
/// refused.
pub const MAX_SERVICE_NAME: usize = 63;

/// Labels slipway sets on every object of a service, monitors included:
/// an overlay's `monitoring.labels` may add labels, not change these.
pub const OWN_LABELS: [&str; 5] = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "team",
];

/// A blueprint that passed its schema: its name and tree.
#[derive(Debug)]
pub struct BlueprintInput {
    pub name: Spanned<String>,
    pub team: Option<Spanned<String>>,
    pub tree: Node,
}

/// An overlay that passed its schema.
#[derive(Debug)]
pub struct OverlayInput {
    pub head: OverlayHead,
    pub tree: Node,
}

/// The validated inputs of a project, by name.
#[derive(Debug, Default)]
pub struct Inputs {
    pub blueprints: BTreeMap<String, BlueprintInput>,
    pub overlays: BTreeMap<String, OverlayInput>,
    /// Every service a blueprint file names, including blueprints that were
    /// refused, so a broken blueprint does not make its references "unknown".
    pub service_names: BTreeSet<String>,
}

impl OverlayInput {
    pub fn name(&self) -> &str {
        &self.head.metadata.name.value
    }

    /// The environment's region names, in the overlay's order.
    pub fn region_names(&self) -> Vec<&str> {
        self.head
            .environment
            .regions
            .iter()
            .map(|r| r.name.value.as_str())
            .collect()
    }
}

/// Parse and validate every loaded file. Returns the inputs that passed and
/// every diagnostic found.
///
/// `named` starts as the stems of all blueprint files found, refused or not.
pub fn inputs(
    sources: &Sources,
    files: &[(FileId, FileKind)],
    attached: &Attached,
    mut named: BTreeSet<String>,
) -> (Inputs, Vec<Diagnostic>) {
    // Parsing and the schema check are per file: in parallel.
    let checked: Vec<Checked> = files
        .par_iter()
        .map(|&(id, schema)| check_file(sources, id, schema))
        .collect();
    let mut diags = Vec::new();
    let mut inputs = Inputs::default();
    let mut workloads = Vec::new();
    let mut sides = BTreeMap::new();
    // Blueprint files refused on their own: a side file beside one has its
    // workload there, with what is wrong with it said.
    let mut refused = BTreeSet::new();
    for Checked {
        id,
        schema,
        name,
        passed,
        errors,
    } in checked
    {
        diags.extend(errors);
        if let (FileKind::Blueprint | FileKind::Score, Some(name)) = (schema, name) {
            named.insert(name);
        }
        if passed.is_none() && matches!(schema, FileKind::Blueprint | FileKind::Score) {
            refused.insert(workload_path(&sources.get(id).path));
        }
        match passed {
            Some(Passed::Blueprint(blueprint)) => add_blueprint(&mut inputs, blueprint, &mut diags),
            Some(Passed::Overlay(tree)) => {
                add_overlay(&mut inputs, tree, sources.get(id), &mut diags);
            }
            Some(Passed::Score(tree)) => workloads.push((id, tree)),
            Some(Passed::Side(tree)) => {
                sides.insert(workload_path(&sources.get(id).path), (id, tree));
            }
            None => {}
        }
    }
    for (id, tree) in workloads {
        let side = sides.remove(&workload_path(&sources.get(id).path));
        let read = score::Read {
            workload: &sources.get(id).name,
            sources,
            attached,
        };
        if let Some(blueprint) = score_blueprint(sources.get(id), &tree, side, &read, &mut diags) {
            add_blueprint(&mut inputs, blueprint, &mut diags);
        }
    }
    sides.retain(|workload, _| !refused.contains(workload));
    for (id, side) in sides.into_values() {
        diags.push(
            Diagnostic::error(
                Code::INVALID_SIDE_FILE,
                side.span,
                "a side file (`*.slipway.yaml`) with no Score workload beside it",
            )
            .with_hint(format!(
                "it belongs beside the Score workload it extends: `{}` for a workload of that name",
                sources.get(id).name.replace(SIDE_FILE_SUFFIX, "")
            )),
        );
    }
    for overlay in inputs.overlays.values() {
        check_overlay_references(overlay, &named, &mut diags);
    }
    inputs.service_names = named;
    (inputs, diags)
}

/// One file parsed and checked against its schema.
struct Checked {
    id: FileId,
    schema: FileKind,
    /// `metadata.name`, when the file has one, valid or not.
    name: Option<String>,
    /// What the file became, if it passed.
    passed: Option<Passed>,
    errors: Vec<Diagnostic>,
}

/// A file that passed its schema (and, for a blueprint, the checks of
/// its own names and variables).
enum Passed {
    Blueprint(BlueprintInput),
    Overlay(Node),
    /// A Score workload, to be translated with its side file.
    Score(Node),
    Side(Node),
}

/// The path a Score workload and its side file share: the folder and the
/// stem, without `.slipway`.
fn workload_path(path: &Path) -> std::path::PathBuf {
    let stem = file_stem(path);
    path.with_file_name(stem.strip_suffix(SIDE_FILE_SUFFIX).unwrap_or(&stem))
}

/// A Score workload translated with its side file, checked as a
/// blueprint; the side file's header is checked here.
fn score_blueprint(
    file: &SourceFile,
    tree: &Node,
    side: Option<(FileId, Node)>,
    read: &score::Read<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<BlueprintInput> {
    let before = diags.len();
    let stem = file_stem(&file.path);
    let side = side.map(|(_, tree)| tree);
    if let Some(side) = &side {
        score::check_side(side, &stem, diags);
    }
    let translated = score::blueprint(tree, side.as_ref(), read, diags);
    let translated = translated.filter(|_| !diags[before..].iter().any(Diagnostic::is_error))?;
    // The side file's sections, and the translation itself, against the
    // blueprint's contract.
    let errors = schema::check(&translated, FileKind::Blueprint);
    let passed = errors.is_empty();
    diags.extend(errors);
    passed.then(|| blueprint(translated, &stem, &file.text, diags))?
}

fn check_file(sources: &Sources, id: FileId, schema: FileKind) -> Checked {
    let mut checked = Checked {
        id,
        schema,
        name: None,
        passed: None,
        errors: Vec::new(),
    };
    match parse(sources.get(id), id) {
        Err(diag) => checked.errors.push(diag),
        Ok(tree) => {
            checked.name = tree
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Node::as_str)
                .map(str::to_owned);
            let schema = kind_of(schema, &tree);
            checked.schema = schema;
            // A side file is checked with the blueprint it helps make.
            if schema != FileKind::ScoreExtension {
                checked.errors = schema::check(&tree, schema);
            }
            if checked.errors.is_empty() {
                checked.passed = match schema {
                    FileKind::Blueprint => {
                        let stem = file_stem(&sources.get(id).path);
                        let text = &sources.get(id).text;
                        blueprint(tree, &stem, text, &mut checked.errors).map(Passed::Blueprint)
                    }
                    FileKind::Overlay => Some(Passed::Overlay(tree)),
                    FileKind::Score => Some(Passed::Score(tree)),
                    FileKind::ScoreExtension => Some(Passed::Side(tree)),
                };
            }
        }
    }
    checked
}

/// A blueprint whose `apiVersion` is Score's is a Score workload.
fn kind_of(folder: FileKind, tree: &Node) -> FileKind {
    let score = tree.get("apiVersion").and_then(Node::as_str) == Some(SCORE_API_VERSION);
    match folder {
        FileKind::Blueprint if score => FileKind::Score,
        other => other,
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn deserialize<'a, T: serde::Deserialize<'a>>(
    node: &'a Node,
    diags: &mut Vec<Diagnostic>,
) -> Option<T> {
    from_node(node)
        .map_err(|e| {
            diags.push(Diagnostic::error(
                Code::INVALID_VALUE,
                e.span.unwrap_or(node.span),
                e.message,
            ))
        })
        .ok()
}

/// A blueprint whose names and variables pass, checked on its own.
fn blueprint(
    tree: Node,
    stem: &str,
    text: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<BlueprintInput> {
    let meta = tree.get("metadata").unwrap_or(&tree);
    let name = meta
        .get("name")
        .and_then(|n| deserialize::<Spanned<String>>(n, diags))?;
    let team = meta
        .get("team")
        .and_then(|n| deserialize::<Spanned<String>>(n, diags));
    let before = diags.len();
    check_name(&name, "service name", MAX_SERVICE_NAME, diags);
    check_stem(&name, stem, diags);
    if let Some(team) = &team {
        check_name(team, "team", 63, diags);
    }
    check_blueprint_names(&tree, diags);
    credentials::check(&tree, text, diags);
    (diags.len() == before).then_some(BlueprintInput { name, team, tree })
}

/// Add a blueprint, unless another one has its name.
fn add_blueprint(inputs: &mut Inputs, blueprint: BlueprintInput, diags: &mut Vec<Diagnostic>) {
    let name = &blueprint.name;
    if let Some(first) = inputs.blueprints.get(&name.value) {
        diags.push(
            Diagnostic::error(
                Code::DUPLICATE_SERVICE,
                name.span,
                format!("duplicate service name `{}`", name.value),
            )
            .with_related(first.name.span, "first defined here")
            .with_hint("service names are unique across all of `blueprints/`"),
        );
        return;
    }
    inputs.blueprints.insert(name.value.clone(), blueprint);
}

fn add_overlay(inputs: &mut Inputs, tree: Node, file: &SourceFile, diags: &mut Vec<Diagnostic>) {
    let stem = &file_stem(&file.path);
    let Some(head) = deserialize::<OverlayHead>(&tree, diags) else {
        return;
    };
    let before = diags.len();
    check_name(&head.metadata.name, "environment name", 63, diags);
    check_stem(&head.metadata.name, stem, diags);
    check_regions(&head, diags);
    environment::check(&head, &tree, diags);
    check_secret_stores(&head, diags);
    check_data_stores(&head, &tree, diags);
    check_policy_ids(&tree, diags);
    check_monitoring_labels(&tree, diags);
    check_pod_labels(&tree, diags);
    environment::once_per_template(diags, before);
    for patch in patches(&tree) {
        check_patch_team(patch, diags);
        check_blueprint_names(patch, diags);
        credentials::check(patch, &file.text, diags);
    }
    if diags.len() > before {
        return;
    }
    let name = &head.metadata.name;
    if let Some(first) = inputs.overlays.get(&name.value) {
        diags.push(
            Diagnostic::error(
                Code::DUPLICATE_ENVIRONMENT,
                name.span,
                format!("duplicate environment `{}`", name.value),
            )
            .with_related(first.head.metadata.name.span, "first defined here")
            .with_hint("one overlay per environment: merge the two files, or rename one and its `metadata.name`"),
        );
        return;
    }
    inputs
        .overlays
        .insert(name.value.clone(), OverlayInput { head, tree });
}

/// A team an overlay sets is a name as a blueprint's is (`null` restores
/// the default, the service's name): it becomes labels, namespaces and
/// Argo CD projects, and templates see it as `service.team` as written, so
/// it is never a template itself.
fn check_patch_team(patch: &Node, diags: &mut Vec<Diagnostic>) {
    let team = patch.get("metadata").and_then(|m| m.get("team"));
    if let Some(team) = team.filter(|t| t.as_str().is_some()) {
        if let Some(team) = deserialize::<Spanned<String>>(team, diags) {
            check_name(&team, "team", 63, diags);
        }
    }
}

/// Every partial blueprint in an overlay: defaults, services, and per region.
fn patches(overlay: &Node) -> Vec<&Node> {
    let mut out: Vec<&Node> = overlay.get("defaults").into_iter().collect();
    out.extend(map_values(overlay.get("services")));
    for region in map_values(overlay.get("regionOverrides")) {
        out.extend(region.get("defaults"));
        out.extend(map_values(region.get("services")));
    }
    out
}

fn map_values(node: Option<&Node>) -> impl Iterator<Item = &Node> {
    node.and_then(Node::as_map)
        .into_iter()
        .flatten()
        .map(|e| &e.value)
}

fn check_name(name: &Spanned<String>, what: &str, max: usize, diags: &mut Vec<Diagnostic>) {
    if let Err(reason) = names::dns1123_label(&name.value, max) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_NAME,
                name.span,
                format!("invalid {what} `{}`: {reason}", name.value),
            )
            .with_hint(
                "names become Kubernetes names and paths: use lowercase letters, digits and `-`",
            ),
        );
    }
}

fn check_stem(name: &Spanned<String>, stem: &str, diags: &mut Vec<Diagnostic>) {
    if name.value != stem {
        diags.push(
            Diagnostic::error(
                Code::NAME_MISMATCH,
                name.span,
                format!(
                    "`metadata.name` is `{}` but the file is named `{stem}`",
                    name.value
                ),
            )
            .with_hint(format!(
                "rename the file to `{}.yaml` or change the name to `{stem}`",
                name.value
            )),
        );
    }
}

/// Names inside a (partial) blueprint that become Kubernetes names.
fn check_blueprint_names(tree: &Node, diags: &mut Vec<Diagnostic>) {
    for container in entries(tree, &["containers"]) {
        key_rule(
            container.key.as_str(),
            container.key_span,
            "container name",
            |n| names::dns1123_label(n, 63),
            diags,
        );
        for section in ["variables", "secrets"] {
            for var in entries(&container.value, &[section]) {
                key_rule(
                    &var.key,
                    var.key_span,
                    "environment variable name",
                    names::env_var_name,
                    diags,
                );
            }
        }
        let vars = entries(&container.value, &["variables"]);
        for secret in entries(&container.value, &["secrets"]) {
            stored_secret_key(secret, diags);
            if let Some(var) = vars.iter().find(|v| v.key == secret.key) {
                diags.push(
                    Diagnostic::error(
                        Code::VARIABLE_AND_SECRET,
                        secret.key_span,
                        format!("`{}` is both a variable and a secret", secret.key),
                    )
                    .with_related(var.key_span, "also set here")
                    .with_hint("keep one of the two"),
                );
            }
        }
    }
    // A dependency's name, in capitals with `-` as `_`, prefixes the
    // variables it sets: a DNS-1035 label makes that a C identifier.
    for dependency in entries(tree, &["dependencies"]) {
        key_rule(
            &dependency.key,
            dependency.key_span,
            "dependency name",
            |n| names::dns1035_label(n, 63),
            diags,
        );
    }
    for port in entries(tree, &["service", "ports"]) {
        key_rule(
            &port.key,
            port.key_span,
            "port name",
            names::port_name,
            diags,
        );
    }
    for annotation in entries(tree, &["metadata", "annotations"]) {
        // The API server checks annotation keys lowercased (apimachinery
        // `ValidateAnnotations`: `IsQualifiedName(strings.ToLower(k))`).
        key_rule(
            &annotation.key,
            annotation.key_span,
            "annotation key",
            |key| names::qualified_name(&key.to_ascii_lowercase()),
            diags,
        );
        if annotation.key == SYNC_WAVE {
            diags.push(
                Diagnostic::error(
                    Code::RESERVED_ANNOTATION,
                    annotation.key_span,
                    format!("annotation `{SYNC_WAVE}` is one slipway sets itself"),
                )
                .with_hint("slipway orders a service's sync (what a workload uses syncs a wave before it); a wave of your own on every object would undo that order and can hang the first sync: remove it"),
            );
        }
    }
}

/// A stored secret's variable name is also its key in the Secret the
/// ExternalSecret creates: `spec.data[].secretKey`, which the CRD holds to
/// `^[-._a-zA-Z0-9]+$` and 253 characters, the rules of Secret keys
/// (apimachinery `IsConfigMapKey`).
fn stored_secret_key(secret: &crate::node::Entry, diags: &mut Vec<Diagnostic>) {
    if secret
        .value
        .get("store")
        .is_none_or(|s| s.as_str().is_none())
    {
        return;
    }
    if let Err(reason) = names::config_map_key(&secret.key) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_NAME,
                secret.key_span,
                format!(
                    "`{}` cannot name a stored secret: it is the secret's key in the Secret, which {reason}",
                    secret.key
                ),
            )
            .with_hint("a stored secret's variable holds only letters, digits, `-`, `_` and `.`"),
        );
    }
}

/// Argo CD's sync wave (argo-cd `docs/user-guide/sync-waves.md`), which
/// slipway sets on what a workload uses so that it syncs first; service
/// annotations go onto every object of the service.
const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

fn entries<'a>(node: &'a Node, path: &[&str]) -> Vec<&'a crate::node::Entry> {
    let mut node = Some(node);
    for step in path {
        node = node.and_then(|n| n.get(step));
    }
    match node.map(|n| &n.value) {
        Some(Value::Map(entries)) => entries.iter().collect(),
        _ => Vec::new(),
    }
}

fn key_rule(
    key: &str,
    span: Span,
    what: &str,
    rule: impl Fn(&str) -> Result<(), String>,
    diags: &mut Vec<Diagnostic>,
) {
    if let Err(reason) = rule(key) {
        diags.push(Diagnostic::error(
            Code::INVALID_NAME,
            span,
            format!("invalid {what} `{key}`: {reason}"),
        ));
    }
}

/// `environment.monitoring.labels` go onto monitors and rules,
/// `environment.dashboards.labels` onto dashboard ConfigMaps: valid
/// Kubernetes labels, and none of slipway's own.
fn check_monitoring_labels(overlay: &Node, diags: &mut Vec<Diagnostic>) {
    check_added_labels(
        overlay,
        "monitoring",
        "monitoring labels are added to slipway's own; use a key the cluster's Prometheus selects by, such as `release`",
        diags,
    );
    check_added_labels(
        overlay,
        "dashboards",
        "dashboard labels are added to slipway's own; use the key Grafana's sidecar selects by (`grafana.sidecar.dashboards.label`), such as `grafana_dashboard`",
        diags,
    );
    // The sidecar reads the folder from this annotation of each ConfigMap
    // (kiwigrid/k8s-sidecar `FOLDER_ANNOTATION`): an annotation key.
    if let Some(folder) = overlay
        .get("environment")
        .and_then(|e| e.get("dashboards"))
        .and_then(|d| d.get("folderAnnotation"))
    {
        let key = folder.as_str().unwrap_or_default();
        key_rule(
            key,
            folder.span,
            "annotation key",
            names::qualified_name,
            diags,
        );
    }
}

/// Labels an overlay adds to objects slipway labels: valid, and none of
/// slipway's own.
fn check_added_labels(
    overlay: &Node,
    section: &str,
    hint: &'static str,
    diags: &mut Vec<Diagnostic>,
) {
    for label in entries(overlay, &["environment", section, "labels"]) {
        check_label(label, diags);
        if OWN_LABELS.contains(&label.key.as_str()) {
            diags.push(
                Diagnostic::error(
                    Code::RESERVED_LABEL,
                    label.key_span,
                    format!("label `{}` is one slipway sets itself", label.key),
                )
                .with_hint(hint),
            );
        }
    }
}

/// `environment.networkPolicy`'s pod labels become label selectors, whose
/// keys and values follow the rules of labels (apimachinery,
/// `ValidateLabelSelector`).
fn check_pod_labels(overlay: &Node, diags: &mut Vec<Diagnostic>) {
    for field in ["gatewayPods", "prometheusPods"] {
        for label in entries(overlay, &["environment", "networkPolicy", field]) {
            check_label(label, diags);
        }
    }
}

/// A valid label: a qualified name as key, a label value as value.
fn check_label(label: &crate::node::Entry, diags: &mut Vec<Diagnostic>) {
    key_rule(
        &label.key,
        label.key_span,
        "label key",
        names::qualified_name,
        diags,
    );
    let value = label.value.as_str().unwrap_or_default();
    if let Err(reason) = names::label_value(value) {
        diags.push(Diagnostic::error(
            Code::INVALID_NAME,
            label.value.span,
            format!("invalid label value `{value}` of `{}`: {reason}", label.key),
        ));
    }
}

/// `externalSecrets.store`, of the environment and of each region, names
/// a ClusterSecretStore: an object name, which `secretStoreRef.name` holds
/// to a DNS-1123 subdomain (the ExternalSecret CRD's pattern).
fn check_secret_stores(head: &OverlayHead, diags: &mut Vec<Diagnostic>) {
    let env = &head.environment;
    let settings = std::iter::once(&env.external_secrets)
        .chain(env.regions.iter().map(|r| &r.external_secrets))
        .flatten();
    for store in settings.filter_map(|setting| setting.value.store.as_ref()) {
        if let Err(reason) = names::dns1123_subdomain(&store.value) {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_NAME,
                    store.span,
                    format!("invalid ClusterSecretStore name `{}`: it {reason}", store.value),
                )
                .with_hint("name the ClusterSecretStore as it is in the cluster: lowercase letters, digits, `-` and `.`"),
            );
        }
    }
}

/// `environment.dataStores`: names, the regions they are in (the
/// environment's), DNS names as hosts, and one PostgreSQL writer, in the
/// primary region: Aurora's global database takes writes only in its
/// primary cluster, and an RDS instance's cross-region read replicas are
/// read-only (AWS, "Using Amazon Aurora global databases"; "Working with DB
/// instance read replicas").
fn check_data_stores(head: &OverlayHead, tree: &Node, diags: &mut Vec<Diagnostic>) {
    let env = &head.environment;
    let regions: Vec<&str> = env.regions.iter().map(|r| r.name.value.as_str()).collect();
    let primary = env.primary_region();
    for entry in entries(tree, &["environment", "dataStores"]) {
        key_rule(
            &entry.key,
            entry.key_span,
            "data store name",
            |n| names::dns1123_label(n, 63),
            diags,
        );
        for region in entries(&entry.value, &["regions"]) {
            known(
                &region.key,
                region.key_span,
                "region",
                &regions,
                &head.metadata.name.value,
                diags,
            );
        }
        let Some(store) = env.data_stores.get(&entry.key) else {
            continue;
        };
        check_data_store(&entry.key, store, primary, diags);
    }
}

fn check_data_store(
    name: &str,
    store: &Spanned<crate::input::DataStore>,
    primary: Option<&crate::input::Region>,
    diags: &mut Vec<Diagnostic>,
) {
    let raw = &store.value;
    for (region, endpoints) in &raw.regions {
        let hosts = [
            ("writer", &endpoints.value.writer),
            ("reader", &endpoints.value.reader),
        ];
        for (role, host) in hosts {
            let Some(host) = host else { continue };
            if let Err(reason) = names::dns1123_subdomain(&host.value) {
                diags.push(
                    Diagnostic::error(
                        Code::INVALID_NAME,
                        host.span,
                        format!("{role} `{}` of data store `{name}` in `{region}` is not a DNS name: it {reason}", host.value),
                    )
                    .with_hint("write the endpoint's DNS name, such as `orders.cluster-abc123.us-east-1.rds.amazonaws.com`"),
                );
            }
        }
    }
    if let Some(credentials) = &raw.credentials {
        let credentials = &credentials.value;
        if let Err(reason) = names::aws_secret_id(&credentials.store.value) {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_NAME,
                    credentials.store.span,
                    format!("the credentials of data store `{name}` are no Secrets Manager secret: `{}` {reason}", credentials.store.value),
                )
                .with_hint("write the secret's name (`orders/prod/db`) or its ARN"),
            );
        }
        let version = credentials.version.as_ref();
        if let Some((version, Err(reason))) =
            version.map(|v| (v, names::aws_secret_version(&v.value)))
        {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_VALUE,
                    version.span,
                    format!("`version` of the credentials of data store `{name}` {reason}"),
                )
                .with_hint(
                    "write a version stage (`AWSCURRENT`, `AWSPREVIOUS`) or `uuid/<version id>`",
                ),
            );
        }
    }
    match raw.kind.value {
        crate::input::StoreKind::Postgres => check_postgres_writer(name, store, primary, diags),
        crate::input::StoreKind::Redis => {
            if let Some(database) = &raw.database {
                diags.push(
                    Diagnostic::error(
                        Code::INVALID_VALUE,
                        database.span,
                        format!("`database` names a PostgreSQL database, but data store `{name}` is a Redis"),
                    )
                    .with_hint("remove `database`: a Redis client selects its numbered database itself"),
                );
            }
        }
    }
}

/// A PostgreSQL takes writes in one place, the primary region.
fn check_postgres_writer(
    name: &str,
    store: &Spanned<crate::input::DataStore>,
    primary: Option<&crate::input::Region>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(primary) = primary else { return };
    let primary_name = &primary.name.value;
    for (region, endpoints) in &store.value.regions {
        let Some(writer) = &endpoints.value.writer else {
            continue;
        };
        if region != primary_name {
            diags.push(
                Diagnostic::error(
                    Code::INVALID_WRITER,
                    writer.span,
                    format!("PostgreSQL data store `{name}` has a writer in `{region}`, which is not the primary region `{primary_name}`"),
                )
                .with_related(primary.name.span, "the primary region")
                .with_hint("a PostgreSQL has one writer, in the primary region; give other regions a `reader` (their replica), and services there write to the primary's writer"),
            );
        }
    }
    let entry = store.value.regions.get(primary_name);
    if entry.is_none_or(|e| e.value.writer.is_none()) {
        diags.push(
            Diagnostic::error(
                Code::INVALID_WRITER,
                entry.map_or(store.value.kind.span, |e| e.span),
                format!("PostgreSQL data store `{name}` has no writer in the primary region `{primary_name}`"),
            )
            .with_related(primary.name.span, "the primary region")
            .with_hint(format!("add `regions.{primary_name}.writer`: the cluster (writer) endpoint")),
        );
    }
}

fn check_regions(head: &OverlayHead, diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    let mut primary: Option<Span> = None;
    for region in &head.environment.regions {
        check_name(&region.name, "region name", 63, diags);
        check_name(&region.cluster, "cluster name", 253, diags);
        if let Some(first) = seen.insert(&region.name.value, region.name.span) {
            diags.push(
                Diagnostic::error(
                    Code::DUPLICATE_REGION,
                    region.name.span,
                    format!("region `{}` is listed twice", region.name.value),
                )
                .with_related(first, "first listed here"),
            );
        }
        if region.primary {
            if let Some(first) = primary {
                diags.push(
                    Diagnostic::error(
                        Code::SEVERAL_PRIMARY_REGIONS,
                        region.name.span,
                        "more than one primary region",
                    )
                    .with_related(first, "primary region")
                    .with_hint("mark exactly one region `primary: true`"),
                );
            }
            primary = Some(region.name.span);
        }
    }
}

/// An overlay's `policy:` may only configure rules that exist.
fn check_policy_ids(overlay: &Node, diags: &mut Vec<Diagnostic>) {
    for entry in entries(overlay, &["policy"]) {
        if Rule::from_id(&entry.key).is_none() {
            let diag = Diagnostic::error(
                Code::UNKNOWN_POLICY_RULE,
                entry.key_span,
                format!("unknown policy rule `{}`", entry.key),
            );
            diags.push(match did_you_mean(&entry.key, Rule::ids()) {
                Some(hint) => diag.with_hint(hint),
                None => diag.with_hint(format!(
                    "rules: {}",
                    Rule::ids().collect::<Vec<_>>().join(", ")
                )),
            });
        }
    }
}

/// Overlays may only name services and regions that exist.
fn check_overlay_references(
    overlay: &OverlayInput,
    named: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    let services: Vec<&str> = named.iter().map(String::as_str).collect();
    let regions = overlay.region_names();
    let mut service_keys: Vec<(&str, Span)> = entries(&overlay.tree, &["services"])
        .iter()
        .map(|e| (e.key.as_str(), e.key_span))
        .collect();
    for region in entries(&overlay.tree, &["regionOverrides"]) {
        known(
            &region.key,
            region.key_span,
            "region",
            &regions,
            overlay.name(),
            diags,
        );
        service_keys.extend(
            entries(&region.value, &["services"])
                .iter()
                .map(|e| (e.key.as_str(), e.key_span)),
        );
    }
    for region in &overlay.head.environment.regions {
        for only in region.only.iter().flatten() {
            service_keys.push((&only.value, only.span));
        }
    }
    // The set first: an overlay may name each of thousands of services,
    // and `known` scans its list.
    for (name, span) in service_keys {
        if !named.contains(name) {
            known(name, span, "service", &services, overlay.name(), diags);
        }
    }
}

fn known(
    name: &str,
    span: Span,
    what: &str,
    names: &[&str],
    env: &str,
    diags: &mut Vec<Diagnostic>,
) {
    if names.contains(&name) {
        return;
    }
    let mut diag = Diagnostic::error(
        Code::UNKNOWN_REFERENCE,
        span,
        format!("unknown {what} `{name}` in environment `{env}`"),
    );
    diag = match did_you_mean(name, names.iter().copied()) {
        Some(hint) => diag.with_hint(hint),
        None if what == "service" => {
            diag.with_hint("overlays may only patch services that have a blueprint")
        }
        None => diag.with_hint(format!("known regions: {}", names.join(", "))),
    };
    diags.push(diag);
}
