//! The check stage over deliberately broken object sets: each test renders
//! a us-east-1 cluster of the example platform (prod, or dev for what only
//! metrics merging renders), which passes, breaks one reference, and
//! expects exactly the diagnostic that names it.

use k8s_openapi::api::networking::v1::NetworkPolicyPort;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use slipway::compile::{Selection, open};
use slipway::crd::istio::StringMatch;
use slipway::lower::{Kind, NAMESPACE_NAME_LABEL, Object, Rendered};
use slipway::model::External;

use crate::rendering::render;
use crate::support::root;

fn cluster() -> (Vec<Rendered>, External) {
    cluster_of("prod")
}

fn cluster_of(env: &str) -> (Vec<Rendered>, External) {
    let (project, diags) = open(root()).expect("example platform opens");
    assert!(diags.is_empty(), "{diags:?}");
    let selection = Selection {
        env: Some(env.into()),
        region: Some("us-east-1".into()),
        service: None,
    };
    let rendered = render(&project, &selection);
    (rendered.objects.into_values().collect(), rendered.external)
}

/// Break prod's object set, run the checks, return their messages.
fn broken(edit: impl FnOnce(&mut Vec<Rendered>)) -> Vec<String> {
    broken_in("prod", edit)
}

fn broken_in(env: &str, edit: impl FnOnce(&mut Vec<Rendered>)) -> Vec<String> {
    let (mut objects, external) = cluster_of(env);
    assert!(
        slipway::check::cluster(&objects, &external).is_empty(),
        "the unbroken set passes"
    );
    edit(&mut objects);
    slipway::check::cluster(&objects, &external)
        .into_iter()
        .map(|d| d.message)
        .collect()
}

fn find<'a>(objects: &'a mut [Rendered], kind: Kind, name: &str) -> &'a mut Object {
    let rendered = objects
        .iter_mut()
        .find(|r| {
            let id = r.object.id();
            id.kind == kind && id.name == name
        })
        .unwrap_or_else(|| panic!("{kind} {name} is rendered"));
    &mut rendered.object
}

fn remove(objects: &mut Vec<Rendered>, kind: Kind, name: &str) {
    objects.retain(|r| {
        let id = r.object.id();
        !(id.kind == kind && id.name == name)
    });
}

const NAME: &str = "app.kubernetes.io/name";

fn one(messages: &[String], expected: &str) {
    assert!(
        messages.iter().any(|m| m == expected),
        "expected {expected:?} in {messages:#?}"
    );
}

#[test]
fn service_must_select_pods_and_their_ports() {
    let messages = broken(|o| {
        if let Object::Service(s) = find(o, Kind::Service, "orders") {
            let ports = s
                .spec
                .as_mut()
                .and_then(|spec| spec.ports.as_mut())
                .expect("ports");
            ports[0].target_port =
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(9999));
        }
    });
    one(
        &messages,
        "Service `commerce-prod/orders` sends port 9090 to 9999, which its pods do not expose",
    );
    let messages = broken(|o| remove(o, Kind::Deployment, "orders"));
    one(
        &messages,
        "Service `commerce-prod/orders` selects no pods of any rendered workload",
    );
    one(
        &messages,
        "HorizontalPodAutoscaler `commerce-prod/orders` scales Deployment `commerce-prod/orders`, which is not rendered",
    );
    one(
        &messages,
        "PodDisruptionBudget `commerce-prod/orders` selects no pods of any rendered workload",
    );
    one(
        &messages,
        "AuthorizationPolicy `commerce-prod/orders` selects no pods of any rendered workload",
    );
}

#[test]
fn virtual_service_destinations_ports_and_weights() {
    let messages = broken(|o| {
        if let Object::VirtualService(vs) = find(o, Kind::VirtualService, "api-example-com") {
            let checkout = vs
                .spec
                .http
                .iter_mut()
                .find(|h| h.name == "checkout-0")
                .expect("route");
            checkout.route[1].weight = Some(10);
            let catalog = vs
                .spec
                .http
                .iter_mut()
                .find(|h| h.name == "catalog-1")
                .expect("route");
            catalog.route[0].destination.port.number = 8080;
            catalog.matches[0].uri = Some(StringMatch::Prefix("/x".into()));
        }
        remove(o, Kind::Service, "api-gateway");
    });
    one(
        &messages,
        "route `checkout-0` of VirtualService `istio-system/api-example-com` has weights that add up to 110, not 100",
    );
    one(
        &messages,
        "route `catalog-1` of VirtualService `istio-system/api-example-com` sends traffic to port 8080 of `catalog.commerce-prod.svc.cluster.local`, which has no such port",
    );
    one(
        &messages,
        "route `api-gateway-0` of VirtualService `istio-system/api-example-com` sends traffic to `api-gateway.platform-prod.svc.cluster.local`, which no rendered Service has",
    );
    one(
        &messages,
        "DestinationRule `platform-prod/api-gateway` is for host `api-gateway.platform-prod.svc.cluster.local`, which no rendered Service has",
    );
}

#[test]
fn rollout_references_routes_services_and_analysis() {
    let messages = broken(|o| {
        remove(o, Kind::AnalysisTemplate, "checkout");
        remove(o, Kind::Service, "checkout-canary");
        if let Object::VirtualService(vs) = find(o, Kind::VirtualService, "api-example-com") {
            vs.spec.http.retain(|h| h.name != "checkout-0");
        }
        remove(o, Kind::VirtualService, "checkout");
    });
    one(
        &messages,
        "Rollout `commerce-prod/checkout` names canary Service `commerce-prod/checkout-canary`, which is not rendered",
    );
    one(
        &messages,
        "Rollout `commerce-prod/checkout` shifts route `checkout-0`, which VirtualService `istio-system/api-example-com` does not have",
    );
    one(
        &messages,
        "Rollout `commerce-prod/checkout` shifts weights in VirtualService `commerce-prod/checkout`, which is not rendered",
    );
    one(
        &messages,
        "Rollout `commerce-prod/checkout` runs AnalysisTemplate `commerce-prod/checkout`, which is not rendered",
    );
}

#[test]
fn service_monitor_needs_a_service_and_a_named_port() {
    let messages = broken(|o| {
        if let Object::ServiceMonitor(m) = find(o, Kind::ServiceMonitor, "orders") {
            m.spec.endpoints[0].port = "metrics".into();
        }
        if let Object::ServiceMonitor(m) = find(o, Kind::ServiceMonitor, "catalog") {
            m.spec.selector.match_labels =
                Some([("app.kubernetes.io/name".to_owned(), "katalog".to_owned())].into());
        }
    });
    one(
        &messages,
        "ServiceMonitor `commerce-prod/orders` scrapes port `metrics`, which Service `commerce-prod/orders` does not name",
    );
    one(
        &messages,
        "ServiceMonitor `commerce-prod/catalog` selects no rendered Service",
    );
}

#[test]
fn pod_monitor_needs_pods_and_what_it_scrapes_on_them() {
    let messages = broken(|o| {
        if let Object::PodMonitor(m) = find(o, Kind::PodMonitor, "catalog") {
            m.spec.selector.match_labels =
                Some([("app.kubernetes.io/name".to_owned(), "katalog".to_owned())].into());
        }
        if let Object::PodMonitor(m) = find(o, Kind::PodMonitor, "orders") {
            m.spec.pod_metrics_endpoints[0].port = Some("envoy-prom".into());
        }
        // Without injection there is no sidecar port to scrape.
        if let Object::Deployment(d) = find(o, Kind::Deployment, "payments") {
            let meta = d.spec.template.metadata.as_mut().expect("pod metadata");
            meta.labels
                .as_mut()
                .expect("labels")
                .remove(slipway::lower::INJECT_LABEL);
        }
    });
    one(
        &messages,
        "PodMonitor `commerce-prod/catalog` selects no pods of any rendered workload",
    );
    one(
        &messages,
        "PodMonitor `commerce-prod/orders` scrapes port `envoy-prom`, which the pods it selects do not name",
    );
    one(
        &messages,
        "PodMonitor `payments-prod/payments` scrapes port `http-envoy-prom`, which the pods it selects do not name",
    );
}

#[test]
fn merged_metrics_need_the_sidecar_and_a_port_the_pods_expose() {
    let messages = broken_in("dev", |o| {
        if let Object::PodMonitor(m) = find(o, Kind::PodMonitor, "orders") {
            m.spec.pod_metrics_endpoints[0].relabelings[0].regex = Some("app".into());
        }
        if let Object::PodMonitor(m) = find(o, Kind::PodMonitor, "payments") {
            m.spec.pod_metrics_endpoints[0].relabelings[0].regex = Some("sidecar".into());
        }
        if let Object::Deployment(d) = find(o, Kind::Deployment, "catalog") {
            let meta = d.spec.template.metadata.as_mut().expect("pod metadata");
            meta.annotations
                .as_mut()
                .expect("annotations")
                .insert(slipway::lower::PORT_ANNOTATION.into(), "9102".into());
        }
    });
    assert_eq!(messages.len(), 2, "{messages:#?}");
    one(
        &messages,
        "PodMonitor `payments-dev/payments` scrapes container `sidecar`, which the pods it selects do not run",
    );
    one(
        &messages,
        "Deployment `commerce-dev/catalog` has Istio merge metrics from port `9102`, which its containers do not expose",
    );
}

#[test]
fn authorization_policy_principals_must_be_rendered() {
    let messages = broken(|o| remove(o, Kind::ServiceAccount, "checkout"));
    one(
        &messages,
        "AuthorizationPolicy `commerce-prod/orders` allows `cluster.local/ns/commerce-prod/sa/checkout`, which is no rendered ServiceAccount",
    );
}

#[test]
fn every_namespace_with_workloads_has_strict_mtls() {
    let messages = broken(|o| {
        if let Object::PeerAuthentication(p) = find(o, Kind::PeerAuthentication, "default") {
            p.spec.mtls.mode = "PERMISSIVE".into();
        }
    });
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].ends_with("but has no STRICT mTLS PeerAuthentication"),
        "{messages:#?}"
    );
}

/// Policy rules over rendered objects, both ways.
fn policy_findings(edit: impl FnOnce(&mut Vec<Rendered>)) -> Vec<String> {
    let (mut objects, _) = cluster();
    assert!(
        slipway::policy::pod_violations(&objects).is_empty(),
        "the unbroken set passes"
    );
    edit(&mut objects);
    slipway::policy::pod_violations(&objects)
        .into_iter()
        .map(|d| format!("[{}] {}", d.code.as_str(), d.message))
        .collect()
}

#[test]
fn privileged_containers_and_host_network_are_refused() {
    let messages = policy_findings(|o| {
        if let Object::Deployment(d) = find(o, Kind::Deployment, "orders") {
            let spec = d.spec.template.spec.as_mut().expect("pod spec");
            spec.host_network = Some(true);
            let security = spec.containers[0]
                .security_context
                .as_mut()
                .expect("security context");
            security.privileged = Some(true);
        }
        if let Object::Rollout(r) = find(o, Kind::Rollout, "checkout") {
            r.spec
                .template
                .spec
                .as_mut()
                .expect("pod spec")
                .host_network = Some(true);
        }
    });
    assert_eq!(
        messages,
        [
            "[no-host-network] Rollout `commerce-prod/checkout` uses the host network",
            "[no-host-network] Deployment `commerce-prod/orders` uses the host network",
            "[no-privileged] container `app` of Deployment `commerce-prod/orders` is privileged",
        ]
    );
}

#[test]
fn a_gateway_route_after_one_that_always_wins_is_unreachable() {
    let mut objects = cluster().0;
    let before: Vec<_> = objects.iter().flat_map(slipway::check::object).collect();
    assert!(before.is_empty(), "{before:#?}");
    if let Object::VirtualService(vs) = find(&mut objects, Kind::VirtualService, "api-example-com")
    {
        vs.spec.http.reverse();
    }
    let messages: Vec<String> = objects
        .iter()
        .flat_map(slipway::check::object)
        .map(|d| format!("[{}] {}", d.code.as_str(), d.message))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("[unreachable-route] route `")
                && m.contains(
                    "of VirtualService `istio-system/api-example-com` can never match: route `"
                )),
        "{messages:#?}"
    );
}

#[test]
fn network_policy_selects_pods_admits_their_ports_and_rendered_or_external_pods() {
    let messages = broken(|o| {
        if let Object::NetworkPolicy(p) = find(o, Kind::NetworkPolicy, "catalog") {
            let spec = p.spec.as_mut().expect("spec");
            spec.pod_selector = Some(LabelSelector {
                match_labels: Some([(NAME.to_owned(), "katalog".to_owned())].into()),
                ..LabelSelector::default()
            });
        }
        if let Object::NetworkPolicy(p) = find(o, Kind::NetworkPolicy, "orders") {
            let rules = p
                .spec
                .as_mut()
                .and_then(|s| s.ingress.as_mut())
                .expect("rules");
            rules[0]
                .ports
                .get_or_insert_default()
                .push(NetworkPolicyPort {
                    port: Some(IntOrString::Int(9999)),
                    ..NetworkPolicyPort::default()
                });
            // Prometheus moved to a namespace the environment does not name.
            let prometheus = rules
                .last_mut()
                .and_then(|r| r.from.as_mut())
                .expect("peers");
            let namespace = prometheus[0]
                .namespace_selector
                .as_mut()
                .expect("namespace");
            namespace.match_labels =
                Some([(NAMESPACE_NAME_LABEL.to_owned(), "observability".to_owned())].into());
        }
        remove(o, Kind::Rollout, "checkout");
    });
    one(
        &messages,
        "NetworkPolicy `commerce-prod/catalog` selects no pods of any rendered workload",
    );
    one(
        &messages,
        "NetworkPolicy `commerce-prod/orders` admits port 9999, which the pods it selects do not expose",
    );
    one(
        &messages,
        "NetworkPolicy `commerce-prod/orders` admits pods `app.kubernetes.io/name=checkout` of namespace `commerce-prod`, which no rendered workload runs",
    );
    one(
        &messages,
        "NetworkPolicy `commerce-prod/orders` admits pods `prometheus=k8s` of namespace `observability`, which no rendered workload runs",
    );
    // The default deny selects every pod of its namespace, and refers to none.
    let messages = broken(|o| remove(o, Kind::Deployment, "catalog"));
    assert!(
        !messages
            .iter()
            .any(|m| m.contains("NetworkPolicy `commerce-prod/default-deny-ingress`")),
        "{messages:#?}"
    );
}

#[test]
fn pod_template_annotations_are_held_to_the_annotation_limit() {
    let messages = broken_in("dev", |o| {
        if let Object::Deployment(d) = find(o, Kind::Deployment, "catalog") {
            let meta = d.spec.template.metadata.as_mut().expect("pod metadata");
            meta.annotations
                .get_or_insert_default()
                .insert("example.com/big".into(), "x".repeat(300 * 1024));
        }
    });
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].starts_with("pod annotations of Deployment `catalog` are "),
        "{messages:#?}"
    );
}

/// The env var of a Deployment's main container that reads `variable`.
fn secret_ref<'a>(
    objects: &'a mut [Rendered],
    deployment: &str,
    variable: &str,
) -> &'a mut k8s_openapi::api::core::v1::SecretKeySelector {
    let Object::Deployment(d) = find(objects, Kind::Deployment, deployment) else {
        panic!("{deployment} is a Deployment");
    };
    let pod = d.spec.template.spec.as_mut().expect("pod spec");
    pod.containers[0]
        .env
        .iter_mut()
        .flatten()
        .find(|e| e.name == variable)
        .and_then(|e| e.value_from.as_mut()?.secret_key_ref.as_mut())
        .unwrap_or_else(|| panic!("{variable} reads a Secret"))
}

#[test]
fn pods_read_secrets_an_external_secret_creates_or_a_blueprint_names() {
    let messages = broken(|o| remove(o, Kind::ExternalSecret, "payments-external"));
    one(
        &messages,
        "Deployment `payments-prod/payments` reads Secret `payments-prod/payments-external`, which no rendered ExternalSecret creates and no blueprint names",
    );
    let messages = broken(|o| {
        if let Object::ExternalSecret(es) = find(o, Kind::ExternalSecret, "payments-external") {
            es.spec.data.retain(|d| d.secret_key != "PSP_API_KEY");
        }
    });
    one(
        &messages,
        "Deployment `payments-prod/payments` reads key `PSP_API_KEY` of Secret `payments-prod/payments-external`, which its ExternalSecret does not create",
    );
    // A Secret a blueprint names exists in the cluster; one nothing names
    // or creates does not.
    let messages =
        broken(|o| secret_ref(o, "order-worker", "QUEUE_ACCESS_KEY").name = "queue-gone".into());
    one(
        &messages,
        "Deployment `commerce-prod/order-worker` reads Secret `commerce-prod/queue-gone`, which no rendered ExternalSecret creates and no blueprint names",
    );
}
