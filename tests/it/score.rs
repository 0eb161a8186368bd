//! Score workloads (tests/fixtures/platforms/score) rendered in every
//! environment: the Deployments, Services and variables slipway makes of
//! them, and what the kubelet makes of the variables their placeholders
//! became.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, PodSpec};
use slipway::compile::{Selection, open};
use slipway::lower::Object;

use crate::rendering::{Rendering, render};
use crate::repo::git;
use crate::support::{copy_tree, read_tree, root, run_in};

fn platform() -> PathBuf {
    root().join("tests/fixtures/platforms/score")
}

/// The clusters of the platform: (environment, region, primary writer of `db`).
const CLUSTERS: [(&str, &str); 3] = [
    ("dev", "eu-west-1"),
    ("prod", "eu-west-1"),
    ("prod", "us-east-1"),
];

fn cluster(env: &str, region: &str) -> Rendering {
    let (project, diags) = open(&platform()).expect("platform opens");
    assert!(diags.is_empty(), "{diags:?}");
    let selection = Selection {
        env: Some(env.into()),
        region: Some(region.into()),
        service: None,
    };
    render(&project, &selection)
}

fn pod(rendered: &Rendering, service: &str) -> PodSpec {
    rendered
        .objects
        .values()
        .find_map(|r| match &r.object {
            Object::Deployment(d) if d.metadata.name.as_deref() == Some(service) => {
                d.spec.template.spec.clone()
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{service} has a Deployment"))
}

/// A container's variables as the kubelet expands them: `$(NAME)` of a
/// variable defined earlier is its value, a Secret's key reads as
/// `secret:<Secret>/<key>` (kubernetes `third_party/forked/golang/expansion`).
fn expanded(container: &Container) -> BTreeMap<String, String> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for var in container.env.iter().flatten() {
        let value = match (&var.value, var.value_from.as_ref()) {
            (Some(text), _) => {
                let mut out = text.clone();
                for (name, value) in &seen {
                    out = out.replace(&format!("$({name})"), value);
                }
                out
            }
            (None, Some(from)) => {
                let key = from.secret_key_ref.as_ref().expect("a secret's key");
                format!("secret:{}/{}", key.name, key.key)
            }
            (None, None) => String::new(),
        };
        seen.insert(var.name.clone(), value);
    }
    seen
}

#[test]
fn score_workloads_render_in_every_environment() {
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("rendered");
    let run = run_in(
        &platform(),
        &["render", "--all", "-o", target.to_str().expect("utf-8")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = read_tree(&target);
    for (env, region) in CLUSTERS {
        for service in [
            "sample",
            "example-workload-name123",
            "deprecated-files-example",
            "ledger",
            "checkout",
        ] {
            let path = format!("{env}/{region}/{service}/deployment-{service}.yaml");
            assert!(files.contains_key(&path), "{path}");
        }
    }
}

#[test]
fn placeholders_become_the_regions_connection_and_secrets_stay_references() {
    for (env, region) in CLUSTERS {
        let rendered = cluster(env, region);
        let sample = pod(&rendered, "sample");
        let main = &sample.containers[0];
        let vars = expanded(main);
        // prod's us-east-1 has a reader only: writes go to the primary's writer.
        let writer = match env {
            "dev" => "sample-dev.c1x9tz0v2sd.eu-west-1.rds.amazonaws.com",
            _ => "sample-prod.cluster-c1x9tz0v2sd.eu-west-1.rds.amazonaws.com",
        };
        assert_eq!(
            vars["PG_CONNECTION_STRING"],
            format!(
                "postgresql://secret:sample-external/DB_USERNAME:secret:sample-external/DB_PASSWORD@{writer}:5432/sample?sslmode=disable"
            ),
            "{env}/{region}"
        );
        assert_eq!(vars["PGPASSWORD"], "secret:sample-external/DB_PASSWORD");
        assert_eq!(vars["WORKLOAD"], "sample");
        assert_eq!(vars["PRICE_FORMAT"], "${amount} in $");
        // No variable holds a credential's text: a Secret's key, or a
        // reference the kubelet expands from one.
        for var in main.env.iter().flatten() {
            if var.name.ends_with("PASSWORD") || var.name.ends_with("USERNAME") {
                let secret = vars[&var.name].starts_with("secret:sample-external/");
                assert!(secret, "{} reads a Secret", var.name);
            }
        }
        let full = pod(&rendered, "example-workload-name123");
        let one = expanded(&full.containers[0]);
        assert!(
            one["SHARED_HOST"].starts_with("master.shared-")
                && one["SHARED_HOST"].contains(if region == "us-east-1" {
                    "use1"
                } else {
                    "euw1"
                }),
            "the region's own cache: {}",
            one["SHARED_HOST"]
        );
        assert_eq!(one["EXTRA"], "extra-value");
        assert_eq!(one["ANNOTATED"], "something else");
        // Image `.` is the overlay's, per environment.
        let two = full.containers[1].image.as_deref().expect("image");
        assert!(
            two.starts_with("registry.example.net/platform/example:0.1.0"),
            "{two}"
        );
    }
}

#[test]
fn score_ports_files_and_probes_render_as_slipway_renders_blueprints() {
    let rendered = cluster("prod", "eu-west-1");
    let mut protocols = BTreeMap::new();
    let mut files = BTreeMap::new();
    for r in rendered.objects.values() {
        match &r.object {
            Object::Service(s) => {
                for p in s.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
                    let name = format!(
                        "{}/{}",
                        s.metadata.name.as_deref().unwrap_or(""),
                        p.name.as_deref().unwrap_or("")
                    );
                    protocols.insert(
                        name,
                        (
                            p.app_protocol.clone().unwrap_or_default(),
                            p.port,
                            p.target_port.clone(),
                        ),
                    );
                }
            }
            Object::ConfigMap(c) => {
                for (key, value) in c.data.iter().flatten() {
                    files.insert(key.clone(), value.clone());
                }
            }
            _ => {}
        }
    }
    // Protocols from the side file, else the port's name (Istio's rule),
    // but HTTP for a port a `route` resource targets.
    assert_eq!(protocols["sample/web"].0, "http");
    assert_eq!(protocols["example-workload-name123/port-one"].0, "tcp");
    assert_eq!(protocols["example-workload-name123/port-one"].1, 1000);
    // Files: expanded, or (`noExpand`) as written, braces and all.
    assert!(files["my_file"].starts_with("written for example-workload-name123\n"));
    assert!(files["my_other_file"].contains("{{ not a template }} and ${kept}"));
    assert_eq!(files["mnt_some-path"], "my content here");
    let full = pod(&rendered, "example-workload-name123");
    let c = &full.containers[0];
    assert!(
        c.liveness_probe
            .as_ref()
            .and_then(|p| p.exec.as_ref())
            .is_some()
    );
    let ready = c.readiness_probe.as_ref().and_then(|p| p.http_get.as_ref());
    let ready = ready.expect("an HTTP readiness probe");
    assert_eq!(ready.path.as_deref(), Some("/readyz"));
    // The probe's `host` is its `Host` header; the pod is probed at its
    // own address (no `host` on the action).
    assert_eq!(ready.host, None);
    let headers: Vec<(&str, &str)> = ready
        .http_headers
        .iter()
        .flatten()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    assert_eq!(
        headers,
        [("Some-Header", "some-value-here"), ("Host", "127.0.0.1")]
    );
    assert_eq!(
        c.command.as_deref(),
        Some(&["/bin/sh".to_owned(), "-c".to_owned()][..])
    );
    // A blueprint calls a Score workload's port by `endpoint()`.
    let ledger = expanded(&pod(&rendered, "ledger").containers[0]);
    assert_eq!(
        ledger["SAMPLE_URL"],
        "http://sample.storefront-prod.svc.cluster.local:8080"
    );
}

/// A `service` resource's `name` is the called workload's host, its
/// Service in the namespace of its own team (score-k8s' community `service`
/// provisioner gives the Service's name, in one namespace), and the called
/// workloads admit the caller; a data store's password stays a Secret's
/// key behind its secret-named variable.
#[test]
fn score_service_resources_are_the_called_workloads_hosts() {
    for (env, region) in CLUSTERS {
        let rendered = cluster(env, region);
        let vars = expanded(&pod(&rendered, "checkout").containers[0]);
        assert_eq!(
            vars["SAMPLE_ADDR"],
            format!("sample.storefront-{env}.svc.cluster.local:8080")
        );
        assert_eq!(
            vars["LEDGER_URL"],
            format!("http://ledger.storefront-{env}.svc.cluster.local:80/entries")
        );
        assert_eq!(
            vars["POSTGRES_PASSWORD"],
            "secret:checkout-external/DB_PASSWORD"
        );
        let caller = format!("cluster.local/ns/payments-{env}/sa/checkout");
        for called in ["sample", "ledger"] {
            let admits = rendered.objects.values().any(|r| match &r.object {
                Object::AuthorizationPolicy(p) => {
                    p.metadata.name.as_deref() == Some(called)
                        && p.spec.rules.iter().any(|rule| {
                            rule.from
                                .iter()
                                .any(|f| f.source.principals.contains(&caller))
                        })
                }
                _ => false,
            });
            assert!(admits, "{called} admits checkout in {env}/{region}");
        }
    }
}

/// The graph labels a call of a host alone `endpoint`, beside a call of a
/// named port.
#[test]
fn score_service_calls_are_graph_edges() {
    let run = run_in(&platform(), &["graph", "--env", "dev"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for edge in [
        "s_eu_west_1_checkout -->|\"endpoint\"| s_eu_west_1_ledger",
        "s_eu_west_1_checkout -->|\"endpoint\"| s_eu_west_1_sample",
        "s_eu_west_1_ledger -->|\"endpoint web\"| s_eu_west_1_sample",
    ] {
        assert!(
            run.stdout.contains(&format!("  {edge}\n")),
            "{edge}: {}",
            run.stdout
        );
    }
}

/// A Score `route` to `${resources.dns.host}` is a gateway route of the
/// service to `<name>.<env.domain>`, beside the side file's routes.
#[test]
fn score_routes_are_gateway_routes_on_the_workloads_host() {
    for (env, region) in CLUSTERS {
        let rendered = cluster(env, region);
        let mut routes = BTreeMap::new();
        for r in rendered.objects.values() {
            if let Object::VirtualService(vs) = &r.object {
                for http in vs
                    .spec
                    .http
                    .iter()
                    .filter(|h| h.name.starts_with("sample-"))
                {
                    routes.insert(vs.spec.hosts.join(","), http.name.clone());
                }
            }
        }
        let domain = format!("{env}.score.example.net");
        let hosts: Vec<&String> = routes.keys().collect();
        assert_eq!(
            hosts,
            [&format!("gif.{domain}"), &format!("sample.{domain}")],
            "{env}/{region}"
        );
        // The side file's route first, then the Score file's.
        assert_eq!(routes[&format!("sample.{domain}")], "sample-1");
        let vars = expanded(&pod(&rendered, "sample").containers[0]);
        assert_eq!(vars["PUBLIC_HOST"], format!("sample.{domain}"));
    }
}

/// A file's `source`, `mode` and `binaryContent`, and a `volume` resource:
/// the ConfigMap's `data` and `binaryData`, the volume's items with their
/// modes, and an emptyDir mounted with its sub-path.
#[test]
fn score_file_sources_modes_binary_content_and_volumes_render() {
    for (env, region) in CLUSTERS {
        let rendered = cluster(env, region);
        let config = rendered
            .objects
            .values()
            .find_map(|r| match &r.object {
                Object::ConfigMap(c)
                    if c.metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("example-workload-name123-")) =>
                {
                    Some(c.clone())
                }
                _ => None,
            })
            .expect("the workload's ConfigMap");
        let data = config.data.clone().unwrap_or_default();
        // `blueprints/file.txt`, its placeholder expanded and `$$` a `$`.
        assert_eq!(
            data["my_file"],
            "written for example-workload-name123\nkept: ${metadata.name}\n"
        );
        let binary = config.binary_data.clone().unwrap_or_default();
        assert_eq!(
            binary["my_other_binaryfile"].0,
            [0x00, 0x30, 0x60, 0xc2, 0x90]
        );
        assert!(
            !data.contains_key("my_other_binaryfile"),
            "a key in one map only"
        );
        let spec = pod(&rendered, "example-workload-name123");
        let volumes = spec.volumes.clone().unwrap_or_default();
        let files = volumes.iter().find(|v| v.name == "files").expect("files");
        let items = files.config_map.as_ref().and_then(|c| c.items.clone());
        let modes: BTreeMap<String, Option<i32>> = items
            .unwrap_or_default()
            .into_iter()
            .map(|i| (i.key, i.mode))
            .collect();
        assert_eq!(modes["my_file"], Some(0o600));
        assert_eq!(modes["my_other_file"], None, "0644, the default");
        assert_eq!(modes.len(), 3, "every key is listed: {modes:?}");
        let mounts = spec.containers[0].volume_mounts.clone().unwrap_or_default();
        let scratch = mounts
            .iter()
            .find(|m| m.mount_path == "/mnt/something")
            .expect("the volume's mount");
        assert_eq!(scratch.sub_path.as_deref(), Some("sub/path"));
        assert_eq!(scratch.read_only, None);
        let volume = volumes
            .iter()
            .find(|v| v.name == scratch.name)
            .expect("its volume");
        assert!(volume.empty_dir.is_some(), "{volume:?}");
        assert_ne!(scratch.name, "tmp");
    }
}

/// The platform in a git repository, rendered and committed.
fn committed_platform() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    copy_tree(&platform(), p);
    git(p, &["init", "--quiet", "--initial-branch=main"]);
    assert_eq!(run_in(p, &["render", "--all", "-o", "rendered"]).code, 0);
    git(p, &["add", "-A"]);
    dir
}

/// A `source` file is an input: its bytes are in the fingerprint, so an
/// edit of it is never proven up to date, and `check` renders and finds
/// the tree stale.
#[test]
fn a_source_file_is_part_of_the_inputs_check_proves() {
    let dir = committed_platform();
    let p = dir.path();
    let fingerprint = || {
        let loaded = slipway::load::load(p).expect("loads");
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        loaded.sources.fingerprint()
    };
    let before = fingerprint();
    let proven = run_in(p, &["check"]);
    assert_eq!(proven.code, 0, "{}", proven.stderr);
    assert!(
        proven.stderr.contains("proven by its manifest"),
        "{}",
        proven.stderr
    );
    std::fs::write(p.join("blueprints/file.txt"), "changed\n").expect("write");
    assert_ne!(fingerprint(), before);
    let stale = run_in(p, &["check"]);
    assert_eq!(stale.code, 1, "{}", stale.stderr);
    assert!(!stale.stderr.contains("proven"), "{}", stale.stderr);
    assert!(
        stale.stderr.contains(
            "example-workload-name123/deployment-example-workload-name123.yaml (out of date)"
        ),
        "{}",
        stale.stderr
    );
}

/// `check --staged` counts a `source` file as an input: changed and not
/// staged, the commit would not hold what was rendered.
#[test]
fn check_staged_counts_source_files() {
    let dir = committed_platform();
    let p = dir.path();
    let ok = run_in(p, &["check", "--staged"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    std::fs::write(p.join("blueprints/file.txt"), "changed\n").expect("write");
    assert_eq!(run_in(p, &["render", "--all", "-o", "rendered"]).code, 0);
    git(p, &["add", "rendered"]);
    let unstaged = run_in(p, &["check", "--staged"]);
    assert_eq!(unstaged.code, 1, "{}", unstaged.stderr);
    assert!(
        unstaged
            .stderr
            .contains("not staged: blueprints/file.txt (changed but not staged)"),
        "{}",
        unstaged.stderr
    );
}

/// A `source` reached through a symlink is refused at the `source`: out
/// of the project as any input would be, and inside it too, since git
/// records the link and `check --staged` could not see an edit of the
/// file behind it.
#[cfg(unix)]
#[test]
fn a_source_through_a_symlink_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = dir.path().join("secret.txt");
    std::fs::write(&outside, "outside\n").expect("write");
    let inside = Path::new("real.txt").to_path_buf();
    let cases = [
        (
            outside,
            "error[symlink-outside-root]: `blueprints/file.txt` is a symlink that leads outside the project root",
        ),
        (
            inside,
            "error[score-unsupported]: `blueprints/file.txt` is reached through a symlink",
        ),
    ];
    for (i, (target, expected)) in cases.into_iter().enumerate() {
        let p = dir.path().join(format!("project-{i}"));
        copy_tree(&platform(), &p);
        std::fs::rename(p.join("blueprints/file.txt"), p.join("blueprints/real.txt"))
            .expect("move");
        std::os::unix::fs::symlink(&target, p.join("blueprints/file.txt")).expect("symlink");
        let run = run_in(&p, &["validate"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("blueprints/example-workload-name123.yaml:"),
            "at the `source`: {}",
            run.stderr
        );
    }
}

/// A ConfigMap whose JSON would take `kubectl apply`'s copy of it in its
/// annotations past Kubernetes' 256 KiB asks Argo CD for server-side
/// apply; the platform's own small one does not.
#[test]
fn a_config_map_too_big_for_client_side_apply_is_applied_server_side() {
    let config_maps = |p: &Path| -> Vec<String> {
        let run = run_in(p, &["render", "--env", "dev"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
            .split("\n---\n")
            .filter(|doc| {
                doc.contains("\nkind: ConfigMap\n") && doc.contains("example-workload-name123-")
            })
            .map(str::to_owned)
            .collect()
    };
    let asks = |doc: &String| doc.contains("argocd.argoproj.io/sync-options: ServerSideApply=true");
    let small = config_maps(&platform());
    assert!(!small.is_empty() && !small.iter().any(asks), "{small:?}");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&platform(), dir.path());
    let line = "a line of a large configuration file, written out in full\n";
    std::fs::write(dir.path().join("blueprints/file.txt"), line.repeat(5_000)).expect("write");
    let large = config_maps(dir.path());
    assert!(
        !large.is_empty() && large.iter().all(asks),
        "ServerSideApply=true expected"
    );
}
