//! The canary watch: while a step's interval runs and while the rollout is paused, the canary's
//! running tasks are read every `traffic.watch` (250 ms by default). A change of its task set is
//! put in force at once (the router sends the canary's share to exactly those tasks); a canary
//! that runs no task any more is taken out of the routing by that same write, then judged: a
//! failed analysis, so the failure limit decides (by default: roll back). When stable has lost
//! its tasks too, the cluster is at fault, not the canary, and nothing is counted. Every few
//! seconds the canary's image tag is resolved again: a tag that moved changes nothing (the
//! canary runs, and promotion ships, the image resolved when the canary was created) and is
//! reported.

use std::time::Duration;

use super::Rollout;
use crate::error::{Error, Result};
use crate::model::{EventKind, ServiceName, Weight};
use crate::traits::TaskEndpoint;

/// How often the canary's image tag is resolved again.
const TAG_CHECK: Duration = Duration::from_secs(5);

/// What one look at the canaries found.
pub(super) enum Finding {
    /// Nothing that needs a decision.
    Fine,
    /// A canary runs no task any more (and stable does): why.
    CanaryLost(String),
}

impl Rollout {
    /// Reads every app's canary tasks; `true` when any set differs from the one in force.
    pub(super) async fn refresh_endpoints(&self) -> Result<(bool, Vec<ServiceName>)> {
        let mut changed = false;
        let mut emptied = Vec::new();
        for app in &self.apps {
            let eps: Vec<TaskEndpoint> = match self
                .call("canary tasks", || {
                    self.deps.orchestrator.task_endpoints(&app.canary)
                })
                .await
            {
                Ok(e) => e,
                Err(Error::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e),
            };
            let mut known = self.endpoints.lock().map_err(|_| poisoned())?;
            let before = known.get(&app.name).cloned().unwrap_or_default();
            if before != eps {
                changed = true;
                if eps.is_empty() && !before.is_empty() {
                    emptied.push(app.name.clone());
                }
                known.insert(app.name.clone(), eps);
            }
        }
        Ok((changed, emptied))
    }

    /// The canary endpoints in force for `app`.
    pub(super) fn endpoints_of(&self, app: &ServiceName) -> Vec<TaskEndpoint> {
        self.endpoints
            .lock()
            .ok()
            .and_then(|m| m.get(app).cloned())
            .unwrap_or_default()
    }

    /// One look (see the module docs).
    pub(super) async fn watch_once(&self) -> Result<Finding> {
        self.check_tags().await;
        let (changed, emptied) = self.refresh_endpoints().await?;
        if !changed {
            return Ok(Finding::Fine);
        }
        let st = self.state().await;
        let weight = Weight::new(st.weight.into())?;
        let stable_labels = self.stable_labels().await?;
        let config = self.route_config_with(weight, true, &stable_labels);
        // Handed over at once (a file write), confirmed right after: a dead canary is out of the
        // routing within the watch interval, not after the router's confirmation round trip.
        if let Err(e) = self
            .effect("route", || self.deps.router.write(&config))
            .await
        {
            tracing::warn!(group = %self.spec.group, "routes not written at once: {e}");
        }
        let counts: Vec<String> = self
            .apps
            .iter()
            .map(|a| format!("{} {}", a.name, self.endpoints_of(&a.name).len()))
            .collect();
        let st = self.state().await;
        self.emit(
            EventKind::CanaryTasks,
            &st,
            format!(
                "canary tasks changed, routes rewritten: {} running",
                counts.join(", ")
            ),
            None,
        );
        if emptied.is_empty() {
            self.put_routes(&config).await?;
            return Ok(Finding::Fine);
        }
        // Stable down too: the cluster's fault (a dockerd restart, a node lost), not the canary's.
        let mut stable_down = true;
        for app in self.apps.iter().filter(|a| emptied.contains(&a.name)) {
            let s = self
                .call("inspect stable", || {
                    self.deps.orchestrator.inspect(&app.stable)
                })
                .await?;
            stable_down &= s.running == 0;
        }
        let names: Vec<String> = emptied.iter().map(|a| a.to_string()).collect();
        if stable_down {
            self.emit(
                EventKind::CanaryLost,
                &st,
                format!(
                    "the canary of {} runs no task, and neither does stable: the cluster's fault, not counted against the canary",
                    names.join(", ")
                ),
                None,
            );
            self.put_routes(&config).await?;
            return Ok(Finding::Fine);
        }
        let why = format!(
            "the canary of {} runs no task any more (crashed, killed or evicted); its share went to stable",
            names.join(", ")
        );
        self.emit(EventKind::CanaryLost, &st, why.clone(), None);
        self.put_routes(&config).await?;
        Ok(Finding::CanaryLost(why))
    }

    /// Reports a canary tag that now names another image than the one the canary runs.
    async fn check_tags(&self) {
        {
            let Ok(mut last) = self.last_tag_check.lock() else {
                return;
            };
            if last.is_some_and(|t| t.elapsed() < TAG_CHECK) {
                return;
            }
            *last = Some(tokio::time::Instant::now());
        }
        let st = self.state().await;
        for (app, spec_app) in self.apps.iter().zip(&self.spec.apps) {
            let Some(pinned) = st.canary_pinned.get(app.name.as_str()) else {
                continue;
            };
            if spec_app.image.is_pinned() {
                continue;
            }
            let Ok(now) = self.deps.orchestrator.pin_image(&spec_app.image).await else {
                continue;
            };
            let key = format!("{}={now}", app.name);
            let fresh = self
                .tags_reported
                .lock()
                .map(|mut r| r.insert(key))
                .unwrap_or(false);
            if now.as_str() != pinned && fresh {
                self.emit(
                    EventKind::TagMoved,
                    &st,
                    format!(
                        "{}: tag {} now names {now}; the canary keeps running, and promotion ships, the image it was created from ({pinned})",
                        app.name, spec_app.image
                    ),
                    None,
                );
            }
        }
    }

    /// Puts `config` in force, confirmed; if the router's API cannot be reached, hands it over
    /// unconfirmed (a canary's slot that falls back to stable is safe either way).
    pub(super) async fn put_routes(&self, config: &crate::traits::RouteConfig) -> Result<()> {
        match self
            .effect("route", || self.deps.router.apply(config))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.is_retryable() => {
                self.effect("route (unconfirmed)", || self.deps.router.write(config))
                    .await?;
                let st = self.state().await;
                self.emit(
                    EventKind::Retry,
                    &st,
                    format!(
                        "routes written but not confirmed: the router's API did not answer ({e})"
                    ),
                    None,
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

fn poisoned() -> Error {
    Error::internal("the canary endpoints lock was poisoned")
}
