//! What Argo CD needs from the rendered tree: every Application's path is a
//! folder of the tree, every destination a declared cluster, prod syncs by
//! hand, and canary weights are ignored exactly where Rollouts rewrites them.

use std::collections::BTreeSet;

use slipway::compile::{Selection, open};
use slipway::emit::tree;
use slipway::lower::Object;

use crate::support::root;

#[test]
fn applications_point_at_rendered_folders_and_declared_clusters() {
    let (project, diags) = open(root()).expect("opens");
    assert!(diags.is_empty(), "{diags:?}");
    let (clusters, diags) = project.render(&Selection::default());
    assert!(diags.is_empty(), "{diags:?}");
    let files = tree(&clusters);
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
    let objects = || clusters.iter().flat_map(|c| &c.objects).map(|r| &r.object);
    let mut applications = 0;
    for object in objects() {
        let Object::Application(app) = object else {
            continue;
        };
        applications += 1;
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
        for ignore in &app.spec.ignore_differences {
            let route = objects()
                .find_map(|o| match o {
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
    // Per cluster: each namespace, each service and the gateway routes.
    assert!(applications > 60, "{applications} applications");
}

#[test]
fn projects_allow_exactly_their_teams_destinations() {
    let (project, _) = open(root()).expect("opens");
    let selection = Selection {
        env: Some("prod".into()),
        ..Selection::default()
    };
    let (clusters, diags) = project.render(&selection);
    assert!(diags.is_empty(), "{diags:?}");
    let objects: Vec<&Object> = clusters
        .iter()
        .flat_map(|c| &c.objects)
        .map(|r| &r.object)
        .collect();
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
