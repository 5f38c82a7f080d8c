//! The handover of a promotion: stable leaves the routing while its tasks are replaced, the canary
//! (the very image being promoted) serving everything, and comes back only once the router sends
//! to its new tasks.
//!
//! Why: a router that discovers stable by itself can lose it for a moment while Swarm replaces its
//! tasks. Measured on the local stack after a `dockerd` restart: Traefik's swarm provider reported
//! "service …@swarm does not exist" during stable's image update, and every request of the app
//! answered 404 for about a second (28 of 412 in the e2e rollout test), because a weighted service
//! naming a missing child is disabled as a whole. Nothing the router loads names stable while it is
//! detached, so that moment costs nothing.

use std::collections::BTreeMap;

use super::Rollout;
use crate::error::{Error, Result};
use crate::model::{EventKind, ServiceName, Weight};
use crate::spec::PromoteStrategy;

impl Rollout {
    /// Sends every request to the canary's tasks with stable out of the routing: first (with
    /// `promote.strategy: updateStable`) each canary grows to stable's size, so it can carry
    /// stable's load; an error leaves the routing as it was.
    pub(super) async fn detach_stable(
        &self,
        stable_labels: &BTreeMap<ServiceName, BTreeMap<String, String>>,
    ) -> Result<()> {
        if self.spec.promote.strategy == PromoteStrategy::UpdateStable {
            let mut grown = Vec::new();
            for app in &self.apps {
                let want = self.stable_size(app).await?;
                let scaled = self
                    .scale_canary(app, want, true, |now| {
                        format!(
                            "{}: canary {now} → {want} tasks, stable's size, to serve everything while stable takes the new version",
                            app.name
                        )
                    })
                    .await?;
                if scaled {
                    grown.push(app.canary.clone());
                }
            }
            if !grown.is_empty() {
                self.wait_all(&grown, self.spec.timeouts.converge.get())
                    .await?;
            }
        }
        self.refresh_endpoints().await?;
        for app in &self.apps {
            if self.endpoints_of(&app.name).is_empty() {
                return Err(Error::unavailable(format!(
                    "canary {} has no running task to serve everything while stable takes the new version",
                    app.canary
                )));
            }
        }
        let mut config = self.route_config_with(Weight::FULL, true, stable_labels);
        config.stable_detached = true;
        self.effect("route", || self.deps.router.apply(&config))
            .await?;
        self.save(|s| s.weight = 100).await?;
        let st = self.state().await;
        self.emit(
            EventKind::Handover,
            &st,
            "stable out of the routing while it takes the new version: the canary serves everything"
                .to_string(),
            None,
        );
        Ok(())
    }

    /// Waits until the router sends each app's stable traffic to exactly stable's running tasks.
    pub(super) async fn await_stable(
        &self,
        stable_labels: &BTreeMap<ServiceName, BTreeMap<String, String>>,
    ) -> Result<()> {
        for (app, spec_app) in self.apps.iter().zip(&self.spec.apps) {
            let endpoints = self
                .call("stable tasks", || {
                    self.deps.orchestrator.task_endpoints(&app.stable)
                })
                .await?;
            let route = self.app_route(app, spec_app, stable_labels);
            self.call("router sees stable", || {
                self.deps.router.await_stable(&route, &endpoints)
            })
            .await?;
        }
        Ok(())
    }
}
