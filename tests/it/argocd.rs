//! What Argo CD needs from the rendered tree: every Application's path is a
//! folder of the tree, every destination a declared cluster, prod syncs by
//! hand, and canary weights are ignored exactly where Rollouts rewrites them;
//! one folder to apply registers everything, a fresh cluster syncs in order
//! (projects, namespaces, then services), every Application retries, and
//! every object is allowed by the project of the Application that syncs it.
//!
//! The sync model is read from the rendered documents (the bytes Argo CD
//! gets), parsed as YAML, not from slipway's typed objects.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use slipway::compile::{Selection, open};
use slipway::crd::argocd::AppProject;
use slipway::lower::{Kind, Object};
use slipway::node::{Node, Value};
use slipway::source::{FileId, SourceFile};

use crate::rendering::render;
use crate::support::root;

/// Argo CD's namespace in the example platform (the default).
const ARGOCD_NAMESPACE: &str = "argocd";
/// Where the example platform's overlays publish the tree.
const TREE: &str = "rendered/";

#[test]
fn applications_point_at_rendered_folders_and_declared_clusters() {
    let (project, diags) = open(root()).expect("opens");
    assert!(diags.is_empty(), "{diags:?}");
    let rendered = render(&project, &Selection::default());
    let files = &rendered.files;
    let declared: BTreeSet<String> = project
        .inputs
        .overlays
        .values()
        .flat_map(|o| {
            o.head
                .environment
                .regions
                .iter()
                .map(|r| r.cluster.value.clone())
        })
        .collect();
    let objects = || rendered.objects.values().map(|r| &r.object);
    let mut synced = BTreeSet::new();
    for object in objects() {
        let Object::Application(app) = object else {
            continue;
        };
        let folder = app
            .spec
            .source
            .path
            .strip_prefix(TREE)
            .expect("under rendered/")
            .to_owned()
            + "/";
        assert!(
            files.keys().any(|path| path.starts_with(&folder)),
            "{folder} is a folder of the tree"
        );
        assert!(synced.insert(folder.clone()), "{folder} is synced once");
        let name = app.metadata.name.as_deref().unwrap_or_default();
        let policy = app.spec.sync_policy.as_ref().expect("a sync policy");
        if folder.contains("/_argocd/") {
            // The root (and under staged promotion each region's root)
            // registers Applications everywhere; in prod it never deletes
            // one (and with it a service) without a human.
            let automated = policy.automated.as_ref().expect("the root syncs itself");
            assert!(automated.self_heal, "{name}");
            assert_eq!(automated.prune, !name.starts_with("prod."), "{name}");
            continue;
        }
        let cluster_name = app.spec.destination.name.clone().unwrap_or_default();
        assert!(
            declared.contains(&cluster_name),
            "{cluster_name} is declared"
        );
        assert_eq!(
            policy.automated.is_some(),
            !name.starts_with("prod."),
            "{name}: automated sync in dev and staging only"
        );
        // The routes of the Application's own cluster: `<env>/<region>/`.
        let cluster = folder.splitn(3, '/').take(2).collect::<Vec<_>>().join("/") + "/";
        for ignore in &app.spec.ignore_differences {
            let route = rendered
                .objects
                .iter()
                .filter(|(path, _)| path.starts_with(&cluster))
                .find_map(|(_, r)| match &r.object {
                    Object::VirtualService(vs)
                        if vs.metadata.name.as_deref() == Some(&ignore.name)
                            && vs.metadata.namespace.as_deref() == Some(&ignore.namespace) =>
                    {
                        Some(vs)
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{name} ignores weights of a rendered VirtualService"));
            // The routes Argo Rollouts adds during a rollout: a Rollout's
            // managed routes, ignored whole.
            let managed: Vec<String> = rendered
                .objects
                .iter()
                .filter(|(path, _)| path.starts_with(&cluster))
                .filter_map(|(_, r)| match &r.object {
                    Object::Rollout(rollout) => Some(rollout),
                    _ => None,
                })
                .flat_map(|r| &r.spec.strategy.canary.traffic_routing.managed_routes)
                .map(|m| format!(r#".spec.http[] | select(.name == "{}")"#, m.name))
                .collect();
            for expression in &ignore.jq_path_expressions {
                assert!(
                    route
                        .spec
                        .http
                        .iter()
                        .any(|h| expression.contains(&format!("\"{}\"", h.name)))
                        || managed.contains(expression),
                    "{expression}"
                );
            }
        }
    }
    // Every folder outside `_bootstrap/` is synced by exactly one
    // Application; `_bootstrap/` is applied by hand and synced by none (the
    // root would otherwise sync, and could prune, itself).
    let folders: BTreeSet<String> = files
        .keys()
        .filter(|path| !path.contains("/_bootstrap/"))
        .map(|path| path[..=path.rfind('/').expect("a folder")].to_owned())
        .collect();
    assert_eq!(synced, folders);
}

#[test]
fn projects_allow_exactly_their_teams_destinations() {
    let (project, _) = open(root()).expect("opens");
    let selection = Selection {
        env: Some("prod".into()),
        ..Selection::default()
    };
    let rendered = render(&project, &selection);
    let objects: Vec<&Object> = rendered.objects.values().map(|r| &r.object).collect();
    for object in &objects {
        let Object::Application(app) = object else {
            continue;
        };
        let project = objects
            .iter()
            .find_map(|o| match o {
                Object::AppProject(p) if p.metadata.name.as_deref() == Some(&app.spec.project) => {
                    Some(p)
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("project {} is rendered", app.spec.project));
        assert!(
            project.spec.destinations.contains(&app.spec.destination),
            "{:?} allowed",
            app.spec.destination
        );
        assert!(
            project
                .spec
                .source_repos
                .contains(&app.spec.source.repo_url)
        );
    }
}

/// Argo CD's own rule (`AppProject.IsGroupKindNamePermitted` in
/// argoproj/argo-cd `pkg/apis/application/v1alpha1/app_project_types.go`):
/// a cluster-scoped kind must be in `clusterResourceWhitelist`; a namespaced
/// kind must be in `namespaceResourceWhitelist`, which allows everything only
/// when it is absent altogether (slipway always writes it).
fn permitted(project: &AppProject, group: &str, kind: &str, namespaced: bool) -> bool {
    let list = if namespaced {
        &project.spec.namespace_resource_whitelist
    } else {
        &project.spec.cluster_resource_whitelist
    };
    list.iter().any(|gk| gk.group == group && gk.kind == kind)
}

#[test]
fn every_rendered_object_is_allowed_by_the_project_that_syncs_it() {
    let (project, _) = open(root()).expect("opens");
    let rendered = render(&project, &Selection::default());
    let objects = || rendered.objects.values().map(|r| &r.object);
    let projects: BTreeMap<&str, &AppProject> = objects()
        .filter_map(|o| match o {
            Object::AppProject(p) => Some((p.metadata.name.as_deref().unwrap_or_default(), p)),
            _ => None,
        })
        .collect();
    // Each Application syncs one folder: `rendered/<env>/<region>/<owner>`,
    // or, for an environment's root, `rendered/<env>/_argocd`.
    let synced_by: BTreeMap<String, (&AppProject, _)> = objects()
        .filter_map(|o| match o {
            Object::Application(app) => Some((
                app.spec.source.path.trim_start_matches(TREE).to_owned() + "/",
                (
                    projects[app.spec.project.as_str()],
                    app.spec.destination.clone(),
                ),
            )),
            _ => None,
        })
        .collect();
    let mut checked = BTreeSet::new();
    for (path, text) in &rendered.files {
        if path.contains("/_bootstrap/") {
            continue; // applied by hand, not synced by a project
        }
        let folder = &path[..=path.rfind('/').expect("a folder")];
        let (project, destination) = synced_by
            .get(folder)
            .unwrap_or_else(|| panic!("an Application syncs {folder}"));
        let project_name = project.metadata.name.as_deref().unwrap_or_default();
        // Read the type from the document itself, not from slipway's registry.
        let document = Document::parse(path, text);
        let group = document.group();
        let namespace = document.get(&["metadata", "namespace"]);
        assert!(
            permitted(project, group, &document.kind, namespace.is_some()),
            "{path}: {} ({}) is not allowed by AppProject `{project_name}`",
            document.kind,
            document.api_version
        );
        // A namespaced object goes to its own namespace on the
        // Application's cluster, which the project must allow too.
        if let Some(namespace) = namespace {
            let target = slipway::crd::argocd::Destination {
                namespace: namespace.to_owned(),
                ..destination.clone()
            };
            assert!(
                project.spec.destinations.contains(&target),
                "{path}: namespace `{namespace}` is not a destination of `{project_name}`"
            );
        }
        checked.insert(document.kind.clone());
    }
    // Every kind slipway can render appears in the example, in a synced folder.
    let renderable: BTreeSet<String> = Kind::ALL.iter().map(|k| k.name().to_owned()).collect();
    assert_eq!(checked, renderable);
}

/// One rendered document as Argo CD reads it.
struct Document {
    path: String,
    api_version: String,
    kind: String,
    name: String,
    node: Node,
}

impl Document {
    fn parse(path: &str, text: &str) -> Document {
        let file = SourceFile::new(path.to_owned(), PathBuf::from(path), text.to_owned());
        let node = slipway::parse::parse(&file, FileId(0)).expect("rendered YAML parses");
        let field = |key: &str| {
            node.get(key)
                .and_then(Node::as_str)
                .unwrap_or_else(|| panic!("{path} has `{key}`"))
                .to_owned()
        };
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        let name = node
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Node::as_str)
            .unwrap_or_else(|| panic!("{path} has a name"))
            .to_owned();
        Document {
            path: path.to_owned(),
            api_version,
            kind,
            name,
            node,
        }
    }

    fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// The node at `keys`, if every step is there.
    fn node(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(&self.node, |node, key| node.get(key))
    }

    /// The string at `keys`.
    fn get(&self, keys: &[&str]) -> Option<&str> {
        self.node(keys).and_then(Node::as_str)
    }

    /// The strings of the list at `keys` (empty if there is none).
    fn list(&self, keys: &[&str]) -> Vec<&str> {
        match self.node(keys).map(|n| &n.value) {
            Some(Value::Seq(items)) => items.iter().filter_map(Node::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The number at `keys`, as written.
    fn number(&self, keys: &[&str]) -> Option<i64> {
        match self.node(keys).map(|n| &n.value) {
            Some(Value::Scalar(s)) => s.text.parse().ok(),
            _ => None,
        }
    }

    /// `argocd.argoproj.io/sync-wave`, 0 when absent (Argo CD's default).
    fn wave(&self) -> i64 {
        self.get(&["metadata", "annotations", "argocd.argoproj.io/sync-wave"])
            .map_or(0, |w| w.parse().expect("a wave is an integer"))
    }

    /// The folder of the tree an Application syncs.
    fn synced_folder(&self) -> String {
        let path = self
            .get(&["spec", "source", "path"])
            .expect("a source path");
        path.strip_prefix(TREE).expect("under rendered/").to_owned() + "/"
    }
}

/// One environment's rendered documents, parsed.
fn environment(env: &str) -> Vec<Document> {
    let (project, _) = open(root()).expect("opens");
    let selection = Selection {
        env: Some(env.into()),
        ..Selection::default()
    };
    render(&project, &selection)
        .files
        .iter()
        .map(|(path, text)| Document::parse(path, text))
        .collect()
}

fn in_folder<'a>(docs: &'a [Document], folder: &str) -> Vec<&'a Document> {
    docs.iter()
        .filter(|d| {
            d.path
                .strip_prefix(folder)
                .is_some_and(|f| !f.contains('/'))
        })
        .collect()
}

/// What `kubectl apply -f <env>/_bootstrap/` creates: the root Application
/// and its project.
fn bootstrap<'a>(docs: &'a [Document], env: &str) -> (&'a Document, &'a Document) {
    let folder = in_folder(docs, &format!("{env}/_bootstrap/"));
    let kinds: BTreeSet<&str> = folder.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(folder.len(), 2, "{env}/_bootstrap/");
    assert_eq!(kinds, BTreeSet::from(["AppProject", "Application"]));
    let of = |kind: &str| folder.iter().copied().find(|d| d.kind == kind);
    (
        of("Application").expect("the root"),
        of("AppProject").expect("its project"),
    )
}

/// The order in which Argo CD applies a folder in one sync: by wave, and
/// within a wave by kind (Application and AppProject are not in Argo CD's
/// kind order, so they tie) and name (gitops-engine `syncTasks.Less`).
/// Each wave waits for the health of the one before.
fn waves<'a>(folder: &[&'a Document]) -> BTreeMap<i64, Vec<&'a Document>> {
    let mut out: BTreeMap<i64, Vec<&Document>> = BTreeMap::new();
    for doc in folder {
        out.entry(doc.wave()).or_default().push(doc);
    }
    for docs in out.values_mut() {
        docs.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

#[test]
fn applying_the_bootstrap_registers_everything_and_the_root_syncs_only_argo_cd_objects() {
    for env in ["dev", "staging", "prod"] {
        let docs = environment(env);
        let (root, project) = bootstrap(&docs, env);
        assert_eq!(root.name, format!("{env}.root"));
        assert_eq!(root.get(&["spec", "project"]), Some(project.name.as_str()));
        // The root syncs `_argocd/` into Argo CD's own namespace on Argo
        // CD's own cluster, and never its own folder.
        assert_eq!(root.synced_folder(), format!("{env}/_argocd/"));
        assert_eq!(
            root.get(&["spec", "destination", "server"]),
            Some("https://kubernetes.default.svc")
        );
        assert_eq!(
            root.get(&["spec", "destination", "namespace"]),
            Some(ARGOCD_NAMESPACE)
        );
        // Deleting the root by accident must not delete the environment.
        assert!(root.list(&["metadata", "finalizers"]).is_empty());
        // Its project: that one destination, no cluster-scoped kinds, and
        // exactly the kinds of the root's folder.
        let destinations = project
            .node(&["spec", "destinations"])
            .expect("destinations");
        let Value::Seq(destinations) = &destinations.value else {
            panic!("a list");
        };
        assert_eq!(destinations.len(), 1);
        assert!(
            project
                .node(&["spec", "clusterResourceWhitelist"])
                .is_none()
        );
        let allowed: BTreeSet<(String, String)> = match project
            .node(&["spec", "namespaceResourceWhitelist"])
            .map(|n| &n.value)
        {
            Some(Value::Seq(items)) => items
                .iter()
                .map(|gk| {
                    let text = |k: &str| gk.get(k).and_then(Node::as_str).unwrap_or("").to_owned();
                    (text("group"), text("kind"))
                })
                .collect(),
            _ => panic!("{env}: the root's project lists the kinds it allows"),
        };
        let synced = in_folder(&docs, &root.synced_folder());
        let kinds: BTreeSet<(String, String)> = synced
            .iter()
            .map(|d| (d.group().to_owned(), d.kind.clone()))
            .collect();
        assert_eq!(
            allowed, kinds,
            "{env}: the root's project allows its folder"
        );
        // Every object there lands in the root's destination namespace, and
        // the root's folder registers every project and Application.
        for doc in &synced {
            assert_eq!(
                doc.get(&["metadata", "namespace"]),
                Some(ARGOCD_NAMESPACE),
                "{}",
                doc.path
            );
        }
        // Under staged promotion, the region roots in the root's folder
        // register their regions' Applications, each from its own folder.
        let mut reached = synced.len();
        let region_roots = synced
            .iter()
            .filter(|d| d.kind == "Application" && d.synced_folder().contains("/_argocd/"));
        for region_root in region_roots {
            assert_eq!(
                region_root.get(&["spec", "project"]),
                Some(project.name.as_str())
            );
            let region = in_folder(&docs, &region_root.synced_folder());
            assert!(!region.is_empty(), "{}", region_root.name);
            for doc in &region {
                assert_eq!(doc.kind, "Application", "{}", doc.path);
                assert_eq!(doc.get(&["metadata", "namespace"]), Some(ARGOCD_NAMESPACE));
            }
            reached += region.len();
        }
        let registered = docs.iter().filter(|d| {
            !d.path.contains("/_bootstrap/") && (d.kind == "Application" || d.kind == "AppProject")
        });
        assert_eq!(registered.count(), reached, "{env}");
    }
}

#[test]
fn a_fresh_cluster_syncs_projects_then_namespaces_then_what_lives_in_them() {
    let docs = environment("dev");
    let (root, _) = bootstrap(&docs, "dev");
    let waves = waves(&in_folder(&docs, &root.synced_folder()));
    let names = |wave: i64| -> Vec<&str> { waves[&wave].iter().map(|d| d.name.as_str()).collect() };
    assert_eq!(waves.keys().copied().collect::<Vec<_>>(), [-2, -1, 0]);
    assert_eq!(
        names(-2),
        [
            "dev.shared",
            "dev.team.commerce",
            "dev.team.data",
            "dev.team.ml",
            "dev.team.payments",
            "dev.team.platform",
            "dev.team.storefront"
        ],
        "first every project"
    );
    assert_eq!(
        names(-1),
        [
            "dev.us-east-1.namespace.commerce-dev",
            "dev.us-east-1.namespace.data-dev",
            "dev.us-east-1.namespace.ml-dev",
            "dev.us-east-1.namespace.payments-dev",
            "dev.us-east-1.namespace.platform-dev",
            "dev.us-east-1.namespace.storefront-dev"
        ],
        "then the namespaces"
    );
    assert_eq!(
        names(0),
        [
            "dev.us-east-1.analytics",
            "dev.us-east-1.api-gateway",
            "dev.us-east-1.catalog",
            "dev.us-east-1.checkout",
            "dev.us-east-1.feature-flags",
            "dev.us-east-1.ml-inference",
            "dev.us-east-1.order-worker",
            "dev.us-east-1.orders",
            "dev.us-east-1.payments",
            "dev.us-east-1.routes.gateway",
            "dev.us-east-1.web"
        ],
        "then what lives in them"
    );
}

#[test]
fn where_applications_sync_themselves_a_namespace_comes_before_everything_in_it() {
    for env in ["dev", "staging"] {
        let docs = environment(env);
        let (root, _) = bootstrap(&docs, env);
        let synced = in_folder(&docs, &root.synced_folder());
        let apps: Vec<&&Document> = synced.iter().filter(|d| d.kind == "Application").collect();
        let project_wave = synced
            .iter()
            .filter(|d| d.kind == "AppProject")
            .map(|d| d.wave())
            .max()
            .expect("projects");
        let destination = |d: &Document| {
            (
                d.get(&["spec", "destination", "name"]).map(str::to_owned),
                d.get(&["spec", "destination", "namespace"])
                    .map(str::to_owned),
            )
        };
        for app in &apps {
            assert!(
                app.wave() > project_wave,
                "{}: after the projects",
                app.name
            );
            // A namespace's Application renders the Namespace object.
            let creates_namespace = in_folder(&docs, &app.synced_folder())
                .iter()
                .any(|d| d.kind == "Namespace");
            if !creates_namespace {
                continue;
            }
            for other in &apps {
                if other.name != app.name && destination(other) == destination(app) {
                    assert!(
                        app.wave() < other.wave(),
                        "{}: namespace before {}",
                        app.name,
                        other.name
                    );
                }
            }
        }
    }
}

#[test]
fn where_a_human_syncs_the_root_has_one_step() {
    // A wave waits for the health of the one before, and an Application
    // nobody synced is never healthy: with waves the root's sync would wait
    // forever in prod, and register nothing after the first wave.
    let docs = environment("prod");
    let (root, _) = bootstrap(&docs, "prod");
    let waves = waves(&in_folder(&docs, &root.synced_folder()));
    assert_eq!(waves.keys().copied().collect::<Vec<_>>(), [0]);
}

#[test]
fn every_application_retries_with_backoff() {
    for env in ["dev", "staging", "prod"] {
        for app in environment(env).iter().filter(|d| d.kind == "Application") {
            let retry = |key: &str| app.get(&["spec", "syncPolicy", "retry", "backoff", key]);
            let limit = app
                .number(&["spec", "syncPolicy", "retry", "limit"])
                .unwrap_or_else(|| panic!("{} retries", app.path));
            let factor = app
                .number(&["spec", "syncPolicy", "retry", "backoff", "factor"])
                .expect("a factor");
            let seconds = |text: &str| -> f64 {
                let (n, unit) = text.split_at(text.len() - 1);
                let n: f64 = n.parse().expect("a number");
                match unit {
                    "s" => n,
                    "m" => n * 60.0,
                    _ => panic!("unit of {text}"),
                }
            };
            let duration = seconds(retry("duration").expect("a duration"));
            let max = seconds(retry("maxDuration").expect("a maxDuration"));
            // Argo CD waits `duration * factor^n`, at most `maxDuration`,
            // before retry n (`RetryStrategy.NextRetryAt`).
            let waits: Vec<f64> = (0..limit)
                .map(|n| (duration * (factor as f64).powi(n as i32)).min(max))
                .collect();
            assert_eq!(waits, [10.0, 20.0, 40.0, 80.0, 160.0], "{}", app.path);
        }
    }
}

#[test]
fn service_applications_prune_last() {
    for env in ["dev", "staging", "prod"] {
        let docs = environment(env);
        for app in docs.iter().filter(|d| d.kind == "Application") {
            let folder = app.synced_folder();
            let options = app.list(&["spec", "syncPolicy", "syncOptions"]);
            // A service folder is the only one with a content-hashed
            // ConfigMap and the workloads that mount it.
            let service = in_folder(&docs, &folder)
                .iter()
                .any(|d| d.kind == "ServiceAccount");
            assert_eq!(
                options.contains(&"PruneLast=true"),
                service,
                "{}: {options:?}",
                app.path
            );
        }
    }
}

/// Argo CD's label tracking writes an Application's name into the
/// `app.kubernetes.io/instance` label (at most 63 characters) of all it
/// syncs, so long names are shortened, and stay distinct.
#[test]
fn application_names_fit_the_instance_label_and_stay_distinct() {
    let case = root().join("tests/fixtures/cases/application-names-under-the-label-limit");
    let dir = crate::support::project(&case);
    let (project, _) = open(dir.path()).expect("opens");
    let selection = Selection {
        env: Some("dev".into()),
        ..Selection::default()
    };
    let names: Vec<String> = render(&project, &selection)
        .files
        .iter()
        .map(|(path, text)| Document::parse(path, text))
        .filter(|d| d.kind == "Application")
        .map(|d| d.get(&["metadata", "name"]).expect("a name").to_owned())
        .collect();
    let long = names
        .iter()
        .filter(|n| n.contains("storefront-recommendations"));
    assert_eq!(long.count(), 2, "one per region: {names:?}");
    for name in &names {
        assert!(name.len() <= 63, "`{name}` is {} characters", name.len());
    }
    let distinct: BTreeSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), names.len(), "{names:?}");
}

/// Environments usually share one Argo CD, so their projects and
/// Applications meet in its namespace: every Argo CD object of every
/// environment is one of its own. The case's teams would have given two
/// environments one `<team>-<env>` project (`a-b` in `dev`, `a` in
/// `b-dev`) and a team the name of another environment's shared or root
/// project; its service and region named `root` and `namespace` are parts
/// of Application names that mean something else elsewhere.
#[test]
fn argo_cd_objects_are_unique_across_environments_that_share_an_argo_cd() {
    let case = root().join("tests/fixtures/cases/argocd-names-across-environments");
    let scratch = crate::support::project(&case);
    for dir in [root(), scratch.path()] {
        let (project, diags) = open(dir).expect("opens");
        assert!(diags.is_empty(), "{diags:?}");
        let docs: Vec<Document> = render(&project, &Selection::default())
            .files
            .iter()
            .map(|(path, text)| Document::parse(path, text))
            .collect();
        let argo_cd = docs
            .iter()
            .filter(|d| d.path.contains("/_argocd/") || d.path.contains("/_bootstrap/"));
        let mut seen = BTreeSet::new();
        for doc in argo_cd {
            let namespace = doc.get(&["metadata", "namespace"]).expect("namespaced");
            let identity = (doc.kind.as_str(), namespace, doc.name.as_str());
            assert!(seen.insert(identity), "{identity:?} is rendered twice");
            // Object names hold 253 characters; an Application's name also
            // goes into the instance label, which holds 63.
            let limit = if doc.kind == "Application" { 63 } else { 253 };
            assert!(doc.name.len() <= limit, "{}", doc.name);
            // The first part of every name is its environment.
            let env = doc.path.split('/').next().expect("<env>/...");
            assert!(doc.name.starts_with(&format!("{env}.")), "{}", doc.path);
        }
        assert!(seen.len() > 2, "{}: Argo CD objects", dir.display());
    }
    let (project, _) = open(scratch.path()).expect("opens");
    let projects: BTreeSet<String> = render(&project, &Selection::default())
        .objects
        .values()
        .filter_map(|r| match &r.object {
            Object::AppProject(p) => p.metadata.name.clone(),
            _ => None,
        })
        .collect();
    let expected = [
        "b-dev.root",
        "b-dev.shared",
        "b-dev.team.a",
        "b-dev.team.root",
        "b-dev.team.slipway",
        "dev.root",
        "dev.shared",
        "dev.team.a-b",
        "dev.team.root",
        "dev.team.slipway-b",
        "root.root",
        "root.shared",
        "root.team.root",
        "root.team.shared",
        "root.team.slipway-dev",
    ];
    assert_eq!(projects, expected.map(String::from).into());
}

/// The regions' Applications of `env`, by the folder of `_argocd/` they
/// are in (`""`: the root's own).
fn applications_by_folder<'a>(
    docs: &'a [Document],
    env: &str,
) -> BTreeMap<String, Vec<&'a Document>> {
    let mut out: BTreeMap<String, Vec<&Document>> = BTreeMap::new();
    for doc in docs.iter().filter(|d| d.kind == "Application") {
        if let Some(rest) = doc.path.strip_prefix(&format!("{env}/_argocd/")) {
            let folder = rest.rsplit_once('/').map_or("", |(f, _)| f);
            out.entry(folder.to_owned()).or_default().push(doc);
        }
    }
    out
}

#[test]
fn under_staged_promotion_each_region_reads_its_own_branch_and_moves_its_applications_with_it() {
    let docs = environment("prod");
    let (root, _) = bootstrap(&docs, "prod");
    assert_eq!(
        root.get(&["spec", "source", "targetRevision"]),
        Some("main")
    );
    let folders = applications_by_folder(&docs, "prod");
    let regions = ["ap-southeast-1", "eu-west-1", "us-east-1"];
    assert_eq!(
        folders.keys().map(String::as_str).collect::<Vec<_>>(),
        [&[""][..], &regions[..]].concat(),
        "the root's folder and one per region"
    );
    // The root registers exactly the three region roots, each reading its
    // region's folder of `_argocd/` at its region's branch.
    let roots: BTreeMap<String, String> = folders[""]
        .iter()
        .map(|d| {
            let revision = d.get(&["spec", "source", "targetRevision"]);
            (d.name.clone(), revision.unwrap_or_default().to_owned())
        })
        .collect();
    let expected: BTreeMap<String, String> = regions
        .iter()
        .map(|r| {
            (
                format!("prod.{r}.region.root"),
                format!("slipway/promotion/prod/{r}"),
            )
        })
        .collect();
    assert_eq!(roots, expected);
    for region_root in &folders[""] {
        let region = region_root.name.split('.').nth(1).expect("a region");
        assert_eq!(
            region_root.synced_folder(),
            format!("prod/_argocd/{region}/")
        );
        assert!(
            region_root.list(&["metadata", "finalizers"]).is_empty(),
            "deleting it leaves the region running"
        );
    }
    // Every Application of a region reads the region's branch and deploys
    // to the region's cluster, from a folder of the region.
    for region in regions {
        let apps = &folders[region];
        assert!(apps.len() > 3, "{region}: {}", apps.len());
        for app in apps {
            assert_eq!(
                app.get(&["spec", "source", "targetRevision"]),
                Some(format!("slipway/promotion/prod/{region}").as_str()),
                "{}",
                app.path
            );
            assert!(
                app.name.starts_with(&format!("prod.{region}.")),
                "{}",
                app.name
            );
            assert!(
                app.synced_folder().starts_with(&format!("prod/{region}/")),
                "{}",
                app.path
            );
            assert_eq!(
                app.get(&["spec", "destination", "name"]),
                Some(format!("prod-{region}").as_str())
            );
        }
    }
}

#[test]
fn without_staged_promotion_every_application_reads_the_target_revision() {
    for env in ["dev", "staging"] {
        let docs = environment(env);
        let folders = applications_by_folder(&docs, env);
        assert_eq!(
            folders.keys().collect::<Vec<_>>(),
            [""],
            "{env}: no region folders"
        );
        let (root, _) = bootstrap(&docs, env);
        let revision = root.get(&["spec", "source", "targetRevision"]);
        for app in &folders[""] {
            assert_eq!(
                app.get(&["spec", "source", "targetRevision"]),
                revision,
                "{}",
                app.path
            );
        }
    }
}
