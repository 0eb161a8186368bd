//! Score workloads (tests/fixtures/platforms/score) rendered in every
//! environment: the Deployments, Services and variables slipway makes of
//! them, and what the kubelet makes of the variables their placeholders
//! became.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use slipway::compile::{Selection, open};
use slipway::lower::Object;

use crate::rendering::{Rendering, render};
use crate::support::{read_tree, root, run_in};

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
    assert_eq!(files["my_file"], "written for example-workload-name123");
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
