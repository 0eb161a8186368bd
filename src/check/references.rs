//! Consistency by construction, verified: every reference between the
//! rendered objects of one cluster resolves. A failure names both the
//! referring object and what it refers to.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use rayon::prelude::*;

use crate::crd::argo::Rollout;
use crate::crd::istio::{AuthorizationPolicy, VirtualService};
use crate::crd::monitoring::ServiceMonitor;
use crate::diag::Diagnostic;
use crate::lower::{Object, Rendered};

type Labels = BTreeMap<String, String>;

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
static NO_LABELS: Labels = BTreeMap::new();

/// What the checks look objects up by.
struct Index<'a> {
    /// (kind, namespace, name)
    objects: HashMap<(&'static str, &'a str, &'a str), &'a Rendered>,
    /// Pod templates of Deployments and Rollouts.
    pods: ByLabels<'a, &'a PodTemplateSpec>,
    /// Services, by their own labels (for ServiceMonitors).
    services: ByLabels<'a, &'a Service>,
}

impl<'a> Index<'a> {
    fn new(objects: &'a [Rendered]) -> Self {
        let mut index = Index {
            objects: HashMap::new(),
            pods: ByLabels::new(),
            services: ByLabels::new(),
        };
        for rendered in objects {
            let meta = rendered.object.metadata();
            let namespace = meta.namespace.as_deref().unwrap_or_default();
            let (_, kind) = rendered.object.type_of();
            match &rendered.object {
                Object::Deployment(d) => {
                    index
                        .pods
                        .insert(namespace, pod_labels(&d.spec.template), &d.spec.template)
                }
                Object::Rollout(r) => {
                    index
                        .pods
                        .insert(namespace, pod_labels(&r.spec.template), &r.spec.template)
                }
                Object::Service(s) => index.services.insert(
                    namespace,
                    s.metadata.labels.as_ref().unwrap_or(&NO_LABELS),
                    s,
                ),
                _ => {}
            }
            index.objects.insert(
                (kind, namespace, meta.name.as_deref().unwrap_or_default()),
                rendered,
            );
        }
        index
    }

    fn get(&self, kind: &'static str, namespace: &str, name: &str) -> Option<&'a Object> {
        self.objects
            .get(&(kind, namespace, name))
            .map(|r| &r.object)
    }

    fn service(&self, namespace: &str, name: &str) -> Option<&'a Service> {
        match self.get("Service", namespace, name)? {
            Object::Service(service) => Some(service),
            _ => None,
        }
    }

    /// Pod templates in `namespace` whose labels `selector` matches.
    fn pods_matching(&self, namespace: &str, selector: &Labels) -> Vec<&'a PodTemplateSpec> {
        self.pods
            .matching(namespace, selector.get(NAME_LABEL), |labels| {
                matches(selector, labels)
            })
    }

    /// Services in `namespace` that a label selector selects.
    fn services_matching(&self, namespace: &str, selector: &LabelSelector) -> Vec<&'a Service> {
        let name = selector
            .match_labels
            .as_ref()
            .and_then(|m| m.get(NAME_LABEL));
        self.services
            .matching(namespace, name, |labels| matches_selector(selector, labels))
    }
}

fn pod_labels(pod: &PodTemplateSpec) -> &Labels {
    pod.metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .unwrap_or(&NO_LABELS)
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
fn named(rendered: &Rendered) -> String {
    let id = rendered.object.id();
    format!("{} `{}/{}`", id.kind, id.namespace, id.name)
}

/// Every broken reference among one cluster's objects. `external` lists
/// principals that live outside the rendered set (the ingress gateway,
/// Prometheus).
pub fn check(objects: &[Rendered], external: &BTreeSet<String>) -> Vec<Diagnostic> {
    let index = Index::new(objects);
    let mut diags: Vec<Diagnostic> = objects
        .par_iter()
        .flat_map_iter(|rendered| {
            let mut found = Vec::new();
            object_refs(&index, rendered, external, &mut |message: String| {
                found.push(Diagnostic::error(rendered.origin, message));
            });
            found
        })
        .collect();
    strict_mtls(objects, &mut diags);
    diags
}

/// The broken references of one object.
fn object_refs(
    index: &Index<'_>,
    rendered: &Rendered,
    external: &BTreeSet<String>,
    broken: &mut impl FnMut(String),
) {
    let namespace = rendered.object.id().namespace;
    match &rendered.object {
        Object::Service(service) => service_pods(index, rendered, &namespace, service, broken),
        Object::HorizontalPodAutoscaler(hpa) => {
            let target = &hpa.spec.scale_target_ref;
            let kind = if target.kind == "Rollout" {
                "Rollout"
            } else {
                "Deployment"
            };
            if index.get(kind, &namespace, &target.name).is_none() {
                broken(format!(
                    "{} scales {} `{namespace}/{}`, which is not rendered",
                    named(rendered),
                    target.kind,
                    target.name
                ));
            }
        }
        Object::PodDisruptionBudget(pdb) => {
            let selector = pdb
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| s.match_labels.clone())
                .unwrap_or_default();
            if index.pods_matching(&namespace, &selector).is_empty() {
                broken(format!(
                    "{} selects no pods of any rendered workload",
                    named(rendered)
                ));
            }
        }
        Object::DestinationRule(rule) if resolve_host(index, &rule.spec.host).is_none() => {
            broken(format!(
                "{} is for host `{}`, which no rendered Service has",
                named(rendered),
                rule.spec.host
            ));
        }
        Object::VirtualService(route) => virtual_service(index, rendered, route, broken),
        Object::Rollout(rollout) => rollout_refs(index, rendered, &namespace, rollout, broken),
        Object::ServiceMonitor(monitor) => {
            monitor_refs(index, rendered, &namespace, monitor, broken)
        }
        Object::AuthorizationPolicy(policy) => {
            authorization(index, rendered, &namespace, policy, external, broken)
        }
        _ => {}
    }
}

/// `<name>.<namespace>.svc.cluster.local` -> the rendered Service.
fn resolve_host<'a>(index: &Index<'a>, host: &str) -> Option<&'a Service> {
    let rest = host.strip_suffix(".svc.cluster.local")?;
    let (name, namespace) = rest.split_once('.')?;
    index.service(namespace, name)
}

fn service_pods(
    index: &Index<'_>,
    rendered: &Rendered,
    namespace: &str,
    service: &Service,
    broken: &mut impl FnMut(String),
) {
    let Some(spec) = &service.spec else { return };
    let selector = spec.selector.clone().unwrap_or_default();
    let pods = index.pods_matching(namespace, &selector);
    if pods.is_empty() {
        broken(format!(
            "{} selects no pods of any rendered workload",
            named(rendered)
        ));
        return;
    }
    for port in spec.ports.iter().flatten() {
        let Some(IntOrString::Int(target)) = &port.target_port else {
            continue;
        };
        let served = pods.iter().all(|pod| {
            pod.spec
                .iter()
                .flat_map(|s| &s.containers)
                .flat_map(|c| c.ports.iter().flatten())
                .any(|p| p.container_port == *target)
        });
        if !served {
            broken(format!(
                "{} sends port {} to {target}, which its pods do not expose",
                named(rendered),
                port.port
            ));
        }
    }
}

fn virtual_service(
    index: &Index<'_>,
    rendered: &Rendered,
    route: &VirtualService,
    broken: &mut impl FnMut(String),
) {
    for http in &route.spec.http {
        let weights: Vec<i32> = http.route.iter().filter_map(|d| d.weight).collect();
        if !weights.is_empty() && weights.iter().sum::<i32>() != 100 {
            broken(format!(
                "route `{}` of {} has weights that add up to {}, not 100",
                http.name,
                named(rendered),
                weights.iter().sum::<i32>()
            ));
        }
        for destination in http.route.iter().map(|d| &d.destination) {
            match resolve_host(index, &destination.host) {
                None => broken(format!(
                    "route `{}` of {} sends traffic to `{}`, which no rendered Service has",
                    http.name,
                    named(rendered),
                    destination.host
                )),
                Some(service) => {
                    let ports = service.spec.iter().flat_map(|s| s.ports.iter().flatten());
                    if !ports.clone().any(|p| p.port == destination.port.number) {
                        broken(format!(
                            "route `{}` of {} sends traffic to port {} of `{}`, which has no such port",
                            http.name,
                            named(rendered),
                            destination.port.number,
                            destination.host
                        ));
                    }
                }
            }
        }
    }
}

fn rollout_refs(
    index: &Index<'_>,
    rendered: &Rendered,
    namespace: &str,
    rollout: &Rollout,
    broken: &mut impl FnMut(String),
) {
    let canary = &rollout.spec.strategy.canary;
    for (role, name) in [
        ("canary", &canary.canary_service),
        ("stable", &canary.stable_service),
    ] {
        if index.service(namespace, name).is_none() {
            broken(format!(
                "{} names {role} Service `{namespace}/{name}`, which is not rendered",
                named(rendered)
            ));
        }
    }
    for reference in &canary.traffic_routing.istio.virtual_services {
        let (name, vs_namespace) = reference
            .name
            .split_once('.')
            .unwrap_or((&reference.name, namespace));
        let Some(Object::VirtualService(route)) = index.get("VirtualService", vs_namespace, name)
        else {
            broken(format!(
                "{} shifts weights in VirtualService `{vs_namespace}/{name}`, which is not rendered",
                named(rendered)
            ));
            continue;
        };
        for wanted in &reference.routes {
            if !route.spec.http.iter().any(|h| &h.name == wanted) {
                broken(format!(
                    "{} shifts route `{wanted}`, which VirtualService `{vs_namespace}/{name}` does not have",
                    named(rendered)
                ));
            }
        }
    }
    for template in canary.analysis.iter().flat_map(|a| &a.templates) {
        if index
            .get("AnalysisTemplate", namespace, &template.template_name)
            .is_none()
        {
            broken(format!(
                "{} runs AnalysisTemplate `{namespace}/{}`, which is not rendered",
                named(rendered),
                template.template_name
            ));
        }
    }
}

fn monitor_refs(
    index: &Index<'_>,
    rendered: &Rendered,
    namespace: &str,
    monitor: &ServiceMonitor,
    broken: &mut impl FnMut(String),
) {
    let services = index.services_matching(namespace, &monitor.spec.selector);
    if services.is_empty() {
        broken(format!("{} selects no rendered Service", named(rendered)));
    }
    for endpoint in &monitor.spec.endpoints {
        for service in &services {
            let named_port = service
                .spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .any(|p| p.name.as_deref() == Some(&endpoint.port));
            if !named_port {
                let name = service.metadata.name.as_deref().unwrap_or_default();
                broken(format!(
                    "{} scrapes port `{}`, which Service `{namespace}/{name}` does not name",
                    named(rendered),
                    endpoint.port
                ));
            }
        }
    }
}

fn authorization(
    index: &Index<'_>,
    rendered: &Rendered,
    namespace: &str,
    policy: &AuthorizationPolicy,
    external: &BTreeSet<String>,
    broken: &mut impl FnMut(String),
) {
    if index
        .pods_matching(namespace, &policy.spec.selector.match_labels)
        .is_empty()
    {
        broken(format!(
            "{} selects no pods of any rendered workload",
            named(rendered)
        ));
    }
    let principals = policy
        .spec
        .rules
        .iter()
        .flat_map(|r| &r.from)
        .flat_map(|f| &f.source.principals);
    for principal in principals.filter(|p| !external.contains(*p)) {
        let account = principal
            .strip_prefix("cluster.local/ns/")
            .and_then(|rest| rest.split_once("/sa/"))
            .and_then(|(ns, name)| index.get("ServiceAccount", ns, name));
        if account.is_none() {
            broken(format!(
                "{} allows `{principal}`, which is no rendered ServiceAccount",
                named(rendered)
            ));
        }
    }
}

/// Every namespace that runs workloads has a namespace-wide STRICT PeerAuthentication.
fn strict_mtls(objects: &[Rendered], diags: &mut Vec<Diagnostic>) {
    let strict: BTreeSet<String> = objects
        .iter()
        .filter_map(|r| match &r.object {
            Object::PeerAuthentication(p) if p.spec.mtls.mode == "STRICT" => {
                p.metadata.namespace.clone()
            }
            _ => None,
        })
        .collect();
    let mut reported = BTreeSet::new();
    for rendered in objects
        .iter()
        .filter(|r| matches!(r.object, Object::Deployment(_) | Object::Rollout(_)))
    {
        let namespace = rendered.object.id().namespace;
        if !strict.contains(&namespace) && reported.insert(namespace.clone()) {
            diags.push(Diagnostic::error(
                rendered.origin,
                format!(
                    "namespace `{namespace}` runs {} but has no STRICT mTLS PeerAuthentication",
                    named(rendered)
                ),
            ));
        }
    }
}
