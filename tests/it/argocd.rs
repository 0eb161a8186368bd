//! What Argo CD needs from the rendered tree: every Application's path is a
//! folder of the tree, every destination a declared cluster, prod syncs by
//! hand, and canary weights are ignored exactly where Rollouts rewrites them.

use std::collections::{BTreeMap, BTreeSet};

use slipway::compile::{Selection, open};
use slipway::crd::argocd::AppProject;
use slipway::lower::{Folder, Kind, Object};

use crate::rendering::render;
use crate::support::root;

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
            .strip_prefix("rendered/")
            .expect("under rendered/")
            .to_owned()
            + "/";
        assert!(
            files.keys().any(|path| path.starts_with(&folder)),
            "{folder} is a folder of the tree"
        );
        synced.insert(folder.clone());
        assert!(
            declared.contains(&app.spec.destination.name),
            "{} is declared",
            app.spec.destination.name
        );
        let name = app.metadata.name.as_deref().unwrap_or_default();
        let automated = app
            .spec
            .sync_policy
            .as_ref()
            .is_some_and(|p| p.automated.is_some());
        assert_eq!(
            automated,
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
            for expression in &ignore.jq_path_expressions {
                assert!(
                    route
                        .spec
                        .http
                        .iter()
                        .any(|h| expression.contains(&format!("\"{}\"", h.name))),
                    "{expression}"
                );
            }
        }
    }
    // Every folder outside `_argocd/` is synced by an Application.
    let folders: BTreeSet<String> = files
        .keys()
        .filter(|path| !path.contains("/_argocd/"))
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

/// Argo CD's own rule (`AppProject.IsGroupKindPermitted` in
/// argoproj/argo-cd `pkg/apis/application/v1alpha1/types.go`): a cluster-scoped
/// kind must be in `clusterResourceWhitelist`; a namespaced kind must be in
/// `namespaceResourceWhitelist`, which allows everything only when it is
/// absent altogether (slipway always writes it).
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
    // Each Application syncs one folder: `rendered/<env>/<region>/<owner>`.
    let synced_by: BTreeMap<String, &AppProject> = objects()
        .filter_map(|o| match o {
            Object::Application(app) => Some((
                app.spec
                    .source
                    .path
                    .trim_start_matches("rendered/")
                    .to_owned()
                    + "/",
                projects[app.spec.project.as_str()],
            )),
            _ => None,
        })
        .collect();
    let mut checked = BTreeSet::new();
    for (path, document) in &rendered.files {
        if path.contains("/_argocd/") {
            continue; // applied by hand or by the root application, not synced by a project
        }
        let folder = &path[..=path.rfind('/').expect("a folder")];
        let project = synced_by
            .get(folder)
            .unwrap_or_else(|| panic!("an Application syncs {folder}"));
        // Read the type from the document itself, not from slipway's registry.
        let field = |key: &str| {
            document
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{path} has `{key}`"))
                .to_owned()
        };
        let api_version = field("apiVersion: ");
        let kind = field("kind: ");
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let namespaced = document.lines().any(|l| l.starts_with("  namespace: "));
        assert!(
            permitted(project, group, &kind, namespaced),
            "{path}: {kind} ({api_version}) is not allowed by AppProject `{}`",
            project.metadata.name.as_deref().unwrap_or_default()
        );
        checked.insert(kind);
    }
    // Every kind slipway can render outside `_argocd/` appears in the example.
    let renderable: BTreeSet<String> = Kind::ALL
        .iter()
        .filter(|k| !k.folders().contains(&Folder::ArgoCd))
        .map(|k| k.name().to_owned())
        .collect();
    assert_eq!(checked, renderable);
}
