//! What a CNI makes of the rendered NetworkPolicies. Every cluster of the
//! example platform and of the fleet platform is populated with pods: each
//! rendered workload's (a canary's too), the ingress gateway's as Istio's
//! charts label it, Prometheus' as the Prometheus Operator labels it, and
//! strangers (an unlabelled pod in every namespace slipway owns, istiod,
//! Grafana beside Prometheus, and a pod in another namespace that copies a
//! service's labels). Every connection between them, on every port a pod
//! listens on, is judged by Kubernetes' rules, and must be admitted exactly
//! when the service declares it: its `allowFrom` callers on its ports, the
//! gateway on the ports its routes reach, Prometheus on the ports its
//! monitors scrape. The AuthorizationPolicy of the same service must admit
//! the same callers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use slipway::compile::{Project, Selection, open};
use slipway::lower::Object;

use crate::rendering::{Rendering, render};
use crate::support::root;

type Labels = BTreeMap<String, String>;

/// The label the API server sets on every namespace (Kubernetes 1.22+).
const NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";
/// What the injected sidecar listens on besides the app's ports: Envoy's
/// admin, outbound and inbound ports, the agent's status port, the health
/// port and Envoy's metrics (Istio's "Ports used by Istio").
const SIDECAR_PORTS: [i32; 6] = [15000, 15001, 15006, 15020, 15021, 15090];
const AGENT_PORT: i32 = 15020;
const ENVOY_STATS: (&str, i32) = ("http-envoy-prom", 15090);

/// Who a pod is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    /// A pod of a rendered service.
    Service(String),
    Gateway,
    Prometheus,
    Stranger,
}

#[derive(Debug)]
struct Pod {
    name: String,
    role: Role,
    namespace: String,
    labels: Labels,
    /// `(name, number)` of every port it listens on.
    ports: Vec<(Option<String>, i32)>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// --- Kubernetes' rules (networking.k8s.io/v1 NetworkPolicy) -------------

/// A label selector: every `matchLabels` entry and every expression.
fn selects(selector: &LabelSelector, labels: &Labels) -> bool {
    let simple = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.clone().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            other => panic!("unknown operator {other}"),
        }
    });
    simple && expressions
}

/// The cluster's policies, and its namespaces' labels.
struct Cni<'a> {
    policies: Vec<&'a NetworkPolicy>,
    namespaces: BTreeMap<String, Labels>,
}

impl Cni<'_> {
    /// Every namespace carries `kubernetes.io/metadata.name`; rendered ones
    /// their own labels too.
    fn namespace_labels(&self, namespace: &str) -> Labels {
        let mut labels = self.namespaces.get(namespace).cloned().unwrap_or_default();
        labels.insert(NAMESPACE_NAME.into(), namespace.into());
        labels
    }

    /// The policies that isolate `pod` for ingress: in its namespace, whose
    /// podSelector selects it (empty: all), with `Ingress` in policyTypes
    /// (absent: Ingress).
    fn isolating(&self, pod: &Pod) -> Vec<&NetworkPolicy> {
        self.policies
            .iter()
            .copied()
            .filter(|p| p.metadata.namespace.as_deref() == Some(pod.namespace.as_str()))
            .filter(|p| {
                let spec = p.spec.clone().unwrap_or_default();
                let ingress = spec
                    .policy_types
                    .is_none_or(|types| types.iter().any(|t| t == "Ingress"));
                ingress && spec.pod_selector.is_none_or(|s| selects(&s, &pod.labels))
            })
            .collect()
    }

    /// A connection from `source` to `target`'s `port` (TCP): allowed if no
    /// policy isolates the target, else if some rule of an isolating
    /// policy matches both its `from` and its `ports` (policies add up).
    fn admits(&self, source: &Pod, target: &Pod, port: i32) -> bool {
        let isolating = self.isolating(target);
        isolating.is_empty()
            || isolating.iter().any(|policy| {
                let namespace = policy.metadata.namespace.as_deref().unwrap_or_default();
                let spec = policy.spec.clone().unwrap_or_default();
                spec.ingress.iter().flatten().any(|rule| {
                    self.sources_match(rule, namespace, source) && port_matches(rule, target, port)
                })
            })
    }

    /// No `from`, or an empty one: every source; else any peer (OR).
    fn sources_match(
        &self,
        rule: &NetworkPolicyIngressRule,
        namespace: &str,
        source: &Pod,
    ) -> bool {
        let peers = rule.from.clone().unwrap_or_default();
        peers.is_empty()
            || peers
                .iter()
                .any(|p| self.peer_matches(p, namespace, source))
    }

    /// One peer: its namespaceSelector (absent: the policy's own namespace)
    /// AND its podSelector (absent: every pod there). Pod addresses are not
    /// modelled, so an ipBlock never matches a pod here.
    fn peer_matches(&self, peer: &NetworkPolicyPeer, namespace: &str, source: &Pod) -> bool {
        if peer.ip_block.is_some() {
            return false;
        }
        let in_namespace = match &peer.namespace_selector {
            None => source.namespace == namespace,
            Some(selector) => selects(selector, &self.namespace_labels(&source.namespace)),
        };
        let pod = peer
            .pod_selector
            .as_ref()
            .is_none_or(|s| selects(s, &source.labels));
        in_namespace && pod
    }
}

/// No `ports`, or an empty list: every port; else any entry: its protocol
/// (absent: TCP), a number (up to `endPort`), or a name the target's
/// containers give the port.
fn port_matches(rule: &NetworkPolicyIngressRule, target: &Pod, port: i32) -> bool {
    let ports = rule.ports.clone().unwrap_or_default();
    ports.is_empty()
        || ports.iter().any(|p| {
            let tcp = p.protocol.as_deref().is_none_or(|proto| proto == "TCP");
            let number = match &p.port {
                None => true,
                Some(IntOrString::Int(n)) => match p.end_port {
                    Some(end) => (*n..=end).contains(&port),
                    None => *n == port,
                },
                Some(IntOrString::String(name)) => target
                    .ports
                    .iter()
                    .any(|(n, number)| n.as_deref() == Some(name) && *number == port),
            };
            tcp && number
        })
}

// --- The cluster around the rendered objects ----------------------------

/// Istio's gateway chart labels a release's pods `app: <name>` and
/// `istio: <name without istio->`, and names its ServiceAccount after the
/// release (`manifests/charts/gateway`); the default ServiceAccount is the
/// legacy `istio-ingress` chart's, whose pods are
/// `app: istio-ingressgateway, istio: ingressgateway`.
fn gateway_pod(namespace: &str, service_account: Option<&str>) -> Pod {
    let (app, istio) = match service_account {
        None | Some("istio-ingressgateway-service-account") => (
            "istio-ingressgateway".to_owned(),
            "ingressgateway".to_owned(),
        ),
        Some(release) => (
            release.to_owned(),
            release.trim_start_matches("istio-").to_owned(),
        ),
    };
    Pod {
        name: format!("gateway {namespace}/{app}"),
        role: Role::Gateway,
        namespace: namespace.to_owned(),
        labels: labels(&[("app", &app), ("istio", &istio)]),
        ports: vec![(Some("http2".into()), 8080), (Some("https".into()), 8443)],
    }
}

/// The Prometheus Operator labels a Prometheus' pods with its name
/// (`pkg/prometheus/server/statefulset.go`); kube-prometheus names its
/// Prometheus `k8s` and its ServiceAccount `prometheus-k8s`.
fn prometheus_pod(account: &str) -> Pod {
    let (namespace, name) = account.split_once('/').expect("<namespace>/<name>");
    let instance = name.strip_prefix("prometheus-").unwrap_or(name);
    Pod {
        name: format!("prometheus {namespace}/{instance}"),
        role: Role::Prometheus,
        namespace: namespace.to_owned(),
        labels: labels(&[
            ("app.kubernetes.io/name", "prometheus"),
            ("app.kubernetes.io/managed-by", "prometheus-operator"),
            ("app.kubernetes.io/instance", instance),
            ("prometheus", instance),
            ("operator.prometheus.io/name", instance),
            ("operator.prometheus.io/shard", "0"),
        ]),
        ports: vec![(Some("web".into()), 9090)],
    }
}

fn stranger(namespace: &str, name: &str, pod_labels: Labels) -> Pod {
    Pod {
        name: format!("stranger {namespace}/{name}"),
        role: Role::Stranger,
        namespace: namespace.to_owned(),
        labels: pod_labels,
        ports: vec![(None, 8080)],
    }
}

/// The pods of a rendered workload after Istio's injector: the template's
/// labels and container ports, and the sidecar's. A Rollout runs a stable
/// and a canary pod, told apart by Argo Rollouts' hash label.
fn workload_pods(object: &Object) -> Vec<Pod> {
    let (template, canary) = match object {
        Object::Deployment(d) => (&d.spec.template, false),
        Object::Rollout(r) => (&r.spec.template, true),
        _ => return Vec::new(),
    };
    let meta = object.metadata();
    let service = meta.name.clone().unwrap_or_default();
    let mut ports: Vec<(Option<String>, i32)> = template
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| (p.name.clone(), p.container_port))
        .collect();
    ports.push((Some(ENVOY_STATS.0.into()), ENVOY_STATS.1));
    ports.extend(SIDECAR_PORTS.iter().map(|&p| (None, p)));
    let base = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let hashes: &[&str] = if canary { &["stable", "canary"] } else { &[""] };
    hashes
        .iter()
        .map(|hash| {
            let mut pod_labels = base.clone();
            if !hash.is_empty() {
                pod_labels.insert("rollouts-pod-template-hash".into(), (*hash).into());
            }
            Pod {
                name: format!("{service} {hash}").trim_end().to_owned(),
                role: Role::Service(service.clone()),
                namespace: meta.namespace.clone().unwrap_or_default(),
                labels: pod_labels,
                ports: ports.clone(),
            }
        })
        .collect()
}

// --- What each service declares ----------------------------------------

/// The objects of one cluster (`<env>/<region>`).
fn clusters(rendered: &Rendering) -> BTreeMap<String, Vec<&Object>> {
    let mut clusters: BTreeMap<String, Vec<&Object>> = BTreeMap::new();
    for (path, r) in &rendered.objects {
        let mut parts = path.splitn(3, '/');
        let (env, region) = (parts.next().expect("env"), parts.next().expect("region"));
        if !region.starts_with('_') {
            clusters
                .entry(format!("{env}/{region}"))
                .or_default()
                .push(&r.object);
        }
    }
    clusters
}

/// `mesh.allowFrom` as the blueprint writes it (no overlay of these
/// platforms changes it).
fn declared_callers(project: &Project, service: &str) -> Vec<String> {
    let blueprint = &project.inputs.blueprints[service].tree;
    blueprint
        .get("mesh")
        .and_then(|m| m.get("allowFrom"))
        .and_then(|a| a.as_seq())
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// The Service ports of the service's Service (`port`, container port).
fn service_port_pairs(objects: &[&Object], namespace: &str, service: &str) -> Vec<(i32, i32)> {
    objects
        .iter()
        .filter_map(|o| match o {
            Object::Service(s)
                if s.metadata.name.as_deref() == Some(service)
                    && s.metadata.namespace.as_deref() == Some(namespace) =>
            {
                s.spec.clone()
            }
            _ => None,
        })
        .flat_map(|spec| spec.ports.unwrap_or_default())
        .filter_map(|p| match p.target_port {
            Some(IntOrString::Int(n)) => Some((p.port, n)),
            _ => None,
        })
        .collect()
}

/// The container ports the service's Service sends to.
fn service_ports(objects: &[&Object], namespace: &str, service: &str) -> BTreeSet<i32> {
    service_port_pairs(objects, namespace, service)
        .into_iter()
        .map(|(_, target)| target)
        .collect()
}

/// The container ports the gateway's routes reach: each route's
/// destination port on the service's host, through its Service.
fn routed_ports(objects: &[&Object], namespace: &str, service: &str) -> BTreeSet<i32> {
    let host = format!("{service}.{namespace}.svc.cluster.local");
    let numbers: BTreeSet<i32> = objects
        .iter()
        .filter_map(|o| match o {
            Object::VirtualService(vs) if !vs.spec.gateways.is_empty() => Some(vs),
            _ => None,
        })
        .flat_map(|vs| vs.spec.http.iter().flat_map(|h| &h.route))
        .filter(|d| d.destination.host == host)
        .map(|d| d.destination.port.number)
        .collect();
    service_port_pairs(objects, namespace, service)
        .into_iter()
        .filter(|(port, _)| numbers.contains(port))
        .map(|(_, target)| target)
        .collect()
}

/// The ports of `pod` that the monitors scrape: a PodMonitor's named port,
/// or (metrics merging) the port the injector writes into
/// `prometheus.io/port`, the agent's; a ServiceMonitor's port of a Service
/// that selects the pod, by its target port.
fn scraped_ports(objects: &[&Object], pod: &Pod) -> BTreeSet<i32> {
    let mut ports = BTreeSet::new();
    for object in objects {
        match object {
            Object::PodMonitor(m)
                if m.metadata.namespace.as_deref() == Some(pod.namespace.as_str())
                    && selects(&m.spec.selector, &pod.labels) =>
            {
                for endpoint in &m.spec.pod_metrics_endpoints {
                    match &endpoint.port {
                        Some(name) => ports.extend(
                            pod.ports
                                .iter()
                                .filter(|(n, _)| n.as_deref() == Some(name))
                                .map(|(_, number)| *number),
                        ),
                        None => {
                            let follows_annotation = endpoint.relabelings.iter().any(|r| {
                                r.target_label.as_deref() == Some("__address__")
                                    && r.source_labels.iter().any(|l| {
                                        l == "__meta_kubernetes_pod_annotation_prometheus_io_port"
                                    })
                            });
                            assert!(follows_annotation, "{}: a port to scrape", pod.name);
                            ports.insert(AGENT_PORT);
                        }
                    }
                }
            }
            Object::ServiceMonitor(m)
                if m.metadata.namespace.as_deref() == Some(pod.namespace.as_str()) =>
            {
                for object in objects {
                    let Object::Service(s) = object else { continue };
                    let spec = s.spec.clone().unwrap_or_default();
                    let selected = s.metadata.namespace == m.metadata.namespace
                        && selects(
                            &m.spec.selector,
                            &s.metadata.labels.clone().unwrap_or_default(),
                        )
                        && spec.selector.as_ref().is_some_and(|sel| {
                            sel.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
                        });
                    if !selected {
                        continue;
                    }
                    for endpoint in &m.spec.endpoints {
                        let port = spec
                            .ports
                            .iter()
                            .flatten()
                            .find(|p| p.name.as_deref() == Some(endpoint.port.as_str()));
                        if let Some(IntOrString::Int(n)) = port.and_then(|p| p.target_port.clone())
                        {
                            ports.insert(n);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    ports
}

/// The callers (by service name) whose identities an AuthorizationPolicy
/// of `service` allows, the gateway and Prometheus left out.
fn authorized_callers(objects: &[&Object], namespace: &str, service: &str) -> BTreeSet<String> {
    objects
        .iter()
        .filter_map(|o| match o {
            Object::AuthorizationPolicy(p)
                if p.metadata.name.as_deref() == Some(service)
                    && p.metadata.namespace.as_deref() == Some(namespace) =>
            {
                Some(p)
            }
            _ => None,
        })
        .flat_map(|p| &p.spec.rules)
        .flat_map(|r| &r.from)
        .flat_map(|f| &f.source.principals)
        .filter_map(|principal| {
            let (_, account) = principal.strip_prefix("cluster.local/ns/")?.split_once("/sa/")?;
            Some(account.to_owned())
        })
        .filter(|account| {
            objects.iter().any(|o| {
                matches!(o, Object::ServiceAccount(sa) if sa.metadata.name.as_deref() == Some(account.as_str()))
            })
        })
        .collect()
}

// --- The test -----------------------------------------------------------

/// The CNI of a cluster: its NetworkPolicies and namespaces.
fn cni<'a>(objects: &[&'a Object]) -> Cni<'a> {
    Cni {
        policies: objects
            .iter()
            .filter_map(|o| match o {
                Object::NetworkPolicy(p) => Some(p),
                _ => None,
            })
            .collect(),
        namespaces: objects
            .iter()
            .filter_map(|o| match o {
                Object::Namespace(n) => Some((
                    n.metadata.name.clone().unwrap_or_default(),
                    n.metadata.labels.clone().unwrap_or_default(),
                )),
                _ => None,
            })
            .collect(),
    }
}

/// Whether the NetworkPolicies among `objects` let Prometheus (by its
/// ServiceAccount `<namespace>/<name>`, its pods labelled as the operator
/// labels them) reach `port` of a pod in `namespace` with `labels`.
pub(crate) fn prometheus_admitted(
    objects: &[&Object],
    account: &str,
    namespace: &str,
    labels: &Labels,
    port: i32,
) -> bool {
    let target = Pod {
        name: "the scraped pod".into(),
        role: Role::Stranger,
        namespace: namespace.to_owned(),
        labels: labels.clone(),
        ports: Vec::new(),
    };
    cni(objects).admits(&prometheus_pod(account), &target, port)
}

/// What was checked, to show the checks ran.
#[derive(Default, Debug)]
struct Seen {
    pods: usize,
    callers: usize,
    gateway: usize,
    prometheus: usize,
    denied: usize,
}

fn check_platform(dir: &Path) -> Seen {
    let (project, diags) = open(dir).expect("opens");
    assert!(diags.is_empty(), "{diags:?}");
    for entry in std::fs::read_dir(dir.join("overlays")).expect("overlays") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("text");
        assert!(
            !text.contains("allowFrom"),
            "the blueprints declare the callers"
        );
    }
    let rendered = render(&project, &Selection::default());
    let mut seen = Seen::default();
    for (cluster, objects) in clusters(&rendered) {
        let env = cluster.split('/').next().expect("env");
        check_cluster(&project, env, &cluster, &objects, &mut seen);
    }
    seen
}

fn check_cluster(
    project: &Project,
    env: &str,
    cluster: &str,
    objects: &[&Object],
    seen: &mut Seen,
) {
    let environment = &project.inputs.overlays[env].head.environment;
    let cni = cni(objects);
    let services: Vec<Pod> = objects.iter().flat_map(|o| workload_pods(o)).collect();
    let owned: BTreeSet<String> = cni.namespaces.keys().cloned().collect();
    let (gateway_namespace, _) = environment
        .gateway
        .value
        .split_once('/')
        .expect("<namespace>/<name>");
    let account = environment
        .prometheus_service_account
        .as_ref()
        .map(|account| account.value.clone())
        .unwrap_or_else(|| slipway::model::DEFAULT_PROMETHEUS_SERVICE_ACCOUNT.into());
    let prometheus = prometheus_pod(&account);
    let mut others = vec![
        gateway_pod(
            gateway_namespace,
            environment
                .gateway_service_account
                .as_ref()
                .map(|account| account.value.as_str()),
        ),
        stranger(
            "istio-system",
            "istiod",
            labels(&[("app", "istiod"), ("istio", "pilot")]),
        ),
        stranger(
            &prometheus.namespace,
            "grafana",
            labels(&[("app.kubernetes.io/name", "grafana")]),
        ),
    ];
    for namespace in &owned {
        others.push(stranger(namespace, "unlabelled", Labels::new()));
    }
    // A pod elsewhere that copies every service's labels.
    for pod in &services {
        others.push(stranger("elsewhere", &pod.name, pod.labels.clone()));
    }
    others.push(prometheus);
    let sources: Vec<&Pod> = services.iter().chain(&others).collect();

    // Every pod in a namespace slipway owns is isolated, the stranger's by
    // the namespace's default deny.
    for target in sources.iter().filter(|p| owned.contains(&p.namespace)) {
        assert!(
            !cni.isolating(target).is_empty(),
            "{cluster}: {} is isolated for ingress",
            target.name
        );
        if target.role == Role::Stranger {
            for source in &sources {
                for &(_, port) in &target.ports {
                    assert!(
                        !cni.admits(source, target, port),
                        "{cluster}: {} reaches the stranger",
                        source.name
                    );
                }
            }
        }
    }

    for target in &services {
        let Role::Service(service) = &target.role else {
            unreachable!()
        };
        let at = format!("{cluster}: {}", target.name);
        let ports = service_ports(objects, &target.namespace, service);
        let routed = routed_ports(objects, &target.namespace, service);
        let scraped = scraped_ports(objects, target);
        let rendered_services: BTreeSet<&str> = services
            .iter()
            .filter_map(|p| match &p.role {
                Role::Service(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        let declared: BTreeSet<String> = declared_callers(project, service)
            .into_iter()
            .filter(|c| rendered_services.contains(c.as_str()))
            .collect();
        assert!(
            !scraped.is_empty(),
            "{at}: Prometheus scrapes at least the sidecar"
        );
        let candidates: BTreeSet<i32> = target.ports.iter().map(|(_, n)| *n).collect();
        let mut admitted_callers = BTreeSet::new();
        for source in &sources {
            for &port in &candidates {
                let expected = match &source.role {
                    Role::Service(caller) => declared.contains(caller) && ports.contains(&port),
                    Role::Gateway => routed.contains(&port),
                    Role::Prometheus => scraped.contains(&port),
                    Role::Stranger => false,
                };
                let admitted = cni.admits(source, target, port);
                assert_eq!(
                    admitted, expected,
                    "{at}: {} on port {port} (declared callers {declared:?}, ports {ports:?}, routed {routed:?}, scraped {scraped:?})",
                    source.name
                );
                match (&source.role, admitted) {
                    (Role::Service(caller), true) => {
                        admitted_callers.insert(caller.clone());
                        seen.callers += 1;
                    }
                    (Role::Gateway, true) => seen.gateway += 1,
                    (Role::Prometheus, true) => seen.prometheus += 1,
                    (_, false) => seen.denied += 1,
                    _ => {}
                }
            }
        }
        // The two layers, from the one source.
        let authorized = authorized_callers(objects, &target.namespace, service);
        if ports.is_empty() {
            assert!(admitted_callers.is_empty(), "{at}: no port to call");
        } else {
            assert_eq!(
                admitted_callers, authorized,
                "{at}: NetworkPolicy and AuthorizationPolicy admit the same callers"
            );
            assert_eq!(admitted_callers, declared, "{at}");
        }
        seen.pods += 1;
    }
}

#[test]
fn the_example_platforms_pods_admit_exactly_their_declared_callers_gateway_and_prometheus() {
    let seen = check_platform(root());
    assert!(
        seen.pods > 0
            && seen.callers > 0
            && seen.gateway > 0
            && seen.prometheus > 0
            && seen.denied > 0,
        "{seen:?}"
    );
}

#[test]
fn the_fleet_platforms_pods_and_workers_admit_what_they_declare() {
    let seen = check_platform(&root().join("tests/fixtures/platforms/fleet"));
    assert!(
        seen.pods > 0 && seen.callers > 0 && seen.gateway > 0 && seen.prometheus > 0,
        "{seen:?}"
    );
}

/// A worker without ports admits Prometheus on the sidecar's metrics port
/// and nothing else: one rule, no callers, no gateway.
#[test]
fn a_worker_without_ports_admits_only_prometheus() {
    let (project, _) = open(&root().join("tests/fixtures/platforms/fleet")).expect("opens");
    let rendered = render(&project, &Selection::default());
    let policy = rendered
        .objects
        .iter()
        .find_map(|(path, r)| match &r.object {
            Object::NetworkPolicy(p) if path.starts_with("prod/eu-central-1/invoice-worker/") => {
                Some(p)
            }
            _ => None,
        })
        .expect("the worker's NetworkPolicy");
    let rules = policy
        .spec
        .clone()
        .unwrap_or_default()
        .ingress
        .unwrap_or_default();
    assert_eq!(rules.len(), 1, "{rules:#?}");
    let ports: Vec<_> = rules[0]
        .ports
        .iter()
        .flatten()
        .map(|p| p.port.clone())
        .collect();
    assert_eq!(ports, [Some(IntOrString::Int(AGENT_PORT))]);
}
