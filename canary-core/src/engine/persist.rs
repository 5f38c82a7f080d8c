//! The saved state: loading, compare-and-set saves, and commands left by other processes.

use super::events::command_word;
use super::Rollout;
use crate::error::{Error, Result};
use crate::model::Event;
use crate::state::{now_ms, Command, Phase, RolloutState, HISTORY};
use crate::traits::Versioned;

impl Rollout {
    /// Loads the saved state, each try within the call deadline, transient failures (a Docker
    /// blip) retried within the spec's retry deadline.
    pub(super) async fn load_state(&self) -> Result<Option<Versioned>> {
        self.retrying("load state", || {
            self.deps.store.load(&self.spec.group, &self.apps)
        })
        .await
    }

    /// Saves with compare-and-set, retried like [`Rollout::load_state`]. A conflict is never
    /// retried here: the caller decides what someone else's write means.
    pub(super) async fn save_state(
        &self,
        state: &RolloutState,
        expected: Option<u64>,
    ) -> Result<u64> {
        self.retrying("save state", || {
            self.deps
                .store
                .save(&self.spec.group, &self.apps, state, expected)
        })
        .await
    }

    /// Leaves `cmd` in the saved state for the controller driving the rollout; the version
    /// written.
    pub(super) async fn deliver(&self, cmd: Command, by: &str, mut v: Versioned) -> Result<u64> {
        for _ in 0..10 {
            let mut state = v.state.clone();
            state.command = Some(cmd);
            state.command_by = Some(by.to_string());
            match self.save_state(&state, Some(v.version)).await {
                Ok(version) => return Ok(version),
                Err(Error::Conflict { .. }) => {
                    v = self
                        .load_state()
                        .await?
                        .ok_or_else(|| Error::not_found("rollout", self.spec.group.to_string()))?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::conflict(format!(
            "could not deliver {} to the rollout of {}: it kept changing",
            command_word(cmd),
            self.spec.group
        )))
    }

    /// Saves a change made by `f` to the current state, with compare-and-set, renewing this
    /// controller's lease. If someone else wrote in between, the write is kept only if they left
    /// a command and this controller still holds the lease (same owner and epoch); anything else
    /// means the lease was lost, and nothing is written: a stale controller never overwrites
    /// another's state, not even a finished one whose lease was handed back.
    pub(super) async fn save(&self, f: impl Fn(&mut RolloutState)) -> Result<()> {
        if self.lost.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::conflict(format!(
                "lost the lease of {}",
                self.spec.group
            )));
        }
        let mut guard = self.cur.lock().await;
        let Some(cur) = guard.as_mut() else {
            return Err(Error::internal("no rollout state loaded"));
        };
        for _ in 0..10 {
            let mut next = cur.state.clone();
            f(&mut next);
            next.updated_ms = now_ms();
            let unsaved: Vec<Event> = self.unsaved.lock().map(|u| u.clone()).unwrap_or_default();
            next.history.extend(unsaved.iter().cloned());
            let excess = next.history.len().saturating_sub(HISTORY);
            next.history.drain(..excess);
            if next.lease.is_some() {
                next.lease = Some(self.my_lease());
            }
            match self.save_state(&next, Some(cur.version)).await {
                Ok(version) => {
                    if next.lease.is_some() {
                        self.beat();
                    }
                    if let Ok(mut u) = self.unsaved.lock() {
                        // Only what this save carried: events emitted meanwhile wait for the next.
                        let n = unsaved.len().min(u.len());
                        u.drain(..n);
                    }
                    *cur = Versioned {
                        state: next,
                        version,
                    };
                    return Ok(());
                }
                Err(Error::Conflict { .. }) => {
                    let fresh = self.load_state().await?.ok_or_else(|| {
                        Error::conflict(format!("the state of {} was removed", self.spec.group))
                    })?;
                    if cur.state.lease.is_some() && !self.holds(fresh.state.lease.as_ref()) {
                        return Err(self.lost_to(&fresh.state));
                    }
                    cur.state.command = fresh.state.command;
                    cur.state.command_by = fresh.state.command_by;
                    cur.version = fresh.version;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::conflict(format!(
            "the state of {} keeps changing under us",
            self.spec.group
        )))
    }

    /// Reads the store for a command left by another process.
    pub(super) async fn poll_command(&self) -> Result<Option<Command>> {
        let fresh = self.load_state().await?;
        let mut guard = self.cur.lock().await;
        let (Some(fresh), Some(cur)) = (fresh, guard.as_mut()) else {
            return Ok(None);
        };
        if fresh.version != cur.version {
            if !self.holds(fresh.state.lease.as_ref()) {
                return Err(self.lost_to(&fresh.state));
            }
            cur.version = fresh.version;
            cur.state.command = fresh.state.command;
            cur.state.command_by = fresh.state.command_by;
        }
        Ok(cur.state.command)
    }

    pub(super) async fn state(&self) -> RolloutState {
        self.cur
            .lock()
            .await
            .as_ref()
            .map(|v| v.state.clone())
            .expect("state loaded")
    }

    pub(super) async fn phase(&self) -> Phase {
        self.state().await.phase
    }
}
