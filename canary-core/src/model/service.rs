//! A Swarm service to create from scratch: a stable service that does not exist yet
//! (`deploy`), or a piece of the stack (Traefik, the Docker API proxy). Plain data; the
//! orchestrator turns it into its own spec.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ImageRef, ServiceName};
use crate::error::{Error, Result};

/// The label `docker stack deploy` puts on a stack's services (`com.docker.stack.namespace`); a
/// stable service created in a stack gets it too, so the stack adopts it.
pub const STACK_NAMESPACE_LABEL: &str = "com.docker.stack.namespace";

/// The most replicas any service the SDK creates or scales may have, unless a spec raises it:
/// Swarm accepts absurd counts (4,000,000,000 made dockerd eat 23 GB and lost the swarm).
pub const MAX_REPLICAS: u64 = 1_000;

/// The highest `limits.maxReplicas` a spec may set.
pub const MAX_REPLICAS_CEILING: u64 = 10_000;

/// How a new service's tasks are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EndpointMode {
    /// One virtual IP per service (Docker's default; needs IPVS on the nodes).
    Vip,
    /// DNS round robin over the tasks' addresses (no IPVS needed).
    #[default]
    Dnsrr,
}

impl std::str::FromStr for EndpointMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "vip" => Ok(EndpointMode::Vip),
            "dnsrr" => Ok(EndpointMode::Dnsrr),
            other => Err(Error::invalid(
                "endpointMode",
                format!("{other:?} is neither \"vip\" nor \"dnsrr\""),
            )),
        }
    }
}

/// A port published on the node of each task (host mode), bound to all of the node's addresses.
/// Host mode needs no routing mesh; two tasks of one service on one node cannot share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HostPort {
    /// The port on the node.
    pub published: u16,
    /// The container's port.
    pub target: u16,
}

impl HostPort {
    /// The container's port `target` published as `published` on the node (TCP).
    pub fn new(published: u16, target: u16) -> Self {
        HostPort { published, target }
    }
}

/// A bind mount of a path of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BindMount {
    /// The path on the node.
    pub source: String,
    /// The path in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

impl BindMount {
    /// Node path `source` at `target` in the container, writable.
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        BindMount {
            source: source.into(),
            target: target.into(),
            read_only: false,
        }
    }
    /// Mounts it read-only, or not.
    #[must_use]
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }
}

/// A service to create from scratch: [`NewService::new`], then its public fields set.
///
/// ```
/// use canary_core::model::{BindMount, HostPort, NewService};
/// use canary_core::{ImageRef, ServiceName};
///
/// let mut s = NewService::new(
///     ServiceName::parse("proxy").unwrap(),
///     ImageRef::parse("canary-socket-proxy:1").unwrap(),
///     1,
/// );
/// s.ports.push(HostPort::new(18080, 8080));
/// s.mounts.push(BindMount::new("/var/run/docker.sock", "/var/run/docker.sock").read_only(true));
/// assert!(s.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NewService {
    /// Its name.
    pub name: ServiceName,
    /// Its image.
    pub image: ImageRef,
    /// Its replicas (at most [`MAX_REPLICAS`]).
    pub replicas: u64,
    /// Arguments after the image's entry point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Service labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Networks (names or IDs) to attach to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// Run tasks with an init process.
    pub init: bool,
    /// Host-mode published ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<HostPort>,
    /// Bind mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<BindMount>,
    /// Placement constraints (`node.role==manager`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// The endpoint mode; `None` leaves Docker's default (VIP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_mode: Option<EndpointMode>,
    /// Update order `start-first` (a new task starts before the old one stops, so updates keep
    /// capacity) instead of the CLI's `stop-first`; ignored with host-mode ports, which two tasks
    /// on one node cannot share.
    pub start_first: bool,
}

impl NewService {
    /// A service of `replicas` tasks of `image`, with init, on no network.
    pub fn new(name: ServiceName, image: ImageRef, replicas: u64) -> Self {
        NewService {
            name,
            image,
            replicas,
            args: Vec::new(),
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
            networks: Vec::new(),
            init: true,
            ports: Vec::new(),
            mounts: Vec::new(),
            constraints: Vec::new(),
            endpoint_mode: None,
            start_first: false,
        }
    }

    /// Checks what Docker would take but should not be given: replicas above [`MAX_REPLICAS`],
    /// empty names in labels and env.
    pub fn validate(&self) -> Result<()> {
        check_replicas("replicas", self.replicas, MAX_REPLICAS)?;
        for k in self.env.keys() {
            if k.is_empty() || k.contains('=') {
                return Err(Error::invalid(
                    "env",
                    format!("{k:?} is not a variable name"),
                ));
            }
        }
        if self.labels.keys().any(|k| k.is_empty()) {
            return Err(Error::invalid("labels", "a label needs a name"));
        }
        Ok(())
    }
}

/// Refuses a replica count above `max` (the field is named in the error).
pub fn check_replicas(field: &str, replicas: u64, max: u64) -> Result<()> {
    if replicas > max {
        return Err(Error::invalid(
            field,
            format!("{replicas} replicas is above the limit of {max}"),
        ));
    }
    Ok(())
}
