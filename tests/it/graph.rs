//! `slipway graph`: the example platform's and the fleet platform's graphs
//! against golden files in `tests/fixtures/graph/` (which CI parses with
//! Mermaid's own parser, `tests/graph/parse.mjs`), the topology a rendered
//! tree gives against the model's, and the graph of a change.

use std::fs;
use std::path::Path;

use slipway::compile::{Selection, open};
use slipway::graph::{self, Topology, mermaid};

use crate::support::{golden, root, run_in};

fn fixture(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/graph").join(name)
}

fn fleet() -> std::path::PathBuf {
    root().join("tests/fixtures/platforms/fleet")
}

#[test]
fn the_example_platform_graphs_are_golden() {
    let mut failures = Vec::new();
    for env in ["dev", "staging", "prod"] {
        let run = run_in(root(), &["graph", "--env", env]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.is_empty(), "{}", run.stderr);
        failures.extend(golden(&fixture(&format!("{env}.mmd")), &run.stdout).err());
    }
    let run = run_in(&fleet(), &["graph", "--env", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    failures.extend(golden(&fixture("fleet-prod.mmd"), &run.stdout).err());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_graph_shows_what_the_environment_runs() {
    let run = run_in(root(), &["graph", "--env", "staging"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = run.stdout;
    assert!(text.starts_with("flowchart LR\n"), "{text}");
    // Regions in the overlay's order, with their clusters.
    let us = text.find("[\"us-east-1 (cluster staging-us-east-1)\"]");
    let eu = text.find("[\"eu-west-1 (cluster staging-eu-west-1)\"]");
    assert!(us.is_some() && eu.is_some() && us < eu, "{text}");
    // Namespaces hold their services, labelled with node group and strategy.
    let commerce = text
        .split("subgraph n_us_east_1_commerce_staging[\"namespace commerce-staging\"]\n")
        .nth(1)
        .and_then(|rest| rest.split("    end\n").next())
        .unwrap_or_else(|| panic!("a commerce-staging subgraph: {text}"));
    assert!(
        commerce.contains("s_us_east_1_checkout[\"checkout<br/>application · canary\"]"),
        "{commerce}"
    );
    assert!(
        commerce.contains("s_us_east_1_orders[\"orders<br/>application · rolling\"]"),
        "{commerce}"
    );
    assert!(
        text.contains("s_us_east_1_analytics[\"analytics<br/>memory · canary\"]"),
        "the staging overlay makes analytics a canary: {text}"
    );
    // Callers (allowFrom), labelled with endpoint() calls, and routes.
    for edge in [
        "s_us_east_1_api_gateway --> s_us_east_1_orders",
        "s_us_east_1_checkout -->|\"endpoint grpc\"| s_us_east_1_orders",
        "h_us_east_1_api_staging_example_com -->|\"/api/catalog x-variant=b\"| s_us_east_1_catalog",
        "h_us_east_1_shop_staging_example_com -->|\"/\"| s_us_east_1_web",
    ] {
        assert!(text.contains(&format!("  {edge}\n")), "{edge}: {text}");
    }
}

#[test]
fn a_region_shows_only_the_services_it_runs() {
    let run = run_in(
        root(),
        &["graph", "--env", "prod", "--region", "ap-southeast-1"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = run.stdout;
    assert!(
        !text.contains("us-east-1") && !text.contains("eu-west-1"),
        "{text}"
    );
    let services: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("s_ap_southeast_1_"))
        .filter_map(|l| l.split_once('[').map(|(id, _)| id))
        .collect();
    // The region's `only`: api-gateway, catalog, web.
    assert_eq!(services, ["catalog", "api_gateway", "web"], "{text}");
    // feature-flags admits web and catalog, but is not rendered here: no
    // edge leads to it.
    assert!(!text.contains("feature_flags"), "{text}");
}

#[test]
fn an_unknown_environment_or_region_is_a_usage_error() {
    let run = run_in(root(), &["graph", "--env", "stagin"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown environment `stagin`"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    let run = run_in(root(), &["graph", "--env", "prod", "--region", "mars-1"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("unknown region"), "{}", run.stderr);
    let run = run_in(root(), &["graph"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--env"), "{}", run.stderr);
}

#[test]
fn invalid_input_draws_nothing() {
    let project = copy_of(root());
    edit(
        project.path(),
        "blueprints/orders.yaml",
        "checkout, order-worker]",
        "checkout, nobody]",
    );
    let run = run_in(project.path(), &["graph", "--env", "dev"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("nobody"), "{}", run.stderr);
}

/// The topology a rendered tree gives (what a pull request compares, the
/// base holding no inputs) is the model's, for every environment of both
/// platforms.
#[test]
fn the_rendered_tree_gives_the_models_topology() {
    for platform in [root().to_path_buf(), fleet()] {
        let (project, diagnostics) = open(&platform).expect("project");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let selection = Selection::default();
        let (documents, diagnostics) = project.render(&selection, |_| ());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let (clusters, _) = project.clusters(&selection);
        let model = Topology::of(&clusters);
        let rendered = graph::read(&documents.into_iter().collect());
        assert!(
            !model.services.is_empty() && !model.callers.is_empty() && !model.routes.is_empty(),
            "{model:?}"
        );
        assert_eq!(rendered, model, "{}", platform.display());
    }
}

/// The graph of a change to staging's us-east-1: a caller added and one
/// removed, a service removed (the region's `only` leaves it out, and its
/// callers with it), one added, one moved to
/// another node group, and a route whose header match holds every
/// character a Mermaid label must escape.
#[test]
fn the_graph_of_a_change_is_golden() {
    let selection = Selection {
        env: Some("staging".into()),
        region: Some("us-east-1".into()),
        service: None,
    };
    let before = topology(root(), &selection);
    let changed = copy_of(root());
    change_the_example(changed.path());
    let after = topology(changed.path(), &selection);
    let changes = graph::changes(&before, &after);
    assert_eq!(
        changes.summary(),
        "1 service added, 1 service removed, 1 service changed, 2 callers added, 3 callers removed, 1 route added"
    );
    let lines = changes.lines();
    for line in [
        "+ service staging/us-east-1 reviews: application · rolling in storefront-staging",
        "- service staging/us-east-1 ml-inference: compute · rolling in ml-staging",
        "~ service staging/us-east-1 payments: compute · rolling in payments-staging, was application · rolling",
        "+ caller staging/us-east-1 web -> orders",
        "+ caller staging/us-east-1 web -> reviews",
        "- caller staging/us-east-1 order-worker -> analytics",
        "- caller staging/us-east-1 catalog -> ml-inference",
        "+ route staging/us-east-1 shop.staging.example.com /beta x-beta=say \"hi\" #1 <b>&amp; | `x` -> web",
    ] {
        assert!(lines.iter().any(|l| l == line), "{line}: {lines:#?}");
    }
    let text = mermaid::write(&changes.graph());
    assert!(
        text.contains(
            "|\"/beta x-beta=say #quot;hi#quot; #35;1 #lt;b#gt;#amp;amp; #124; #96;x#96;\"|"
        ),
        "{text}"
    );
    golden(&fixture("changes.mmd"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(graph::changes(&after, &after).is_empty());
}

fn topology(project: &Path, selection: &Selection) -> Topology {
    let (project, diagnostics) = open(project).expect("project");
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let (documents, diagnostics) = project.render(selection, |_| ());
    assert!(!diagnostics.iter().any(|d| d.is_error()), "{diagnostics:?}");
    graph::read(&documents.into_iter().collect())
}

fn change_the_example(project: &Path) {
    edit(
        project,
        "blueprints/orders.yaml",
        "checkout, order-worker]",
        "checkout, order-worker, web]",
    );
    edit(
        project,
        "blueprints/analytics.yaml",
        "[api-gateway, order-worker]",
        "[api-gateway]",
    );
    // us-east-1 stops running ml-inference.
    edit(
        project,
        "overlays/staging.yaml",
        "primary: true}",
        "primary: true, only: [analytics, api-gateway, catalog, checkout, feature-flags, order-worker, orders, payments, reviews, web]}",
    );
    edit(
        project,
        "blueprints/payments.yaml",
        "nodeGroup: application",
        "nodeGroup: compute",
    );
    edit(
        project,
        "blueprints/web.yaml",
        "routes:\n",
        "routes:\n  - host: \"shop.{{ env.domain }}\"\n    pathPrefix: /beta\n    port: http\n    headers: {x-beta: {exact: 'say \"hi\" #1 <b>&amp; | `x`'}}\n",
    );
    fs::write(project.join("blueprints/reviews.yaml"), REVIEWS).expect("reviews");
}

/// A new service that web may call.
const REVIEWS: &str = "apiVersion: slipway.dev/v1alpha1
kind: Blueprint
metadata: {name: reviews, team: storefront}
containers:
  app:
    image: registry.example.com/storefront/reviews:1.0.0
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}
    livenessProbe: {httpGet: {path: /healthz, port: http}}
    readinessProbe: {httpGet: {path: /ready, port: http}}
service:
  ports:
    http: {port: 80, targetPort: 8080, protocol: HTTP}
mesh:
  allowFrom: [web]
";

fn edit(project: &Path, file: &str, from: &str, to: &str) {
    let path = project.join(file);
    let text = fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{file} has {from:?}");
    fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

/// The blueprints and overlays of a platform, in a scratch folder.
fn copy_of(platform: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for folder in ["blueprints", "overlays"] {
        fs::create_dir(dir.path().join(folder)).expect("mkdir");
        for entry in fs::read_dir(platform.join(folder)).expect("read_dir") {
            let entry = entry.expect("entry");
            fs::copy(
                entry.path(),
                dir.path().join(folder).join(entry.file_name()),
            )
            .expect("copy");
        }
    }
    dir
}

/// The README's excerpt is lines of the golden staging graph, in its
/// order, so it stays what `slipway graph --env staging` prints.
#[test]
fn the_readme_excerpt_is_from_the_staging_graph() {
    let readme = fs::read_to_string(root().join("README.md")).expect("README");
    let excerpt = readme
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has a mermaid block");
    let golden = fs::read_to_string(fixture("staging.mmd")).expect("staging.mmd");
    let mut lines = golden.lines();
    for line in excerpt.lines() {
        assert!(
            lines.any(|l| l == line),
            "not in staging.mmd (or out of order): {line}"
        );
    }
}
