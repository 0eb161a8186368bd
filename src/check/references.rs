//! Consistency by construction, verified: every reference between the
//! rendered objects of one cluster resolves. A failure names both the
//! referring object and what it refers to. The checks read each object's
//! [`Facts`], not the object itself.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use rayon::prelude::*;

use super::facts::{
    Detail, Facts, IngressRule, Labels, PeerNamespace, PodEndpoint, Pods, RolloutRefs, Route,
    ServiceFacts,
};
use crate::diag::{Code, Diagnostic};
use crate::lower::{AGENT_PORT, ENVOY_STATS_PORT, Kind, SIDECAR_CONTAINER, SIDECAR_STATS_PORT};
use crate::model::External;

/// Labelled things of one namespace, found by their `app.kubernetes.io/name`
/// (what slipway's selectors select by) without a scan of the cluster.
struct ByLabels<'a, T> {
    by_name: HashMap<(&'a str, &'a str), Vec<(&'a Labels, T)>>,
    by_namespace: HashMap<&'a str, Vec<(&'a Labels, T)>>,
}

impl<'a, T: Copy> ByLabels<'a, T> {
    fn new() -> Self {
        ByLabels {
            by_name: HashMap::new(),
            by_namespace: HashMap::new(),
        }
    }

    fn insert(&mut self, namespace: &'a str, labels: &'a Labels, item: T) {
        if let Some(name) = labels.get(NAME_LABEL) {
            self.by_name
                .entry((namespace, name.as_str()))
                .or_default()
                .push((labels, item));
        }
        self.by_namespace
            .entry(namespace)
            .or_default()
            .push((labels, item));
    }

    /// Items in `namespace` whose labels satisfy `matches`, looked up by the
    /// name label when the selector has one.
    fn matching(
        &self,
        namespace: &str,
        name: Option<&String>,
        matches: impl Fn(&Labels) -> bool,
    ) -> Vec<T> {
        let candidates = match name {
            Some(name) => self.by_name.get(&(namespace, name.as_str())),
            None => self.by_namespace.get(namespace),
        };
        candidates
            .into_iter()
            .flatten()
            .filter(|(labels, _)| matches(labels))
            .map(|(_, item)| *item)
            .collect()
    }
}

const NAME_LABEL: &str = "app.kubernetes.io/name";

/// What the checks look objects up by.
struct Index<'a> {
    /// (kind, namespace, name)
    objects: HashMap<(Kind, &'a str, &'a str), &'a Facts>,
    /// Pods of Deployments and Rollouts.
    pods: ByLabels<'a, &'a Pods>,
    /// Services, by their own labels (for ServiceMonitors).
    services: ByLabels<'a, (&'a Facts, &'a ServiceFacts)>,
    /// The keys of the Secrets ExternalSecrets create, by (namespace, Secret).
    secret_keys: HashMap<(&'a str, &'a str), &'a [String]>,
}

impl<'a> Index<'a> {
    fn new(facts: &'a [Facts]) -> Self {
        let mut index = Index {
            objects: HashMap::with_capacity(facts.len()),
            pods: ByLabels::new(),
            services: ByLabels::new(),
            secret_keys: HashMap::new(),
        };
        for object in facts {
            let namespace = object.namespace.as_str();
            if let Some(pods) = object.pods() {
                index.pods.insert(namespace, &pods.labels, pods);
            }
            if let Detail::Service(service) = &object.detail {
                index
                    .services
                    .insert(namespace, &service.labels, (object, service));
            }
            if let Detail::ExternalSecret { target, keys } = &object.detail {
                index.secret_keys.insert((namespace, target), keys);
            }
            index
                .objects
                .insert((object.kind, namespace, object.name.as_str()), object);
        }
        index
    }

    fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&'a Facts> {
        self.objects.get(&(kind, namespace, name)).copied()
    }

    fn service(&self, namespace: &str, name: &str) -> Option<&'a ServiceFacts> {
        match &self.get(Kind::Service, namespace, name)?.detail {
            Detail::Service(service) => Some(service),
            _ => None,
        }
    }

    /// Pods in `namespace` whose labels `selector` matches.
    fn pods_matching(&self, namespace: &str, selector: &Labels) -> Vec<&'a Pods> {
        self.pods
            .matching(namespace, selector.get(NAME_LABEL), |labels| {
                matches(selector, labels)
            })
    }

    /// Pods in `namespace` that a label selector (a PodMonitor's) selects.
    fn pods_selected(&self, namespace: &str, selector: &LabelSelector) -> Vec<&'a Pods> {
        let name = selector
            .match_labels
            .as_ref()
            .and_then(|m| m.get(NAME_LABEL));
        self.pods
            .matching(namespace, name, |labels| matches_selector(selector, labels))
    }

    /// Services in `namespace` that a label selector selects.
    fn services_matching(
        &self,
        namespace: &str,
        selector: &LabelSelector,
    ) -> Vec<(&'a Facts, &'a ServiceFacts)> {
        let name = selector
            .match_labels
            .as_ref()
            .and_then(|m| m.get(NAME_LABEL));
        self.services
            .matching(namespace, name, |labels| matches_selector(selector, labels))
    }
}

fn matches(selector: &Labels, labels: &Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn matches_selector(selector: &LabelSelector, labels: &Labels) -> bool {
    let simple = selector
        .match_labels
        .as_ref()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let expressions = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&e.key),
            "DoesNotExist" => !labels.contains_key(&e.key),
            _ => false,
        }
    });
    simple && expressions
}

/// `Kind `namespace/name``, for messages.
fn named(object: &Facts) -> String {
    format!("{} `{}/{}`", object.kind, object.namespace, object.name)
}

/// Every broken reference among one cluster's objects. `external` lists
/// the principals and pods that live outside the rendered set (the ingress
/// gateway, Prometheus).
pub fn check(facts: &[Facts], external: &External) -> Vec<Diagnostic> {
    let (index, mut mtls) = rayon::join(
        || Index::new(facts),
        || {
            let mut found = Vec::new();
            strict_mtls(facts, &mut found);
            found
        },
    );
    let mut diags: Vec<Diagnostic> = facts
        .par_iter()
        .flat_map_iter(|object| {
            let mut found = Vec::new();
            object_refs(&index, object, external, &mut |message: String| {
                found.push(Diagnostic::error(
                    Code::DANGLING_REFERENCE,
                    object.origin,
                    message,
                ));
            });
            found
        })
        .collect();
    diags.append(&mut mtls);
    diags
}

/// The broken references of one object.
fn object_refs(
    index: &Index<'_>,
    object: &Facts,
    external: &External,
    broken: &mut impl FnMut(String),
) {
    let namespace = object.namespace.as_str();
    match &object.detail {
        Detail::Service(service) => service_pods(index, object, service, broken),
        Detail::Autoscaler {
            target_kind,
            target_name,
        } => {
            let kind = if target_kind == Kind::Rollout.name() {
                Kind::Rollout
            } else {
                Kind::Deployment
            };
            if index.get(kind, namespace, target_name).is_none() {
                broken(format!(
                    "{} scales {target_kind} `{namespace}/{target_name}`, which is not rendered",
                    named(object),
                ));
            }
        }
        Detail::DisruptionBudget { selector }
            if index.pods_matching(namespace, selector).is_empty() =>
        {
            broken(format!(
                "{} selects no pods of any rendered workload",
                named(object)
            ));
        }
        Detail::DestinationRule { host } if resolve_host(index, host).is_none() => {
            broken(format!(
                "{} is for host `{host}`, which no rendered Service has",
                named(object),
            ));
        }
        Detail::VirtualService(routes) => virtual_service(index, object, routes, broken),
        Detail::ServiceMonitor { selector, ports } => {
            monitor_refs(index, object, selector, ports, broken);
        }
        Detail::PodMonitor {
            selector,
            endpoints,
        } => pod_monitor_refs(index, object, selector, endpoints, broken),
        Detail::Workload(pods) => {
            merged_port(object, pods, broken);
            secret_refs(index, object, pods, &external.secrets, broken);
        }
        Detail::Rollout(rollout) => {
            merged_port(object, &rollout.pods, broken);
            secret_refs(index, object, &rollout.pods, &external.secrets, broken);
            rollout_refs(index, object, rollout, broken);
        }
        Detail::Authorization {
            selector,
            principals,
        } => authorization(
            index,
            object,
            selector,
            principals,
            &external.principals,
            broken,
        ),
        Detail::NetworkPolicy { selector, rules } => {
            network_policy(index, object, selector, rules, external, broken);
        }
        _ => {}
    }
}

/// `<name>.<namespace>.svc.cluster.local` -> the rendered Service.
fn resolve_host<'a>(index: &Index<'a>, host: &str) -> Option<&'a ServiceFacts> {
    let rest = host.strip_suffix(".svc.cluster.local")?;
    let (name, namespace) = rest.split_once('.')?;
    index.service(namespace, name)
}

fn service_pods(
    index: &Index<'_>,
    object: &Facts,
    service: &ServiceFacts,
    broken: &mut impl FnMut(String),
) {
    let Some(spec) = &service.spec else { return };
    let pods = index.pods_matching(&object.namespace, &spec.selector);
    if pods.is_empty() {
        broken(format!(
            "{} selects no pods of any rendered workload",
            named(object)
        ));
        return;
    }
    for port in &spec.ports {
        let Some(target) = port.target else {
            continue;
        };
        if !pods.iter().all(|pod| pod.ports.contains(&target)) {
            broken(format!(
                "{} sends port {} to {target}, which its pods do not expose",
                named(object),
                port.port
            ));
        }
    }
}

fn virtual_service(
    index: &Index<'_>,
    object: &Facts,
    routes: &[Route],
    broken: &mut impl FnMut(String),
) {
    for http in routes {
        let total: i32 = http.weights.iter().sum();
        if !http.weights.is_empty() && total != 100 {
            broken(format!(
                "route `{}` of {} has weights that add up to {total}, not 100",
                http.name,
                named(object),
            ));
        }
        for (host, port) in &http.destinations {
            match resolve_host(index, host) {
                None => broken(format!(
                    "route `{}` of {} sends traffic to `{host}`, which no rendered Service has",
                    http.name,
                    named(object),
                )),
                Some(service) => {
                    let mut ports = service.spec.iter().flat_map(|s| &s.ports);
                    if !ports.any(|p| p.port == *port) {
                        broken(format!(
                            "route `{}` of {} sends traffic to port {port} of `{host}`, which has no such port",
                            http.name,
                            named(object),
                        ));
                    }
                }
            }
        }
    }
}

fn rollout_refs(
    index: &Index<'_>,
    object: &Facts,
    rollout: &RolloutRefs,
    broken: &mut impl FnMut(String),
) {
    let namespace = object.namespace.as_str();
    for (role, name) in [
        ("canary", &rollout.canary_service),
        ("stable", &rollout.stable_service),
    ] {
        if index.service(namespace, name).is_none() {
            broken(format!(
                "{} names {role} Service `{namespace}/{name}`, which is not rendered",
                named(object)
            ));
        }
    }
    for (reference, wanted_routes) in &rollout.virtual_services {
        let (name, vs_namespace) = reference.split_once('.').unwrap_or((reference, namespace));
        let routes = index
            .get(Kind::VirtualService, vs_namespace, name)
            .and_then(|vs| match &vs.detail {
                Detail::VirtualService(routes) => Some(routes),
                _ => None,
            });
        let Some(routes) = routes else {
            broken(format!(
                "{} shifts weights in VirtualService `{vs_namespace}/{name}`, which is not rendered",
                named(object)
            ));
            continue;
        };
        for wanted in wanted_routes {
            if !routes.iter().any(|h| &h.name == wanted) {
                broken(format!(
                    "{} shifts route `{wanted}`, which VirtualService `{vs_namespace}/{name}` does not have",
                    named(object)
                ));
            }
        }
    }
    for template in &rollout.templates {
        if index
            .get(Kind::AnalysisTemplate, namespace, template)
            .is_none()
        {
            broken(format!(
                "{} runs AnalysisTemplate `{namespace}/{template}`, which is not rendered",
                named(object),
            ));
        }
    }
}

fn monitor_refs(
    index: &Index<'_>,
    object: &Facts,
    selector: &LabelSelector,
    ports: &[String],
    broken: &mut impl FnMut(String),
) {
    let namespace = object.namespace.as_str();
    let services = index.services_matching(namespace, selector);
    if services.is_empty() {
        broken(format!("{} selects no rendered Service", named(object)));
    }
    for port in ports {
        for (service, facts) in &services {
            let named_port = facts
                .spec
                .iter()
                .flat_map(|s| &s.ports)
                .any(|p| p.name.as_deref() == Some(port));
            if !named_port {
                let name = &service.name;
                broken(format!(
                    "{} scrapes port `{port}`, which Service `{namespace}/{name}` does not name",
                    named(object),
                ));
            }
        }
    }
}

/// A PodMonitor selects rendered pods, and what each endpoint scrapes is
/// there on all of them: a named container port, or a container its
/// relabelings keep; Istio's sidecar, where it is injected, runs
/// `istio-proxy` with Envoy's metrics port.
fn pod_monitor_refs(
    index: &Index<'_>,
    object: &Facts,
    selector: &LabelSelector,
    endpoints: &[PodEndpoint],
    broken: &mut impl FnMut(String),
) {
    let pods = index.pods_selected(&object.namespace, selector);
    if pods.is_empty() {
        broken(format!(
            "{} selects no pods of any rendered workload",
            named(object)
        ));
        return;
    }
    for endpoint in endpoints {
        if let Some(port) = &endpoint.port {
            let named_port =
                |p: &Pods| p.port_names.contains(port) || (p.sidecar && port == SIDECAR_STATS_PORT);
            if !pods.iter().all(|p| named_port(p)) {
                broken(format!(
                    "{} scrapes port `{port}`, which the pods it selects do not name",
                    named(object),
                ));
            }
        }
        if let Some(container) = &endpoint.container {
            let runs = |p: &Pods| {
                p.containers.contains(container) || (p.sidecar && container == SIDECAR_CONTAINER)
            };
            if !pods.iter().all(|p| runs(p)) {
                broken(format!(
                    "{} scrapes container `{container}`, which the pods it selects do not run",
                    named(object),
                ));
            }
        }
    }
}

/// The port a workload's pods ask Istio's agent to merge metrics from is
/// one their containers expose: the agent reads it over localhost.
fn merged_port(object: &Facts, pods: &Pods, broken: &mut impl FnMut(String)) {
    let Some(port) = &pods.merge_port else { return };
    if !port.parse().is_ok_and(|n: i32| pods.ports.contains(&n)) {
        broken(format!(
            "{} has Istio merge metrics from port `{port}`, which its containers do not expose",
            named(object),
        ));
    }
}

/// Every Secret key a workload's pods read is there: a key of the Secret
/// a rendered ExternalSecret creates, or of a Secret a blueprint names,
/// which exists in the cluster already (`external`). A Secret slipway
/// would own (an ExternalSecret's) that is not rendered, or lacks the key,
/// leaves the pod in `CreateContainerConfigError`.
fn secret_refs(
    index: &Index<'_>,
    object: &Facts,
    pods: &Pods,
    external: &BTreeSet<(String, String)>,
    broken: &mut impl FnMut(String),
) {
    let namespace = object.namespace.as_str();
    for (secret, key) in &pods.secrets {
        match index.secret_keys.get(&(namespace, secret.as_str())) {
            Some(keys) if keys.contains(key) => {}
            Some(_) => broken(format!(
                "{} reads key `{key}` of Secret `{namespace}/{secret}`, which its ExternalSecret does not create",
                named(object)
            )),
            None if external.contains(&(namespace.to_owned(), secret.clone())) => {}
            None => broken(format!(
                "{} reads Secret `{namespace}/{secret}`, which no rendered ExternalSecret creates and no blueprint names",
                named(object)
            )),
        }
    }
}

fn authorization(
    index: &Index<'_>,
    object: &Facts,
    selector: &Labels,
    principals: &[String],
    external: &BTreeSet<String>,
    broken: &mut impl FnMut(String),
) {
    if index.pods_matching(&object.namespace, selector).is_empty() {
        broken(format!(
            "{} selects no pods of any rendered workload",
            named(object)
        ));
    }
    for principal in principals.iter().filter(|p| !external.contains(*p)) {
        let account = principal
            .strip_prefix("cluster.local/ns/")
            .and_then(|rest| rest.split_once("/sa/"))
            .and_then(|(ns, name)| index.get(Kind::ServiceAccount, ns, name));
        if account.is_none() {
            broken(format!(
                "{} allows `{principal}`, which is no rendered ServiceAccount",
                named(object)
            ));
        }
    }
}

/// A NetworkPolicy that selects some pods (not a namespace's default deny)
/// selects rendered ones, admits only ports they expose (or, where Istio
/// injects its sidecar, the agent's and Envoy's metrics ports), and admits
/// pods that are rendered or named as external (the gateway, Prometheus).
/// A NetworkPolicy's port is a port of the pods it selects (Kubernetes'
/// `NetworkPolicyPort.port`: "the port on the given protocol").
fn network_policy(
    index: &Index<'_>,
    object: &Facts,
    selector: &LabelSelector,
    rules: &[IngressRule],
    external: &External,
    broken: &mut impl FnMut(String),
) {
    let everything = selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|e| e.is_empty());
    if !everything {
        let pods = index.pods_selected(&object.namespace, selector);
        if pods.is_empty() {
            broken(format!(
                "{} selects no pods of any rendered workload",
                named(object)
            ));
            return;
        }
        let exposed = |pod: &Pods, port: i32| {
            pod.ports.contains(&port)
                || (pod.sidecar && [AGENT_PORT, ENVOY_STATS_PORT].contains(&port))
        };
        let ports: BTreeSet<i32> = rules.iter().flat_map(|r| r.ports.iter().copied()).collect();
        for port in ports {
            if !pods.iter().all(|pod| exposed(pod, port)) {
                broken(format!(
                    "{} admits port {port}, which the pods it selects do not expose",
                    named(object)
                ));
            }
        }
    }
    for peer in rules.iter().flat_map(|r| &r.peers) {
        let namespace = match &peer.namespace {
            PeerNamespace::Own => &object.namespace,
            PeerNamespace::Named(name) => name,
            PeerNamespace::Selected => continue,
        };
        let labels = peer.pods.match_labels.clone().unwrap_or_default();
        let outside = external.pods.contains(&(namespace.clone(), labels.clone()));
        if !outside && index.pods_selected(namespace, &peer.pods).is_empty() {
            let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            broken(format!(
                "{} admits pods `{}` of namespace `{namespace}`, which no rendered workload runs",
                named(object),
                shown.join(","),
            ));
        }
    }
}

/// Every namespace that runs workloads has a namespace-wide STRICT PeerAuthentication.
fn strict_mtls(facts: &[Facts], diags: &mut Vec<Diagnostic>) {
    let strict: BTreeSet<&str> = facts
        .iter()
        .filter(|f| matches!(f.detail, Detail::PeerAuthentication { strict: true }))
        .map(|f| f.namespace.as_str())
        .collect();
    let mut reported = BTreeSet::new();
    for object in facts.iter().filter(|f| f.pods().is_some()) {
        let namespace = object.namespace.as_str();
        if !strict.contains(namespace) && reported.insert(namespace) {
            diags.push(Diagnostic::error(
                Code::MTLS_NOT_STRICT,
                object.origin,
                format!(
                    "namespace `{namespace}` runs {} but has no STRICT mTLS PeerAuthentication",
                    named(object)
                ),
            ));
        }
    }
}
