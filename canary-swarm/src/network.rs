//! The overlay network the services share: found, or created attachable, labelled as ours.

use std::collections::HashMap;

use bollard::models::NetworkCreateRequest;
use bollard::Docker;
use canary_core::{Error, Result};

use crate::error::{docker_error, DockerFailure, Object};

/// The label on networks this crate creates.
pub const CREATED_BY_LABEL: &str = "io.canary.created-by";

/// Makes sure `name` is a swarm-scoped network; creates it (overlay, attachable) when missing.
/// `true` when it was created now. A local network of that name is an error: services cannot
/// use it.
pub(crate) async fn ensure(docker: &Docker, name: &str) -> Result<bool> {
    if name.is_empty() || name.len() > 128 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(Error::invalid(
            "network",
            format!("{name:?} is not a network name"),
        ));
    }
    match docker.inspect_network(name, None).await {
        Ok(n) => {
            let scope = n.scope.unwrap_or_default();
            if scope != "swarm" {
                return Err(Error::invalid(
                    "network",
                    format!(
                        "network {name} exists but is a {scope} {} network; Swarm services need an overlay network",
                        n.driver.unwrap_or_default()
                    ),
                ));
            }
            Ok(false)
        }
        Err(e) => match DockerFailure::classify(&e) {
            DockerFailure::NotFound(_) => {
                let labels = HashMap::from([(CREATED_BY_LABEL.to_string(), "canary".to_string())]);
                docker
                    .create_network(NetworkCreateRequest {
                        name: name.to_string(),
                        driver: Some("overlay".into()),
                        attachable: Some(true),
                        labels: Some(labels),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| docker_error(e, Object::None))?;
                Ok(true)
            }
            f => Err(f.into_error(Object::None)),
        },
    }
}
