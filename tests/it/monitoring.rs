//! Monitoring through STRICT mTLS, as a cluster would see it. A small model
//! of Istio's injector (metrics merging on, its default), of Argo Rollouts
//! pinning the stable and canary Services to their ReplicaSets, and of
//! Prometheus' target discovery (the Prometheus Operator's relabelings,
//! one scrape per distinct target) runs over the rendered objects. Every
//! pod, stable and canary, before and during a rollout, must have its
//! sidecar's metrics and (with `monitoring.metrics`) the app's scraped
//! exactly once, in a way STRICT mTLS lets through, by monitors that carry
//! the overlay's labels.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use slipway::compile::{Project, Selection, open};
use slipway::crd::monitoring::{PodMonitor, Relabeling, ServiceMonitor};
use slipway::input::ScrapeMode;
use slipway::lower::Object;

use crate::rendering::render;
use crate::support::root;

type Labels = BTreeMap<String, String>;

const HASH_LABEL: &str = "rollouts-pod-template-hash";
/// Istio's agent (status port): the merged endpoint.
const AGENT_PORT: i32 = 15020;
/// Envoy's own metrics.
const ENVOY_PORT: i32 = 15090;
const STATS_PATH: &str = "/stats/prometheus";
const CERTS: [&str; 3] = [
    "/etc/prom-certs/root-cert.pem",
    "/etc/prom-certs/cert-chain.pem",
    "/etc/prom-certs/key.pem",
];

/// A pod as it runs, after Istio's injector.
struct Pod {
    /// `<workload>` or `<workload> (canary)`, for messages.
    name: String,
    namespace: String,
    labels: Labels,
    /// `(container, port name, number)`, the sidecar's included.
    ports: Vec<(String, Option<String>, i32)>,
    annotations: Labels,
    /// Where the agent reads the app's metrics: what the pod template's
    /// `prometheus.io/*` annotations said before the injector rewrote them.
    merged_from: Option<(i32, String)>,
    /// The app's own metrics endpoint, from its blueprint.
    app: Option<(i32, String)>,
}

/// One scrape Prometheus would run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Target {
    monitor: String,
    pod: String,
    labels: Vec<(String, String)>,
    port: i32,
    path: String,
    https_with_istio_certs: bool,
}

/// What scraping a pod found, per pod.
#[derive(Default)]
struct Tally {
    sidecar: usize,
    app: usize,
    refused: Vec<String>,
}

/// The injector with metrics merging on (Istio's default): the app's
/// `prometheus.io/*` annotations go to the agent, the pod's point at it.
fn inject(template: &PodTemplateSpec, name: String, app: Option<(i32, String)>) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let spec = template.spec.clone().unwrap_or_default();
    let mut ports: Vec<(String, Option<String>, i32)> = spec
        .containers
        .iter()
        .flat_map(|c| {
            c.ports
                .iter()
                .flatten()
                .map(|p| (c.name.clone(), p.name.clone(), p.container_port))
        })
        .collect();
    ports.push((
        "istio-proxy".into(),
        Some("http-envoy-prom".into()),
        ENVOY_PORT,
    ));
    let merged_from = annotations.get("prometheus.io/port").map(|port| {
        let path = annotations
            .get("prometheus.io/path")
            .cloned()
            .unwrap_or_else(|| "/metrics".into());
        (port.parse().expect("a port number"), path)
    });
    if annotations
        .get("prometheus.io/scrape")
        .is_none_or(|s| s != "false")
    {
        annotations.insert("prometheus.io/port".into(), AGENT_PORT.to_string());
        annotations.insert("prometheus.io/path".into(), STATS_PATH.into());
        annotations.insert("prometheus.io/scrape".into(), "true".into());
    }
    Pod {
        name,
        namespace: meta.namespace.unwrap_or_default(),
        labels: meta.labels.unwrap_or_default(),
        ports,
        annotations,
        merged_from,
        app,
    }
}

fn selects(selector: &LabelSelector, labels: &Labels) -> bool {
    assert!(
        selector.match_expressions.is_none(),
        "the model knows matchLabels only"
    );
    selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v))
}

/// The relabelings slipway renders, applied to one pod target: `keep` on
/// the container name, `replace` of the address from the annotated port,
/// `replace` of a target label. `None`: dropped.
fn relabel(
    relabelings: &[Relabeling],
    pod: &Pod,
    container: &str,
    mut port: i32,
    labels: &mut Labels,
) -> Option<i32> {
    for r in relabelings {
        let sources: Vec<&str> = r.source_labels.iter().map(String::as_str).collect();
        match (
            r.action.as_deref(),
            sources.as_slice(),
            r.target_label.as_deref(),
        ) {
            (Some("keep"), ["__meta_kubernetes_pod_container_name"], None) => {
                if r.regex.as_deref() != Some(container) {
                    return None;
                }
            }
            (
                Some("replace"),
                [
                    "__meta_kubernetes_pod_annotation_prometheus_io_port",
                    "__meta_kubernetes_pod_ip",
                ],
                Some("__address__"),
            ) => {
                // Pods have IPv4 addresses here: only the IPv4 rule matches.
                let ipv4 = r.regex.as_deref().is_some_and(|re| re.contains(r"\."));
                if let (true, Some(annotated)) = (ipv4, pod.annotations.get("prometheus.io/port")) {
                    port = annotated.parse().expect("a port number");
                }
            }
            (Some("replace"), [], Some(label)) => {
                labels.insert(label.into(), r.replacement.clone().unwrap_or_default());
            }
            other => panic!("the model does not know relabeling {other:?}"),
        }
    }
    Some(port)
}

fn pod_monitor_targets(monitor: &PodMonitor, pod: &Pod) -> Vec<Target> {
    let namespace = monitor.metadata.namespace.as_deref().unwrap_or_default();
    if namespace != pod.namespace || !selects(&monitor.spec.selector, &pod.labels) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for endpoint in &monitor.spec.pod_metrics_endpoints {
        for (container, name, number) in &pod.ports {
            if endpoint.port.is_some() && endpoint.port.as_ref() != name.as_ref() {
                continue;
            }
            let mut labels = Labels::from([
                (
                    "job".into(),
                    format!("{namespace}/{}", name_of(&monitor.metadata)),
                ),
                ("pod".into(), pod.name.clone()),
                ("container".into(), container.clone()),
            ]);
            if let Some(port) = &endpoint.port {
                labels.insert("endpoint".into(), port.clone());
            }
            let Some(port) = relabel(&endpoint.relabelings, pod, container, *number, &mut labels)
            else {
                continue;
            };
            out.push(Target {
                monitor: format!("PodMonitor {namespace}/{}", name_of(&monitor.metadata)),
                pod: pod.name.clone(),
                labels: labels.into_iter().collect(),
                port,
                path: endpoint.path.clone().unwrap_or_else(|| "/metrics".into()),
                https_with_istio_certs: false,
            });
        }
    }
    out
}

/// A Service as it selects pods at one moment: its labels, its selector
/// (with the ReplicaSet hash Argo Rollouts pins it to), its ports.
struct LiveService {
    name: String,
    namespace: String,
    labels: Labels,
    selector: Labels,
    /// `(name, target port)`
    ports: Vec<(String, i32)>,
}

fn service_monitor_targets(
    monitor: &ServiceMonitor,
    services: &[LiveService],
    pods: &[Pod],
) -> Vec<Target> {
    let namespace = monitor.metadata.namespace.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    for service in services
        .iter()
        .filter(|s| s.namespace == namespace && selects(&monitor.spec.selector, &s.labels))
    {
        for pod in pods.iter().filter(|p| {
            p.namespace == namespace
                && service
                    .selector
                    .iter()
                    .all(|(k, v)| p.labels.get(k) == Some(v))
        }) {
            for endpoint in &monitor.spec.endpoints {
                let Some((_, target)) = service.ports.iter().find(|(n, _)| n == &endpoint.port)
                else {
                    continue;
                };
                let job = match &monitor.spec.job_label {
                    Some(label) => service.labels.get(label).cloned().unwrap_or_default(),
                    None => service.name.clone(),
                };
                let mut labels = Labels::from([
                    ("job".into(), job),
                    ("service".into(), service.name.clone()),
                    ("pod".into(), pod.name.clone()),
                    ("endpoint".into(), endpoint.port.clone()),
                ]);
                let port =
                    relabel(&endpoint.relabelings, pod, "app", *target, &mut labels).expect("kept");
                let tls = endpoint.tls_config.as_ref().is_some_and(|t| {
                    [&t.ca_file, &t.cert_file, &t.key_file] == CERTS && t.insecure_skip_verify
                });
                out.push(Target {
                    monitor: format!("ServiceMonitor {namespace}/{}", name_of(&monitor.metadata)),
                    pod: pod.name.clone(),
                    labels: labels.into_iter().collect(),
                    port,
                    path: endpoint.path.clone().unwrap_or_else(|| "/metrics".into()),
                    https_with_istio_certs: endpoint.scheme.as_deref() == Some("https") && tls,
                });
            }
        }
    }
    out
}

/// Istio's `envoy-stats-monitor` sample, for a cluster that scrapes the
/// mesh itself: the sidecar, at the annotated port, where annotated.
fn istio_sample_targets(pod: &Pod) -> Vec<Target> {
    if !pod.annotations.contains_key("prometheus.io/scrape") {
        return Vec::new();
    }
    let port = pod.annotations["prometheus.io/port"]
        .parse()
        .expect("a port");
    vec![Target {
        monitor: "PodMonitor istio-system/envoy-stats-monitor".into(),
        pod: pod.name.clone(),
        labels: vec![("pod".into(), pod.name.clone())],
        port,
        path: STATS_PATH.into(),
        https_with_istio_certs: false,
    }]
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// What the targets of one moment scrape on each pod. Prometheus runs one
/// scrape per distinct target of a monitor's endpoint.
fn tally(targets: Vec<Target>, pods: &[Pod]) -> BTreeMap<String, Tally> {
    let unique: BTreeSet<Target> = targets.into_iter().collect();
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for target in unique {
        let pod = pods
            .iter()
            .find(|p| p.name == target.pod)
            .expect("a target is a pod");
        let found = out.entry(target.pod.clone()).or_default();
        let at = (target.port, target.path.as_str());
        let outside_capture = matches!(target.port, AGENT_PORT | ENVOY_PORT);
        if !outside_capture && !target.https_with_istio_certs {
            found.refused.push(format!(
                "{} scrapes port {} in plain HTTP, which STRICT mTLS refuses",
                target.monitor, target.port
            ));
            continue;
        }
        if at == (AGENT_PORT, STATS_PATH) {
            found.sidecar += 1;
            found.app += usize::from(pod.merged_from.is_some());
        } else if at == (ENVOY_PORT, STATS_PATH) {
            found.sidecar += 1;
        } else if pod
            .app
            .as_ref()
            .is_some_and(|(p, path)| at == (*p, path.as_str()))
        {
            found.app += 1;
        } else {
            found
                .refused
                .push(format!("{} scrapes nothing at {at:?}", target.monitor));
        }
    }
    out
}

/// The environment's monitoring settings, as its overlay writes them.
struct Mode {
    scrape: ScrapeMode,
    mesh_scraped: bool,
    labels: Labels,
    prometheus: String,
    /// Prometheus' ServiceAccount, `<namespace>/<name>`.
    account: String,
}

fn mode(project: &Project, env: &str) -> Mode {
    let environment = &project.inputs.overlays[env].head.environment;
    let monitoring = environment.monitoring.as_ref();
    let account = environment
        .prometheus_service_account
        .as_ref()
        .map(|account| account.value.clone())
        .unwrap_or_else(|| slipway::model::DEFAULT_PROMETHEUS_SERVICE_ACCOUNT.into());
    let (ns, sa) = account.split_once('/').expect("<namespace>/<name>");
    Mode {
        scrape: monitoring
            .and_then(|m| m.scrape)
            .unwrap_or(ScrapeMode::Merged),
        mesh_scraped: monitoring.and_then(|m| m.mesh_scraped).unwrap_or(false),
        labels: monitoring.map(|m| m.labels.clone()).unwrap_or_default(),
        prometheus: format!("cluster.local/ns/{ns}/sa/{sa}"),
        account: account.clone(),
    }
}

/// The app's metrics port (target port) and path, from its blueprint.
fn app_metrics(
    project: &Project,
    service: &str,
    template: &PodTemplateSpec,
) -> Option<(i32, String)> {
    let metrics = project.inputs.blueprints[service]
        .tree
        .get("monitoring")?
        .get("metrics")?;
    let port = metrics.get("port")?.as_str()?;
    let path = metrics
        .get("path")
        .and_then(|p| p.as_str())
        .unwrap_or("/metrics");
    let number = template.spec.as_ref()?.containers[0]
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(port))?
        .container_port;
    Some((number, path.to_owned()))
}

/// Check every cluster of a project; returns how many pods were checked.
fn check_project(dir: &Path) -> usize {
    let (project, diags) = open(dir).expect("opens");
    assert!(diags.is_empty(), "{diags:?}");
    let rendered = render(&project, &Selection::default());
    let mut clusters: BTreeMap<String, Vec<&Object>> = BTreeMap::new();
    for (path, r) in &rendered.objects {
        let mut parts = path.splitn(3, '/');
        let (env, region) = (parts.next().expect("env"), parts.next().expect("region"));
        if region != "_argocd" {
            clusters
                .entry(format!("{env}/{region}"))
                .or_default()
                .push(&r.object);
        }
    }
    let mut checked = 0;
    for (cluster, objects) in &clusters {
        let env = cluster.split('/').next().expect("env");
        checked += check_cluster(&project, cluster, &mode(&project, env), objects);
    }
    checked
}

fn check_cluster(project: &Project, cluster: &str, mode: &Mode, objects: &[&Object]) -> usize {
    let strict: BTreeSet<&str> = objects
        .iter()
        .filter_map(|o| match o {
            Object::PeerAuthentication(p) if p.spec.mtls.mode == "STRICT" => {
                p.metadata.namespace.as_deref()
            }
            _ => None,
        })
        .collect();
    let pod_monitors: Vec<&PodMonitor> = objects
        .iter()
        .filter_map(|o| match o {
            Object::PodMonitor(m) => Some(m),
            _ => None,
        })
        .collect();
    let service_monitors: Vec<&ServiceMonitor> = objects
        .iter()
        .filter_map(|o| match o {
            Object::ServiceMonitor(m) => Some(m),
            _ => None,
        })
        .collect();
    // The labels the cluster's Prometheus selects by.
    for object in objects {
        let meta = match object {
            Object::PodMonitor(m) => &m.metadata,
            Object::ServiceMonitor(m) => &m.metadata,
            Object::PrometheusRule(r) => &r.metadata,
            _ => continue,
        };
        let labels = meta.labels.clone().unwrap_or_default();
        for (k, v) in &mode.labels {
            assert_eq!(
                labels.get(k),
                Some(v),
                "{cluster}: {} lacks {k}",
                name_of(meta)
            );
        }
    }
    if mode.mesh_scraped {
        assert!(
            pod_monitors.is_empty(),
            "{cluster}: the mesh is scraped already"
        );
    }
    if mode.scrape == ScrapeMode::Merged {
        assert!(
            service_monitors.is_empty(),
            "{cluster}: merged needs no ServiceMonitor"
        );
    }
    // Two moments: between rollouts (every pod of a Rollout at the stable
    // hash, both Services pinned to it), and during one (a canary pod).
    let mut checked = 0;
    for rolling in [false, true] {
        let mut pods = Vec::new();
        let mut pinned: BTreeMap<String, String> = BTreeMap::new();
        for object in objects {
            let (template, name, canary) = match object {
                Object::Deployment(d) => (&d.spec.template, name_of(&d.metadata), None),
                Object::Rollout(r) => (
                    &r.spec.template,
                    name_of(&r.metadata),
                    Some(&r.spec.strategy.canary),
                ),
                _ => continue,
            };
            let namespace = object.metadata().namespace.clone().unwrap_or_default();
            let mut template = template.clone();
            template.metadata.get_or_insert_default().namespace = Some(namespace.clone());
            let app = app_metrics(project, name, &template);
            let with_hash = |hash: &str| {
                let mut t = template.clone();
                let meta = t.metadata.get_or_insert_default();
                meta.labels
                    .get_or_insert_default()
                    .insert(HASH_LABEL.into(), hash.into());
                t
            };
            match canary {
                None => pods.push(inject(&template, name.to_owned(), app)),
                Some(strategy) => {
                    pods.push(inject(&with_hash("stable"), name.to_owned(), app.clone()));
                    let canary_hash = if rolling { "canary" } else { "stable" };
                    pinned.insert(strategy.stable_service.clone(), "stable".into());
                    pinned.insert(strategy.canary_service.clone(), canary_hash.into());
                    if rolling {
                        pods.push(inject(
                            &with_hash("canary"),
                            format!("{name} (canary)"),
                            app,
                        ));
                    }
                }
            }
        }
        let services: Vec<LiveService> = objects
            .iter()
            .filter_map(|o| match o {
                Object::Service(s) => Some(s),
                _ => None,
            })
            .map(|s| {
                let name = name_of(&s.metadata).to_owned();
                let spec = s.spec.clone().unwrap_or_default();
                let mut selector = spec.selector.unwrap_or_default();
                if let Some(hash) = pinned.get(&name) {
                    selector.insert(HASH_LABEL.into(), hash.clone());
                }
                LiveService {
                    namespace: s.metadata.namespace.clone().unwrap_or_default(),
                    labels: s.metadata.labels.clone().unwrap_or_default(),
                    selector,
                    ports: spec
                        .ports
                        .iter()
                        .flatten()
                        .map(|p| {
                            let target = match &p.target_port {
                                Some(IntOrString::Int(n)) => *n,
                                _ => p.port,
                            };
                            (p.name.clone().unwrap_or_default(), target)
                        })
                        .collect(),
                    name,
                }
            })
            .collect();
        let mut targets = Vec::new();
        for pod in &pods {
            for monitor in &pod_monitors {
                targets.extend(pod_monitor_targets(monitor, pod));
            }
            if mode.mesh_scraped {
                targets.extend(istio_sample_targets(pod));
            }
        }
        for monitor in &service_monitors {
            targets.extend(service_monitor_targets(monitor, &services, &pods));
        }
        // The NetworkPolicies let Prometheus' pods make every scrape.
        for target in &targets {
            let pod = pods.iter().find(|p| p.name == target.pod).expect("a pod");
            assert!(
                crate::network::prometheus_admitted(
                    objects,
                    &mode.account,
                    &pod.namespace,
                    &pod.labels,
                    target.port
                ),
                "{cluster}: the NetworkPolicies let {} scrape {} on port {}",
                target.monitor,
                pod.name,
                target.port
            );
        }
        let tallies = tally(targets, &pods);
        for pod in &pods {
            let at = format!("{cluster}: pod of {} (rolling: {rolling})", pod.name);
            assert!(strict.contains(pod.namespace.as_str()), "{at}: STRICT mTLS");
            let none = Tally::default();
            let found = tallies.get(&pod.name).unwrap_or(&none);
            assert!(found.refused.is_empty(), "{at}: {:?}", found.refused);
            assert_eq!(
                found.sidecar, 1,
                "{at}: the sidecar's metrics are scraped once"
            );
            let wanted = usize::from(pod.app.is_some());
            assert_eq!(
                found.app, wanted,
                "{at}: the app's metrics are scraped {wanted} times"
            );
            if mode.scrape == ScrapeMode::Merged {
                assert_eq!(
                    pod.merged_from, pod.app,
                    "{at}: the agent merges the app's metrics"
                );
            }
            authorization(cluster, mode, objects, pod);
            checked += 1;
        }
    }
    checked
}

/// `istio-certs`: the pod's AuthorizationPolicy lets Prometheus' principal
/// reach the metrics port; `merged`: no rule names Prometheus, since no
/// scrape passes the inbound listener.
fn authorization(cluster: &str, mode: &Mode, objects: &[&Object], pod: &Pod) {
    let policies: Vec<_> = objects
        .iter()
        .filter_map(|o| match o {
            Object::AuthorizationPolicy(p)
                if p.metadata.namespace.as_deref() == Some(pod.namespace.as_str())
                    && p.spec
                        .selector
                        .match_labels
                        .iter()
                        .all(|(k, v)| pod.labels.get(k) == Some(v)) =>
            {
                Some(p)
            }
            _ => None,
        })
        .collect();
    let prometheus_ports: Vec<&String> = policies
        .iter()
        .flat_map(|p| &p.spec.rules)
        .filter(|r| {
            r.from
                .iter()
                .any(|f| f.source.principals.contains(&mode.prometheus))
        })
        .flat_map(|r| &r.to)
        .flat_map(|t| &t.operation.ports)
        .collect();
    let at = format!("{cluster}: pod of {}", pod.name);
    match (mode.scrape, &pod.app) {
        (ScrapeMode::IstioCerts, Some((port, _))) => assert!(
            prometheus_ports.contains(&&port.to_string()),
            "{at}: Prometheus is allowed on port {port}: {prometheus_ports:?}"
        ),
        _ => assert!(
            prometheus_ports.is_empty(),
            "{at}: no rule for Prometheus: {prometheus_ports:?}"
        ),
    }
}

#[test]
fn the_example_platform_scrapes_every_pod_once_through_strict_mtls() {
    let (project, _) = open(root()).expect("opens");
    // The example covers both modes: dev merges, staging and prod use certificates.
    assert_eq!(mode(&project, "dev").scrape, ScrapeMode::Merged);
    assert_eq!(mode(&project, "prod").scrape, ScrapeMode::IstioCerts);
    assert!(check_project(root()) > 0);
}

/// The example platform in a scratch folder, each overlay's text edited.
fn example_with(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for folder in ["blueprints", "overlays"] {
        fs::create_dir_all(dir.path().join(folder)).expect("mkdir");
        for entry in fs::read_dir(root().join(folder)).expect("readable") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("a file").to_owned();
            let mut text = fs::read_to_string(&path).expect("text");
            if folder == "overlays" {
                let env = path.file_stem().and_then(|s| s.to_str()).expect("a stem");
                text = edit(env, text);
            }
            fs::write(dir.path().join(folder).join(name), text).expect("written");
        }
    }
    dir
}

#[test]
fn a_canary_with_merged_metrics_is_scraped_by_its_pods() {
    // staging runs checkout as a canary; merge its metrics instead.
    let dir = example_with(|_, text| text.replace("scrape: istio-certs", "scrape: merged"));
    let (project, _) = open(dir.path()).expect("opens");
    assert_eq!(mode(&project, "staging").scrape, ScrapeMode::Merged);
    assert!(check_project(dir.path()) > 0);
}

#[test]
fn a_cluster_that_scrapes_the_mesh_itself_gets_no_pod_monitors_and_no_double_scrapes() {
    let dir = example_with(|_, text| {
        text.replace("  monitoring:\n", "  monitoring:\n    meshScraped: true\n")
    });
    let (project, _) = open(dir.path()).expect("opens");
    for env in ["dev", "staging", "prod"] {
        assert!(mode(&project, env).mesh_scraped, "{env}");
    }
    assert!(check_project(dir.path()) > 0);
}
