//! The Deployment and its pod template: containers, probes, env, files,
//! placement on an EKS node group, zone spreading and a hardened security
//! context by default.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, ExecAction, GRPCAction, HTTPGetAction, HTTPHeader, KeyToPath,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    SecretKeySelector, SecurityContext, TCPSocketAction, Toleration, TopologySpreadConstraint,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{object_meta, selector, workload_labels};
use crate::model::{
    self, EnvValue, NodeGroup, PortRef, ProbeAction, Quantities, Replicas, Service,
};

/// Node label that EKS managed node groups set to the group's name.
pub const NODE_GROUP_LABEL: &str = "eks.amazonaws.com/nodegroup";
/// Taint key of dedicated node groups (`dedicated=<group>:NoSchedule`).
pub const NODE_GROUP_TAINT: &str = "dedicated";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// The pod label that asks Istio to inject its sidecar.
pub const INJECT_LABEL: &str = "sidecar.istio.io/inject";

const FILES_VOLUME: &str = "files";
const TMP_VOLUME: &str = "tmp";

pub fn deployment(service: &Service, template: PodTemplateSpec) -> Deployment {
    let mut metadata = object_meta(service, &service.name);
    metadata.labels = Some(workload_labels(service));
    Deployment {
        metadata,
        spec: DeploymentSpec {
            replicas: fixed_replicas(service),
            selector: selector(service),
            template,
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

/// A workload scaled by an HPA leaves `replicas` out, or Argo CD and the HPA
/// fight over it.
pub fn fixed_replicas(service: &Service) -> Option<i32> {
    match service.replicas {
        Replicas::Fixed(n) => Some(n),
        Replicas::Auto { .. } => None,
    }
}

pub fn pod_template(service: &Service, config: Option<&ConfigMap>) -> PodTemplateSpec {
    let mut labels = workload_labels(service);
    labels.insert(INJECT_LABEL.into(), "true".into());
    let config_name = config.and_then(|c| c.metadata.name.clone());
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(service.name.clone()),
            automount_service_account_token: Some(false),
            containers: service
                .containers
                .iter()
                .enumerate()
                .map(|(i, c)| container(service, c, i == 0, config_name.is_some()))
                .collect(),
            volumes: Some(volumes(service, config_name)),
            node_selector: Some(BTreeMap::from([(
                NODE_GROUP_LABEL.to_owned(),
                node_group(service.node_group).to_owned(),
            )])),
            tolerations: Some(vec![Toleration {
                key: Some(NODE_GROUP_TAINT.into()),
                operator: Some("Equal".into()),
                value: Some(node_group(service.node_group).into()),
                effect: Some("NoSchedule".into()),
                ..Toleration::default()
            }]),
            topology_spread_constraints: service.spread_across_zones.then(|| {
                vec![TopologySpreadConstraint {
                    max_skew: 1,
                    topology_key: ZONE_LABEL.into(),
                    when_unsatisfiable: "ScheduleAnyway".into(),
                    label_selector: Some(selector(service)),
                    ..TopologySpreadConstraint::default()
                }]
            }),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    ..SeccompProfile::default()
                }),
                ..PodSecurityContext::default()
            }),
            ..PodSpec::default()
        }),
    }
}

pub fn node_group(group: NodeGroup) -> &'static str {
    match group {
        NodeGroup::System => "system",
        NodeGroup::Application => "application",
        NodeGroup::Compute => "compute",
        NodeGroup::Memory => "memory",
    }
}

/// A writable `/tmp` (the root filesystem is read-only), the files, if
/// any, and the containers' scratch volumes.
fn volumes(service: &Service, config_name: Option<String>) -> Vec<Volume> {
    let empty_dir = |name: &str| Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    let files = config_name
        .filter(|_| !service.files.is_empty())
        .map(|name| Volume {
            name: FILES_VOLUME.into(),
            config_map: Some(ConfigMapVolumeSource {
                name,
                items: items(service),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    let scratch = service.volumes.iter().map(|v| empty_dir(&v.name));
    files
        .into_iter()
        .chain([empty_dir(TMP_VOLUME)])
        .chain(scratch)
        .collect()
}

/// The ConfigMap's keys with their modes, when a file has a mode of its
/// own; else none, and every key is a file of mode 0644 (the volume's
/// `defaultMode`). Listed, only the keys listed are files
/// (`ConfigMapVolumeSource.items`), so all are.
fn items(service: &Service) -> Option<Vec<KeyToPath>> {
    service.files.iter().any(|f| f.mode.is_some()).then(|| {
        let modes: BTreeMap<&str, Option<i32>> = service
            .files
            .iter()
            .map(|f| (f.key.as_str(), f.mode))
            .collect();
        modes
            .into_iter()
            .map(|(key, mode)| KeyToPath {
                key: key.to_owned(),
                path: key.to_owned(),
                mode,
                ..KeyToPath::default()
            })
            .collect()
    })
}

fn container(service: &Service, c: &model::Container, main: bool, has_files: bool) -> Container {
    let ports = main.then(|| {
        service
            .ports
            .iter()
            .map(|p| ContainerPort {
                name: Some(p.name.clone()),
                container_port: p.target_port,
                ..ContainerPort::default()
            })
            .collect::<Vec<_>>()
    });
    let mut mounts = vec![VolumeMount {
        name: TMP_VOLUME.into(),
        mount_path: model::SCRATCH_DIR.into(),
        ..VolumeMount::default()
    }];
    if has_files {
        mounts.extend(
            service
                .files
                .iter()
                .filter(|f| f.container == c.name)
                .map(|f| VolumeMount {
                    name: FILES_VOLUME.into(),
                    mount_path: f.target.clone(),
                    sub_path: Some(f.key.clone()),
                    read_only: Some(true),
                    ..VolumeMount::default()
                }),
        );
    }
    mounts.extend(
        service
            .volumes
            .iter()
            .filter(|v| v.container == c.name)
            .map(|v| VolumeMount {
                name: v.name.clone(),
                mount_path: v.target.clone(),
                sub_path: v.sub_path.clone(),
                read_only: v.read_only.then_some(true),
                ..VolumeMount::default()
            }),
    );
    Container {
        name: c.name.clone(),
        image: Some(c.image.clone()),
        command: c.command.clone(),
        args: c.args.clone(),
        env: (!c.env.is_empty()).then(|| c.env.iter().map(|v| env_var(service, v)).collect()),
        ports: ports.filter(|p| !p.is_empty()),
        resources: resources(&c.requests, &c.limits),
        liveness_probe: c.liveness.as_ref().map(probe),
        readiness_probe: c.readiness.as_ref().map(probe),
        volume_mounts: Some(mounts),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

fn env_var(service: &Service, var: &model::EnvVar) -> EnvVar {
    match &var.value {
        EnvValue::Text(text) => EnvVar {
            name: var.name.clone(),
            value: Some(text.clone()),
            ..EnvVar::default()
        },
        EnvValue::Secret { secret, key } => secret_env(&var.name, secret, key),
        EnvValue::External { key } => secret_env(&var.name, &service.external_secret_name(), key),
    }
}

fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                ..SecretKeySelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn resources(requests: &Quantities, limits: &Quantities) -> Option<ResourceRequirements> {
    let list = |q: &Quantities| {
        let map: BTreeMap<String, Quantity> = [("cpu", &q.cpu), ("memory", &q.memory)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), Quantity(v.clone()))))
            .collect();
        (!map.is_empty()).then_some(map)
    };
    let (requests, limits) = (list(requests), list(limits));
    (requests.is_some() || limits.is_some()).then(|| ResourceRequirements {
        requests,
        limits,
        ..ResourceRequirements::default()
    })
}

fn port(port: &PortRef) -> IntOrString {
    match port {
        PortRef::Number(n) => IntOrString::Int(*n),
        PortRef::Name(name) => IntOrString::String(name.clone()),
    }
}

fn probe(p: &model::Probe) -> Probe {
    let mut probe = Probe {
        initial_delay_seconds: p.initial_delay_seconds,
        period_seconds: p.period_seconds,
        timeout_seconds: p.timeout_seconds,
        failure_threshold: p.failure_threshold,
        ..Probe::default()
    };
    match &p.action {
        ProbeAction::Http {
            path,
            port: target,
            scheme,
            headers,
        } => {
            probe.http_get = Some(HTTPGetAction {
                path: Some(path.clone()),
                port: port(target),
                scheme: scheme.clone().filter(|s| s != "HTTP"),
                http_headers: (!headers.is_empty()).then(|| {
                    headers
                        .iter()
                        .map(|(name, value)| HTTPHeader {
                            name: name.clone(),
                            value: value.clone(),
                        })
                        .collect()
                }),
                ..HTTPGetAction::default()
            });
        }
        ProbeAction::Grpc { port, service } => {
            probe.grpc = Some(GRPCAction {
                port: *port,
                service: service.clone(),
                ..GRPCAction::default()
            });
        }
        ProbeAction::Tcp { port: target } => {
            probe.tcp_socket = Some(TCPSocketAction {
                port: port(target),
                ..TCPSocketAction::default()
            });
        }
        ProbeAction::Exec { command } => {
            probe.exec = Some(ExecAction {
                command: Some(command.clone()),
            });
        }
    }
    probe
}
