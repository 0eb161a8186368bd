//! ServiceAccount and Service.

use k8s_openapi::api::core::v1::{Service, ServiceAccount, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{object_meta, selector_labels};
use crate::model::{self, Protocol};
use crate::names::derived_name;

/// Every service gets its own identity; the mesh authorizes callers by it.
/// It does not mount an API token: services do not talk to the Kubernetes API.
pub fn service_account(service: &model::Service) -> ServiceAccount {
    ServiceAccount {
        metadata: object_meta(service, &service.name),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// A ClusterIP Service over the declared ports; none for a service without ports.
pub fn service(service: &model::Service) -> Option<Service> {
    ports_service(service, &service.name)
}

/// The Service Argo Rollouts points at the canary pods: `<name>-canary`.
/// It carries `slipway.dev/traffic: canary`, which tells it from the
/// stable Service (both select the same pods until Argo Rollouts pins them).
pub fn canary_service(service: &model::Service) -> Option<Service> {
    let mut canary = ports_service(service, &canary_name(service))?;
    canary
        .metadata
        .labels
        .get_or_insert_default()
        .insert(TRAFFIC_LABEL.into(), "canary".into());
    Some(canary)
}

const TRAFFIC_LABEL: &str = "slipway.dev/traffic";

/// The canary Service's name: `<service>-canary`, shortened (a prefix and a
/// hash) when that would pass the 63 characters of a Service name (a
/// DNS-1035 label), which the service's own name may use up.
pub fn canary_name(service: &model::Service) -> String {
    derived_name(&service.name, "-canary", 63)
}

fn ports_service(service: &model::Service, name: &str) -> Option<Service> {
    if service.ports.is_empty() {
        return None;
    }
    let ports = service
        .ports
        .iter()
        .map(|p| ServicePort {
            name: Some(p.name.clone()),
            port: p.port,
            target_port: Some(IntOrString::Int(p.target_port)),
            app_protocol: Some(app_protocol(p.protocol).to_owned()),
            ..ServicePort::default()
        })
        .collect();
    Some(Service {
        metadata: object_meta(service, name),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(service)),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

/// `appProtocol`, which Istio reads to pick the protocol of a port.
fn app_protocol(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "http",
        Protocol::Http2 => "http2",
        Protocol::Grpc => "grpc",
        Protocol::Tcp => "tcp",
    }
}
