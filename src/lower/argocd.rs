//! Argo CD: per environment, an AppProject per team (its clusters and
//! namespaces, the kinds slipway renders), a shared project for namespaces
//! and gateway routes, and one Application per rendered folder, so every
//! Application's path is a folder of the published tree and every
//! destination a declared cluster. Those live in `<env>/_argocd/`; the root
//! Application that syncs that folder (app of apps), and the project it
//! needs, live in `<env>/_bootstrap/`, applied by hand and synced by nothing.
//!
//! Under staged promotion (`argocd.promotion`), each region's Applications
//! live in `<env>/_argocd/<region>/` and read the region's branch, and the
//! root registers a region root per region that syncs that folder at that
//! branch: a region's Applications move with its tree.
//!
//! A fresh cluster syncs without a human retrying: where the Applications
//! sync themselves, the root creates them in waves (projects, then
//! namespaces, then the services and routes that live in them), and every
//! Application retries a failed sync with backoff.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::mesh::{gateway_route_name, route_name};
use super::meta::managed_by;
use super::{Folder, Kind, Object, Owner, Rendered, Scope, owned};
use crate::crd::argocd::{
    AppProject, AppProjectSpec, Application, ApplicationSpec, Automated, Backoff, Destination,
    GroupKind, IgnoreDifference, Retry, Source, SyncPolicy,
};
use crate::model::{Cluster, Environment, GitOps, Service, is_http};
use crate::names::derived_name;

/// Argo CD's cascading-delete finalizer.
const RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// The annotation that orders a sync in waves, lowest first.
const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

/// The root's waves: the projects, then the namespaces' Applications, then
/// the Applications of what lives in those namespaces.
const PROJECT_WAVE: &str = "-2";
const NAMESPACE_WAVE: &str = "-1";
const SERVICE_WAVE: &str = "0";
/// Under staged promotion the root holds the projects and the region roots,
/// which come after the projects their Applications name.
const REGION_WAVE: &str = "-1";

/// The cluster Argo CD runs in, as Argo CD names its own API server.
const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// Prune what left Git only after everything else synced and is healthy:
/// an old content-hashed ConfigMap outlives the rollout away from it.
const PRUNE_LAST: &str = "PruneLast=true";

/// Retries of a failed sync: 5 more attempts, waiting 10s, 20s, 40s, 80s
/// and 160s (about five minutes in all), for what a fresh cluster may not
/// have yet (a namespace another Application creates, a webhook starting).
fn retry() -> Retry {
    Retry {
        limit: 5,
        backoff: Backoff {
            duration: "10s".into(),
            factor: 2,
            max_duration: "3m".into(),
        },
    }
}

/// Every Argo CD object of one environment, given all its clusters: the
/// bootstrap first, then what the root syncs.
pub fn environment(env: &Environment, clusters: &[Cluster]) -> Vec<Rendered> {
    let Some(gitops) = &env.gitops else {
        return Vec::new();
    };
    let mut objects: Vec<Object> = projects(env, gitops, clusters)
        .into_iter()
        .map(Object::AppProject)
        .collect();
    let mut regional = Vec::new();
    for cluster in clusters {
        let apps = applications(env, gitops, cluster)
            .into_iter()
            .map(|a| Object::Application(Box::new(a)));
        if gitops.promotion.is_some() {
            objects.push(Object::Application(Box::new(region_root(
                env,
                gitops,
                &cluster.region,
            ))));
            let owner = Owner::RegionArgoCd(cluster.region.clone());
            regional.extend(owned(owner, env.namespace_origin, apps.collect()));
        } else {
            objects.extend(apps);
        }
    }
    let mut out = owned(
        Owner::Bootstrap,
        env.namespace_origin,
        bootstrap(env, gitops),
    );
    out.extend(owned(Owner::ArgoCd, env.namespace_origin, objects));
    out.extend(regional);
    out
}

/// A region root's name: `<env>.<region>.region.root`, four parts whose
/// third, `region`, no other four-part name has (`namespace`, `routes`).
pub fn region_root_name(env: &str, region: &str) -> String {
    derived_name(
        &format!("{env}.{region}.region.root"),
        "",
        APPLICATION_NAME_LIMIT,
    )
}

/// Under staged promotion, the Application that registers one region's
/// Applications: it syncs `<path>/<env>/_argocd/<region>` at the region's
/// branch, so a region's Applications (a new service's among them) move
/// with the region's tree, never ahead of it. It is itself registered by
/// the root, which reads `_argocd/` without descending into the regions'
/// folders (a directory source is not recursive unless it says so:
/// argoproj/argo-cd `docs/user-guide/directory.md`). Like the root, it
/// syncs automatically with self-heal, prunes only where the environment
/// syncs automatically, and has no cascading-delete finalizer: deleting it
/// (or turning promotion off) leaves the region running.
fn region_root(env: &Environment, gitops: &GitOps, region: &str) -> Application {
    Application {
        metadata: synced_meta(gitops, region_root_name(&env.name, region), REGION_WAVE),
        spec: ApplicationSpec {
            project: root_project(env),
            source: Source {
                repo_url: gitops.repo_url.clone(),
                target_revision: gitops.revision_of(&env.name, region),
                path: gitops.path_of(&format!(
                    "{}/{}",
                    env.name,
                    Owner::RegionArgoCd(region.to_owned()).dir()
                )),
            },
            destination: Destination {
                name: None,
                server: Some(IN_CLUSTER.into()),
                namespace: gitops.namespace.clone(),
            },
            sync_policy: Some(root_sync_policy(gitops, true)),
            ignore_differences: Vec::new(),
        },
    }
}

/// The sync of an Application that registers Applications: automated with
/// self-heal everywhere, pruning only where the environment syncs itself
/// and `may_prune`; the retries.
///
/// Under staged promotion the root never prunes by itself. Turning
/// promotion on moves every region's Applications out of the root's folder
/// into its region root's, under the same names; the root would prune them
/// in the very sync that creates the region roots, before any region root
/// has adopted them (with annotation tracking, an object belongs to the
/// Application its `argocd.argoproj.io/tracking-id` names: argo-cd
/// `docs/user-guide/resource_tracking.md`), and their cascading-delete
/// finalizers would take every service down with them. Without pruning,
/// each region root adopts its Applications when it first syncs. (Turning
/// promotion off is safe either way: a region root has no finalizer, so
/// pruning it leaves its Applications, which the root adopts.)
fn root_sync_policy(gitops: &GitOps, may_prune: bool) -> SyncPolicy {
    SyncPolicy {
        automated: Some(Automated {
            prune: gitops.automated && may_prune,
            self_heal: true,
        }),
        sync_options: Vec::new(),
        retry: Some(retry()),
    }
}

/// Argo CD's label tracking (the default before Argo CD 3.0, and part of
/// `annotation+label`) writes an Application's name into the
/// `app.kubernetes.io/instance` label of everything it syncs, and a label
/// value holds at most 63 characters (argo-cd
/// `docs/user-guide/resource_tracking.md`: longer names are truncated, so
/// two Applications could claim the same objects). Longer names are
/// shortened to a readable prefix and a hash of the whole name.
///
/// Application names cannot meet, in an environment or across those that
/// share an Argo CD: every part is a DNS-1123 label (no dots), the first is
/// the environment, and the number of parts and the third say what the
/// Application syncs: `<env>.root` (two), `<env>.<region>.<service>`
/// (three), `<env>.<region>.namespace.<ns>` and
/// `<env>.<region>.routes.gateway` (four), so a service or region named
/// `root`, `namespace` or `routes` changes nothing. A shortened name ends
/// in the hash of the whole (distinct names stay distinct); two that meet
/// in an environment would still be refused by `check::across`.
const APPLICATION_NAME_LIMIT: usize = 63;

/// The root Application's name: `<env>.root` (children have three parts).
fn root_application(env: &Environment) -> String {
    derived_name(&env.name, ".root", APPLICATION_NAME_LIMIT)
}

/// AppProject names are object names, DNS-1123 subdomains (argoproj/argo-cd
/// `util/argo/argo.go`, `IsValidProjectName`), while environment and team
/// names are DNS-1123 labels, without dots. So every project is
/// `<env>.<kind of project>[.<team>]`: its first part is its environment,
/// and within one the second says which it is, so no two can have one
/// name, in one environment or across environments that share an Argo CD
/// (`<team>-<env>` could: team `a-b` in `dev` and team `a` in `b-dev`).
/// At most 63 + 6 + 63 characters: nothing is shortened.
///
/// The root's project: `<env>.root`, as the root Application.
fn root_project(env: &Environment) -> String {
    format!("{}.root", env.name)
}

/// The bootstrap: the root Application, syncing `<path>/<env>/_argocd` into
/// Argo CD's own namespace, and its project, which allows exactly that. The
/// root syncs automatically everywhere, so applying it registers every
/// Application; where the environment syncs by hand it never deletes an
/// Application by itself, since a deleted Application takes its resources
/// with it. The root has no cascading-delete finalizer: deleting it leaves
/// the environment running.
fn bootstrap(env: &Environment, gitops: &GitOps) -> Vec<Object> {
    let destination = Destination {
        name: None,
        server: Some(IN_CLUSTER.into()),
        namespace: gitops.namespace.clone(),
    };
    let project = AppProject {
        metadata: meta(gitops, root_project(env)),
        spec: AppProjectSpec {
            description: format!(
                "Bootstrap of {}: the AppProjects and Applications rendered by slipway",
                env.name
            ),
            source_repos: vec![gitops.repo_url.clone()],
            destinations: vec![destination.clone()],
            cluster_resource_whitelist: Vec::new(),
            namespace_resource_whitelist: group_kinds(&[Folder::ArgoCd], Scope::Namespaced),
        },
    };
    let root = Application {
        metadata: meta(gitops, root_application(env)),
        spec: ApplicationSpec {
            project: root_project(env),
            source: Source {
                repo_url: gitops.repo_url.clone(),
                target_revision: gitops.target_revision.clone(),
                path: gitops.path_of(&format!("{}/{}", env.name, Owner::ArgoCd.dir())),
            },
            destination,
            sync_policy: Some(root_sync_policy(gitops, gitops.promotion.is_none())),
            ignore_differences: Vec::new(),
        },
    };
    vec![
        Object::AppProject(project),
        Object::Application(Box::new(root)),
    ]
}

/// The shared project: `<env>.shared`.
fn shared_project(env: &Environment) -> String {
    format!("{}.shared", env.name)
}

/// A team's project: `<env>.team.<team>`.
fn team_project(env: &Environment, team: &str) -> String {
    format!("{}.team.{team}", env.name)
}

fn meta(gitops: &GitOps, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(gitops.namespace.clone()),
        labels: Some(managed_by()),
        ..ObjectMeta::default()
    }
}

/// Metadata of an object the root syncs, in `wave` where the environment's
/// Applications sync themselves. Where a human syncs them, the root has no
/// waves: a wave waits for the health of the one before, and an
/// Application nobody synced yet is never healthy.
fn synced_meta(gitops: &GitOps, name: String, wave: &str) -> ObjectMeta {
    let mut meta = meta(gitops, name);
    if gitops.automated {
        meta.annotations = Some(BTreeMap::from([(SYNC_WAVE.into(), wave.into())]));
    }
    meta
}

/// The kinds of `scope` that the registry renders into any of `folders`.
fn group_kinds(folders: &[Folder], scope: Scope) -> Vec<GroupKind> {
    Kind::in_folders(folders)
        .filter(|kind| kind.scope() == scope)
        .map(|kind| GroupKind {
            group: kind.group().into(),
            kind: kind.name().into(),
        })
        .collect()
}

/// The folders of the shared project: namespaces and the gateway routes.
const SHARED_FOLDERS: [Folder; 2] = [Folder::Namespace, Folder::Gateway];

fn projects(env: &Environment, gitops: &GitOps, clusters: &[Cluster]) -> Vec<AppProject> {
    let mut teams: BTreeMap<&str, BTreeSet<Destination>> = BTreeMap::new();
    let mut shared = BTreeSet::new();
    for cluster in clusters {
        for service in &cluster.services {
            let destination = Destination {
                name: Some(cluster.cluster.clone()),
                server: None,
                namespace: service.namespace.clone(),
            };
            teams
                .entry(&service.team)
                .or_default()
                .insert(destination.clone());
            shared.insert(destination);
            if !service.routes.is_empty() {
                shared.insert(Destination {
                    name: Some(cluster.cluster.clone()),
                    server: None,
                    namespace: service.gateway.namespace.clone(),
                });
            }
        }
    }
    let project = |name: String,
                   description: String,
                   destinations: BTreeSet<Destination>,
                   cluster_kinds,
                   kinds| AppProject {
        metadata: synced_meta(gitops, name, PROJECT_WAVE),
        spec: AppProjectSpec {
            description,
            source_repos: vec![gitops.repo_url.clone()],
            destinations: destinations.into_iter().collect(),
            cluster_resource_whitelist: cluster_kinds,
            namespace_resource_whitelist: kinds,
        },
    };
    let mut out = vec![project(
        shared_project(env),
        format!(
            "Namespaces, mTLS, tracing and gateway routes of {}, rendered by slipway",
            env.name
        ),
        shared,
        group_kinds(&SHARED_FOLDERS, Scope::Cluster),
        group_kinds(&SHARED_FOLDERS, Scope::Namespaced),
    )];
    for (team, destinations) in teams {
        out.push(project(
            team_project(env, team),
            format!(
                "Services of team {team} in {}, rendered by slipway",
                env.name
            ),
            destinations,
            group_kinds(&[Folder::Service], Scope::Cluster),
            group_kinds(&[Folder::Service], Scope::Namespaced),
        ));
    }
    out
}

/// One Application per folder of the cluster: each namespace, each service,
/// and the gateway routes.
fn applications(env: &Environment, gitops: &GitOps, cluster: &Cluster) -> Vec<Application> {
    let folder =
        |owner: &Owner| gitops.path_of(&format!("{}/{}/{}", env.name, cluster.region, owner.dir()));
    let app = |name: String,
               project: String,
               owner: Owner,
               namespace: &str,
               ignore: Vec<IgnoreDifference>| {
        let wave = match owner {
            Owner::Namespace(_) => NAMESPACE_WAVE,
            _ => SERVICE_WAVE,
        };
        Application {
            metadata: ObjectMeta {
                // Deleting the Application (its service is gone) deletes what it deployed.
                finalizers: Some(vec![RESOURCES_FINALIZER.into()]),
                ..synced_meta(
                    gitops,
                    derived_name(
                        &format!("{}.{}.{name}", env.name, cluster.region),
                        "",
                        APPLICATION_NAME_LIMIT,
                    ),
                    wave,
                )
            },
            spec: ApplicationSpec {
                project,
                source: Source {
                    repo_url: gitops.repo_url.clone(),
                    target_revision: gitops.revision_of(&env.name, &cluster.region),
                    path: folder(&owner),
                },
                destination: Destination {
                    name: Some(cluster.cluster.clone()),
                    server: None,
                    namespace: namespace.to_owned(),
                },
                sync_policy: Some(sync_policy(gitops, &owner, !ignore.is_empty())),
                ignore_differences: ignore,
            },
        }
    };
    let namespaces: BTreeSet<&str> = cluster
        .services
        .iter()
        .map(|s| s.namespace.as_str())
        .collect();
    let mut apps: Vec<Application> = namespaces
        .into_iter()
        .map(|ns| {
            app(
                format!("namespace.{ns}"),
                shared_project(env),
                Owner::Namespace(ns.to_owned()),
                ns,
                Vec::new(),
            )
        })
        .collect();
    for service in &cluster.services {
        let owner = Owner::Service(service.name.clone());
        let project = team_project(env, &service.team);
        apps.push(app(
            service.name.clone(),
            project,
            owner,
            &service.namespace,
            mesh_weights(service),
        ));
    }
    if let Some(routed) = cluster.services.iter().find(|s| !s.routes.is_empty()) {
        let ignore = gateway_weights(cluster);
        apps.push(app(
            "routes.gateway".into(),
            shared_project(env),
            Owner::Gateway,
            &routed.gateway.namespace,
            ignore,
        ));
    }
    apps
}

/// Automated sync with prune and self-heal, unless the environment is
/// synced by hand; always the retries. A service's Application prunes last
/// (its old ConfigMaps); `RespectIgnoreDifferences` wherever weights are
/// ignored.
fn sync_policy(gitops: &GitOps, owner: &Owner, ignores: bool) -> SyncPolicy {
    let mut options = Vec::new();
    if matches!(owner, Owner::Service(_)) {
        options.push(PRUNE_LAST.to_owned());
    }
    if ignores {
        options.push("RespectIgnoreDifferences=true".to_owned());
    }
    SyncPolicy {
        automated: gitops.automated.then_some(Automated {
            prune: true,
            self_heal: true,
        }),
        sync_options: options,
        retry: Some(retry()),
    }
}

/// The route weights Argo Rollouts rewrites, by route name.
fn weights(routes: impl IntoIterator<Item = String>) -> Vec<String> {
    routes
        .into_iter()
        .map(|name| format!(r#".spec.http[] | select(.name == "{name}") | .route[].weight"#))
        .collect()
}

/// The routes Argo Rollouts adds during a rollout and removes after it
/// (`managedRoutes`), whole, by name.
fn managed(routes: impl IntoIterator<Item = String>) -> Vec<String> {
    routes
        .into_iter()
        .map(|name| format!(r#".spec.http[] | select(.name == "{name}")"#))
        .collect()
}

/// The managed routes of a canary's Rollout.
fn managed_routes(service: &Service) -> Vec<String> {
    service
        .canary
        .iter()
        .flat_map(|c| &c.header_route)
        .map(|route| route.name.clone())
        .collect()
}

fn ignore_weights(
    name: String,
    namespace: String,
    routes: Vec<String>,
    managed_routes: Vec<String>,
) -> IgnoreDifference {
    let mut paths = weights(routes);
    paths.extend(managed(managed_routes));
    IgnoreDifference {
        group: "networking.istio.io".into(),
        kind: "VirtualService".into(),
        name,
        namespace,
        jq_path_expressions: paths,
    }
}

/// A canary's in-mesh VirtualService: the weights of its HTTP routes.
fn mesh_weights(service: &Service) -> Vec<IgnoreDifference> {
    if service.canary.is_none() {
        return Vec::new();
    }
    let routes = service
        .ports
        .iter()
        .filter(|p| is_http(p.protocol))
        .map(|p| p.name.clone())
        .collect();
    vec![ignore_weights(
        service.name.clone(),
        service.namespace.clone(),
        routes,
        managed_routes(service),
    )]
}

/// The gateway hosts' VirtualServices: the weights of canary services' routes.
fn gateway_weights(cluster: &Cluster) -> Vec<IgnoreDifference> {
    type Routes = (Vec<String>, BTreeSet<String>);
    let mut by_host: BTreeMap<(String, String), Routes> = BTreeMap::new();
    for service in cluster.services.iter().filter(|s| s.canary.is_some()) {
        for (index, route) in service.routes.iter().enumerate() {
            let key = (
                gateway_route_name(&route.host),
                service.gateway.namespace.clone(),
            );
            let (weighted, managed) = by_host.entry(key).or_default();
            weighted.push(route_name(service, index));
            managed.extend(managed_routes(service));
        }
    }
    by_host
        .into_iter()
        .map(|((name, namespace), (routes, managed))| {
            ignore_weights(name, namespace, routes, managed.into_iter().collect())
        })
        .collect()
}
