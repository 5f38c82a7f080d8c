//! Who drives a rollout: the lease, taken when a run starts or resumes, renewed while it drives,
//! handed back when it stops.

use std::collections::BTreeMap;

use super::options::host_of;
use super::Rollout;
use crate::error::{Error, Result};
use crate::model::EventKind;
use crate::state::{now_ms, Lease, RolloutState};
use crate::traits::Versioned;

impl Rollout {
    pub(super) fn canary_images(&self) -> BTreeMap<String, String> {
        // The extra env is part of what is being tried: the same image with other settings is
        // another rollout.
        self.spec
            .apps
            .iter()
            .map(|a| {
                let mut id = a.image.to_string();
                for (k, v) in &a.canary_env {
                    id.push_str(&format!(" {k}={v}"));
                }
                (a.name.to_string(), id)
            })
            .collect()
    }

    pub(super) fn lease_is_live(&self, lease: &Lease) -> bool {
        let ttl = lease.ttl_ms.unwrap_or(self.opts.lease.as_millis() as u64);
        now_ms().saturating_sub(lease.heartbeat_ms) < ttl
    }

    pub(super) fn my_lease(&self) -> Lease {
        Lease {
            owner: self.opts.owner.clone(),
            heartbeat_ms: now_ms(),
            ttl_ms: Some(self.opts.lease.as_millis() as u64),
        }
    }

    /// Loads or creates the state and takes the lease.
    pub(super) async fn acquire(&self) -> Result<()> {
        let mut waited_for: Option<Lease> = None;
        loop {
            let loaded = self.load_state().await?;
            let images = self.canary_images();
            let Some(v) = loaded else {
                let state = RolloutState::new(images, now_ms());
                return self.start_new(state, None).await;
            };
            let same = v.state.canary_images == images;
            let lease = v.state.lease.clone().filter(|l| l.owner != self.opts.owner);
            let live = lease.as_ref().filter(|l| self.lease_is_live(l));
            if same && v.state.phase.is_terminal() && !self.opts.restart {
                *self.cur.lock().await = Some(v.clone());
                self.emit(
                    EventKind::Resumed,
                    &v.state,
                    format!("rollout already ended: {}", v.state.phase),
                    None,
                );
                return Ok(());
            }
            if let Some(l) = live {
                // Someone holds it. If its heartbeat moves while we wait, it is alive.
                if let Some(prev) = &waited_for {
                    if prev.heartbeat_ms != l.heartbeat_ms || prev.owner != l.owner {
                        return Err(self.driven_by(l));
                    }
                }
                // A live lease of another host is never taken, not even with takeover (which
                // is for expired ones); one of this host is a restarted controller: wait it out.
                if host_of(&l.owner) != host_of(&self.opts.owner) {
                    return Err(self.driven_by(l));
                }
                waited_for = Some(l.clone());
                self.emit(
                    EventKind::Waiting,
                    &v.state,
                    format!("waiting for the lease of {} to expire", l.owner),
                    None,
                );
                tokio::time::sleep(self.opts.poll).await;
                continue;
            }
            if let Some(l) = &lease {
                if host_of(&l.owner) != host_of(&self.opts.owner)
                    && !self.opts.takeover
                    && !v.state.phase.is_terminal()
                {
                    return Err(Error::Conflict(format!(
                        "the rollout of {} was driven by {} whose lease expired; take it over explicitly",
                        self.spec.group, l.owner
                    )));
                }
            }
            if !same || v.state.phase.is_terminal() {
                if !v.state.phase.is_terminal() {
                    return Err(Error::Conflict(format!(
                        "a rollout of other images ({}) is {} for {}; finish or abort it first",
                        v.state
                            .canary_images
                            .values()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", "),
                        v.state.phase,
                        self.spec.group
                    )));
                }
                let state = RolloutState::new(images, now_ms());
                return self.start_new(state, Some(v.version)).await;
            }
            return self.take(v, true).await;
        }
    }

    pub(super) fn driven_by(&self, l: &Lease) -> Error {
        Error::Conflict(format!(
            "the rollout of {} is driven by {} (last heartbeat {} ms ago)",
            self.spec.group,
            l.owner,
            now_ms().saturating_sub(l.heartbeat_ms)
        ))
    }

    pub(super) async fn start_new(
        &self,
        mut state: RolloutState,
        expected: Option<u64>,
    ) -> Result<()> {
        state.lease = Some(self.my_lease());
        let version = self.save_state(&state, expected).await?;
        self.emit(
            EventKind::Started,
            &state,
            format!(
                "rollout of {} to {} in steps {:?}",
                self.spec.group,
                state
                    .canary_images
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                self.steps.iter().map(|w| w.get()).collect::<Vec<_>>()
            ),
            None,
        );
        *self.cur.lock().await = Some(Versioned { state, version });
        Ok(())
    }

    pub(super) async fn take(&self, v: Versioned, announce: bool) -> Result<()> {
        let mut state = v.state;
        state.lease = Some(self.my_lease());
        let version = self.save_state(&state, Some(v.version)).await?;
        if announce {
            self.emit(
                EventKind::Resumed,
                &state,
                format!(
                    "resuming at {} (step {} of {}, weight {})",
                    state.phase,
                    state.step + 1,
                    self.steps.len(),
                    state.weight
                ),
                None,
            );
        }
        *self.cur.lock().await = Some(Versioned { state, version });
        Ok(())
    }

    pub(super) fn check_owner(&self, state: &RolloutState) -> Result<()> {
        match &state.lease {
            Some(l) if l.owner != self.opts.owner => Err(Error::Conflict(format!(
                "the rollout of {} was taken over by {}",
                self.spec.group, l.owner
            ))),
            _ => Ok(()),
        }
    }
}
