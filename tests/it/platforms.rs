//! A second platform, unlike the example (tests/fixtures/platforms/fleet:
//! three teams, gRPC services, workers without ports), rendered in every
//! environment through the binary. CI also checks its render against the
//! upstream schemas and CRDs.

use std::collections::BTreeSet;

use crate::support::{read_tree, root, run_in};

#[test]
fn the_fleet_platform_renders_in_every_environment() {
    let platform = root().join("tests/fixtures/platforms/fleet");
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("rendered");
    let run = run_in(
        &platform,
        &["render", "--all", "-o", target.to_str().expect("utf-8")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("rendered ") && run.stderr.lines().count() == 1,
        "no diagnostics, only the summary: {}",
        run.stderr
    );
    let files = read_tree(&target);
    let folders: BTreeSet<&str> = files
        .keys()
        .filter_map(|path| path.rsplit_once('/').map(|(folder, _)| folder))
        .collect();
    for env in ["dev", "staging", "prod"] {
        assert!(
            folders.iter().any(|f| f.starts_with(&format!("{env}/"))),
            "{env} is rendered"
        );
    }
    // Workers without ports: a workload, and no Service, monitor or route.
    for worker in ["telemetry-ingest", "invoice-worker"] {
        let mine: Vec<&String> = files
            .keys()
            .filter(|p| p.starts_with(&format!("prod/eu-central-1/{worker}/")))
            .collect();
        assert!(mine.iter().any(|p| p.contains("/deployment-")), "{mine:?}");
        assert!(!mine.iter().any(|p| p.contains("/service-")), "{mine:?}");
    }
    // gRPC ports tell Istio their protocol.
    let dispatch =
        String::from_utf8_lossy(&files["prod/eu-central-1/dispatch/service-dispatch.yaml"]);
    assert!(dispatch.contains("appProtocol: grpc"), "{dispatch}");
    // A region limited by `only` runs only what it lists.
    let edge: BTreeSet<&str> = folders
        .iter()
        .filter_map(|f| f.strip_prefix("prod/ap-northeast-1/"))
        .filter(|f| !f.starts_with('_'))
        .collect();
    assert_eq!(edge, BTreeSet::from(["tracker-api"]));
    // One AppProject per team, and the shared one.
    let projects: Vec<&String> = files
        .keys()
        .filter(|p| p.starts_with("prod/_argocd/appproject-"))
        .collect();
    assert_eq!(projects.len(), 4, "{projects:?}");
    // Staging promotes us-east-2 first, where Argo CD syncs by itself: the
    // root holds the projects (wave -2) and the region roots (-1), each
    // region's Applications sit in its own folder at its own branch, and
    // keep their waves (namespaces -1, then services 0) for the region
    // root's sync. Prod, without promotion, keeps them in `_argocd/`.
    let text = |path: &str| String::from_utf8_lossy(&files[path]).into_owned();
    for region in ["us-east-2", "eu-central-1"] {
        let root = text(&format!(
            "staging/_argocd/application-staging.{region}.region.root.yaml"
        ));
        for line in [
            format!("targetRevision: slipway/promotion/staging/{region}"),
            format!("path: clusters/staging/_argocd/{region}"),
            "argocd.argoproj.io/sync-wave: \"-1\"".to_owned(),
            "prune: true".to_owned(),
        ] {
            assert!(root.contains(&line), "{line} in {root}");
        }
        let apps: Vec<&String> = files
            .keys()
            .filter(|p| p.starts_with(&format!("staging/_argocd/{region}/")))
            .collect();
        assert!(!apps.is_empty(), "{region}");
        for app in apps {
            let app = text(app);
            assert!(
                app.contains(&format!(
                    "targetRevision: slipway/promotion/staging/{region}\n"
                )),
                "{app}"
            );
            assert!(app.contains("argocd.argoproj.io/sync-wave:"), "{app}");
        }
    }
    // The root never prunes by itself under promotion: turning it on moves
    // every region's Applications to a region root, and the root would
    // prune them (and, by their finalizers, the services) before any
    // region root adopted them.
    let root = text("staging/_bootstrap/application-staging.root.yaml");
    assert!(root.contains("prune: false"), "{root}");
    assert!(
        !folders.iter().any(|f| f.starts_with("prod/_argocd/")),
        "{folders:?}"
    );
}
