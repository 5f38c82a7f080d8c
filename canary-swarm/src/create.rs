//! Docker's spec of a service created from scratch ([`NewService`]): what `docker service create`
//! would send for the same flags, so a service made here behaves like one made with the CLI.

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigPublishModeEnum, EndpointSpec, EndpointSpecModeEnum,
    Mount, MountType, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement,
};
use canary_core::model::{EndpointMode, NewService};

/// Docker's spec of a service created from scratch: what `docker service create` would send
/// for the same flags, so a service made here behaves like one made with the CLI.
pub(crate) fn new_service_spec(s: &NewService) -> ServiceSpec {
    let env: Vec<String> = s.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let networks: Vec<NetworkAttachmentConfig> = s
        .networks
        .iter()
        .map(|n| NetworkAttachmentConfig {
            target: Some(n.clone()),
            ..Default::default()
        })
        .collect();
    let mounts: Vec<Mount> = s
        .mounts
        .iter()
        .map(|m| Mount {
            source: Some(m.source.clone()),
            target: Some(m.target.clone()),
            typ: Some(MountType::BIND),
            read_only: Some(m.read_only),
            ..Default::default()
        })
        .collect();
    let ports: Vec<EndpointPortConfig> = s
        .ports
        .iter()
        .map(|p| EndpointPortConfig {
            target_port: Some(p.target as i64),
            published_port: Some(p.published as i64),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            ..Default::default()
        })
        .collect();
    ServiceSpec {
        name: Some(s.name.to_string()),
        labels: Some(s.labels.clone().into_iter().collect()),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(s.image.to_string()),
                args: (!s.args.is_empty()).then(|| s.args.clone()),
                env: (!env.is_empty()).then_some(env),
                init: Some(s.init),
                mounts: (!mounts.is_empty()).then_some(mounts),
                ..Default::default()
            }),
            placement: (!s.constraints.is_empty()).then(|| TaskSpecPlacement {
                constraints: Some(s.constraints.clone()),
                ..Default::default()
            }),
            networks: (!networks.is_empty()).then_some(networks),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(s.replicas as i64),
            }),
            ..Default::default()
        }),
        // What `docker service create` would set, so a service made here behaves like one
        // made with the CLI.
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            delay: None,
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::PAUSE),
            monitor: Some(5_000_000_000),
            max_failure_ratio: Some(0.0),
            order: Some(if s.start_first && s.ports.is_empty() {
                ServiceSpecUpdateConfigOrderEnum::START_FIRST
            } else {
                ServiceSpecUpdateConfigOrderEnum::STOP_FIRST
            }),
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: s.endpoint_mode.and_then(|m| match m {
                EndpointMode::Vip => Some(EndpointSpecModeEnum::VIP),
                EndpointMode::Dnsrr => Some(EndpointSpecModeEnum::DNSRR),
                // A mode newer than this crate: Docker's default rather than a guess.
                _ => None,
            }),
            ports: (!ports.is_empty()).then_some(ports),
        }),
        ..Default::default()
    }
}
