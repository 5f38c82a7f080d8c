//! [`MemoryOrchestrator`]: services, images and networks kept in this process; every canary
//! starts at once, every build succeeds, nothing touches Docker.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::model::{ImageRef, NewService, ServiceName};
use crate::traits::{
    BuildEvent, BuildRequest, CanaryService, LogLine, LogOptions, Orchestrator, ServiceState,
    TaskEndpoint,
};

/// The image every image is pinned to by [`MemoryOrchestrator::pin_image`].
pub const PINNED: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";

/// Services are entries in a map; every task starts at once unless told to fail.
#[derive(Debug, Default)]
pub struct MemoryOrchestrator {
    services: Mutex<HashMap<String, ServiceState>>,
    broken: Mutex<HashMap<String, String>>,
    networks: Mutex<std::collections::BTreeSet<String>>,
    log: Mutex<Vec<String>>,
}

impl MemoryOrchestrator {
    /// An orchestrator with no service.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a running service, e.g. the stable one of an app.
    pub fn add_service(&self, name: ServiceName, image: &ImageRef, replicas: u64) {
        let state = ServiceState {
            name: name.clone(),
            image: image.to_string(),
            desired: replicas,
            running: replicas,
            labels: BTreeMap::new(),
            converged: true,
        };
        self.services
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), state);
    }

    /// Replaces a service's labels.
    pub fn set_labels(&self, name: &ServiceName, labels: BTreeMap<String, String>) -> Result<()> {
        self.with(name, |s| s.labels = labels)
    }

    /// Every service, by name.
    pub fn services(&self) -> Vec<ServiceState> {
        let mut all: Vec<ServiceState> = self
            .services
            .lock()
            .expect("not poisoned")
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Makes a service's tasks fail to start with `message` (a broken canary).
    pub fn fail_to_start(&self, name: &ServiceName, message: impl Into<String>) {
        self.broken
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), message.into());
    }

    /// A service's state.
    pub fn service(&self, name: &str) -> Option<ServiceState> {
        self.services
            .lock()
            .expect("not poisoned")
            .get(name)
            .cloned()
    }

    /// Every state-changing call so far, in order (`scale api-canary 0`, ...).
    pub fn operations(&self) -> Vec<String> {
        self.log.lock().expect("not poisoned").clone()
    }

    fn note(&self, s: String) {
        self.log.lock().expect("not poisoned").push(s);
    }

    fn with<T>(&self, name: &ServiceName, f: impl FnOnce(&mut ServiceState) -> T) -> Result<T> {
        let mut all = self.services.lock().expect("not poisoned");
        let s = all
            .get_mut(name.as_str())
            .ok_or_else(|| Error::not_found("service", name.to_string()))?;
        Ok(f(s))
    }
}

#[async_trait]
impl Orchestrator for MemoryOrchestrator {
    async fn inspect(&self, service: &ServiceName) -> Result<ServiceState> {
        self.service(service.as_str())
            .ok_or_else(|| Error::not_found("service", service.to_string()))
    }
    async fn ensure_canary(&self, spec: &CanaryService) -> Result<ServiceState> {
        self.inspect(&spec.from).await?;
        self.add_service(spec.name.clone(), &spec.image, spec.replicas);
        self.with(&spec.name, |s| s.labels = spec.labels.clone())?;
        self.note(format!(
            "ensure_canary {} {} x{}",
            spec.name, spec.image, spec.replicas
        ));
        self.inspect(&spec.name).await
    }
    async fn update_labels(
        &self,
        service: &ServiceName,
        labels: &BTreeMap<String, Option<String>>,
    ) -> Result<()> {
        self.with(service, |s| {
            for (k, v) in labels {
                match v {
                    Some(v) => s.labels.insert(k.clone(), v.clone()),
                    None => s.labels.remove(k),
                };
            }
        })?;
        self.note(format!("update_labels {service}"));
        Ok(())
    }
    async fn scale(&self, service: &ServiceName, replicas: u64) -> Result<()> {
        self.with(service, |s| {
            s.desired = replicas;
            s.running = replicas;
        })?;
        self.note(format!("scale {service} {replicas}"));
        Ok(())
    }
    async fn set_image(&self, service: &ServiceName, image: &ImageRef) -> Result<()> {
        self.with(service, |s| s.image = image.to_string())?;
        self.note(format!("set_image {service} {image}"));
        Ok(())
    }
    async fn pin_image(&self, _image: &ImageRef) -> Result<ImageRef> {
        ImageRef::parse(PINNED)
    }
    async fn wait_converged(
        &self,
        service: &ServiceName,
        _timeout: Duration,
    ) -> Result<ServiceState> {
        let s = self.inspect(service).await?;
        if let Some(message) = self
            .broken
            .lock()
            .expect("not poisoned")
            .get(service.as_str())
        {
            return Err(Error::DeploymentFailed {
                service: service.to_string(),
                message: message.clone(),
            });
        }
        Ok(s)
    }
    async fn logs(
        &self,
        _service: &ServiceName,
        _options: &LogOptions,
    ) -> Result<BoxStream<'static, Result<LogLine>>> {
        Ok(Box::pin(futures::stream::empty()))
    }
    async fn build_image(
        &self,
        _request: &BuildRequest,
    ) -> Result<BoxStream<'static, Result<BuildEvent>>> {
        Ok(Box::pin(futures::stream::empty()))
    }
    async fn tag_image(&self, _source: &ImageRef, _target: &ImageRef) -> Result<()> {
        Ok(())
    }
    async fn create_service(&self, service: &NewService) -> Result<ServiceState> {
        service.validate()?;
        if self.service(service.name.as_str()).is_some() {
            return Err(Error::conflict(format!("{} exists", service.name)));
        }
        self.add_service(service.name.clone(), &service.image, service.replicas);
        self.with(&service.name, |s| s.labels = service.labels.clone())?;
        self.inspect(&service.name).await
    }
    /// One endpoint per running task, `10.0.0.<n>` on network `net`.
    async fn task_endpoints(&self, service: &ServiceName) -> Result<Vec<TaskEndpoint>> {
        let s = self.inspect(service).await?;
        Ok((0..s.running)
            .map(|i| TaskEndpoint {
                task: format!("{service}.{i}"),
                node: None,
                addresses: BTreeMap::from([("net".to_string(), format!("10.0.0.{}", i % 250 + 2))]),
            })
            .collect())
    }
    async fn ensure_network(&self, name: &str) -> Result<bool> {
        Ok(self
            .networks
            .lock()
            .expect("not poisoned")
            .insert(name.to_string()))
    }
}
