//! [`MemoryRouter`]: every routing asked for kept in this process and read back as the split in
//! force; nothing touches Traefik.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{ServiceName, Track};
use crate::spec::HeaderRoute;
use crate::traits::{AppRoute, AppSplit, ProbeAnswer, RouteConfig, Router};

/// Records every routing it is asked to put in force; reads back the last one.
#[derive(Debug, Default)]
pub struct MemoryRouter {
    applied: Mutex<Vec<RouteConfig>>,
    log: Mutex<Vec<String>>,
}

impl MemoryRouter {
    /// A router with no route.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last routing put in force.
    pub fn last(&self) -> Option<RouteConfig> {
        self.applied.lock().expect("not poisoned").last().cloned()
    }

    /// Every call so far, in order (`route 20`, `route out`, `remove <group>`).
    pub fn operations(&self) -> Vec<String> {
        self.log.lock().expect("not poisoned").clone()
    }

    /// The canary weight of every routing put in force, in order (0 once the canary is out).
    pub fn weights(&self) -> Vec<u8> {
        self.applied
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|c| c.canary_weight.get())
            .collect()
    }
}

#[async_trait]
impl Router for MemoryRouter {
    fn service_labels(&self, route: &AppRoute, track: Track) -> BTreeMap<String, String> {
        BTreeMap::from([(
            "io.canary.test.route".to_string(),
            route.app.service(track).to_string(),
        )])
    }
    async fn apply(&self, config: &RouteConfig) -> Result<()> {
        let note = if config.stable_detached {
            "route detached".to_string()
        } else if config.canary_routed {
            format!("route {}", config.canary_weight.get())
        } else {
            "route out".to_string()
        };
        self.log.lock().expect("not poisoned").push(note);
        self.applied
            .lock()
            .expect("not poisoned")
            .push(config.clone());
        Ok(())
    }
    async fn read(&self, config: &RouteConfig) -> Result<Vec<AppSplit>> {
        let last = self.last();
        let w = last
            .as_ref()
            .map(|l| l.canary_weight.get() as u64)
            .unwrap_or(0);
        Ok(config
            .apps
            .iter()
            .map(|a| AppSplit {
                app: a.app.name.clone(),
                stable: 100 - w,
                canary: w,
                header_route: last.as_ref().is_some_and(|l| l.header_route.is_some()),
                healthy: true,
            })
            .collect())
    }
    async fn remove(&self, group: &ServiceName) -> Result<()> {
        self.log
            .lock()
            .expect("not poisoned")
            .push(format!("remove {group}"));
        self.applied.lock().expect("not poisoned").clear();
        Ok(())
    }
    async fn check(&self) -> Result<()> {
        Ok(())
    }
    /// Answers 200 from `canary` when the header route is in force and the header is sent,
    /// else from `stable`.
    async fn probe(&self, route: &AppRoute, header: Option<HeaderRoute>) -> Result<ProbeAnswer> {
        let to_canary = header.is_some()
            && self
                .last()
                .is_some_and(|c| c.canary_routed && c.header_route.is_some());
        Ok(ProbeAnswer {
            url: format!("memory://{}{}", route.app.name, route.health_path),
            host: None,
            status: Some(200),
            version: Some(if to_canary { "canary" } else { "stable" }.into()),
            error: None,
        })
    }
}
