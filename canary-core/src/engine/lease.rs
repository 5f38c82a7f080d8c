//! Who drives a rollout, fenced. A controller takes the lease with a random epoch when a run
//! starts or resumes, renews it from a heartbeat that runs beside the step loop, checks
//! (owner, epoch) against the saved state before every side effect, and treats any write it
//! did not make as the loss of the lease unless it only left a command. Whether another
//! controller's lease is alive is judged by watching the saved state's version move on this
//! controller's own clock, never by comparing two machines' wall clocks.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::options::{host_of, nonce};
use super::Rollout;
use crate::error::{Error, Result};
use crate::model::EventKind;
use crate::state::{now_ms, Lease, RolloutState};
use crate::traits::Versioned;

impl Rollout {
    /// What each app's canary is: the image as written, and a hash of its extra env (the values
    /// may be secrets; they never reach the saved state, events or errors).
    pub(super) fn canary_images(&self) -> BTreeMap<String, String> {
        self.spec
            .apps
            .iter()
            .map(|a| {
                let mut id = a.image.to_string();
                if !a.canary_env.is_empty() {
                    let mut h = Sha256::new();
                    for (k, v) in &a.canary_env {
                        h.update(k.as_bytes());
                        h.update([0]);
                        h.update(v.as_bytes());
                        h.update([0]);
                    }
                    let hex: String = h.finalize()[..8]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    id.push_str(&format!(" env:{hex}"));
                }
                (a.name.to_string(), id)
            })
            .collect()
    }

    /// This controller's lease, with the epoch of the current hold.
    pub(super) fn my_lease(&self) -> Lease {
        Lease {
            owner: self.opts.owner.clone(),
            epoch: Some(self.epoch.load(Ordering::SeqCst)),
            heartbeat_ms: now_ms(),
            ttl_ms: Some(self.opts.lease.as_millis() as u64),
        }
    }

    /// True when `lease` is this controller's current hold.
    pub(super) fn holds(&self, lease: Option<&Lease>) -> bool {
        lease.is_some_and(|l| {
            l.owner == self.opts.owner && l.epoch == Some(self.epoch.load(Ordering::SeqCst))
        })
    }

    /// A guess for people (`status`): the lease's heartbeat is younger than its length by this
    /// machine's clock. Decisions never use it.
    pub(super) fn looks_live(&self, lease: &Lease) -> bool {
        let ttl = lease.ttl_ms.unwrap_or(self.opts.lease.as_millis() as u64);
        now_ms().saturating_sub(lease.heartbeat_ms) < ttl
    }

    fn ttl_of(&self, lease: &Lease) -> Duration {
        lease
            .ttl_ms
            .map(Duration::from_millis)
            .unwrap_or(self.opts.lease)
            .clamp(Duration::from_millis(100), Duration::from_secs(3600))
    }

    /// Loads or creates the state and takes the lease. Another controller's lease is watched
    /// until the saved version moves (it is alive: a conflict) or stays still for the lease's
    /// length (it is dead: taken over, by a controller of the same host, or of another host with
    /// `takeover`).
    pub(super) async fn acquire(&self) -> Result<()> {
        // (version seen, since when, on our clock)
        let mut watching: Option<(u64, tokio::time::Instant)> = None;
        loop {
            let loaded = self.load_state().await?;
            let images = self.canary_images();
            let Some(v) = loaded else {
                let state = RolloutState::new(images, now_ms());
                return self.start_new(state, None).await;
            };
            let same = v.state.canary_images == images;
            let terminal = v.state.phase.is_terminal();
            if same && terminal && !self.opts.restart {
                *self.cur.lock().await = Some(v.clone());
                self.emit(
                    EventKind::Resumed,
                    &v.state,
                    format!("rollout already ended: {}", v.state.phase),
                    None,
                );
                return Ok(());
            }
            if let Some(l) = v.state.lease.clone().filter(|l| l.owner != self.opts.owner) {
                let ttl = self.ttl_of(&l);
                match watching {
                    Some((seen, _)) if seen != v.version => return Err(self.driven_by(&l)),
                    Some((_, since)) if since.elapsed() >= ttl => {
                        if host_of(&l.owner) != host_of(&self.opts.owner)
                            && !self.opts.takeover
                            && !terminal
                        {
                            return Err(Error::conflict(format!(
                                "the rollout of {} was driven by {} whose lease expired (no heartbeat for {:?}); take it over explicitly",
                                self.spec.group, l.owner, ttl
                            )));
                        }
                        self.emit(
                            EventKind::Waiting,
                            &v.state,
                            format!("the lease of {} expired: taking the rollout over", l.owner),
                            None,
                        );
                    }
                    Some(_) => {
                        tokio::time::sleep(self.opts.poll.min(ttl / 3)).await;
                        continue;
                    }
                    None => {
                        watching = Some((v.version, tokio::time::Instant::now()));
                        self.emit(
                            EventKind::Waiting,
                            &v.state,
                            format!(
                                "{} holds the lease: watching for its heartbeat (up to {:?})",
                                l.owner, ttl
                            ),
                            None,
                        );
                        tokio::time::sleep(self.opts.poll.min(ttl / 3)).await;
                        continue;
                    }
                }
            }
            if !same || terminal {
                if !terminal {
                    return Err(Error::conflict(format!(
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
        Error::conflict(format!(
            "the rollout of {} is driven by {} (its heartbeat moved while this controller watched)",
            self.spec.group, l.owner,
        ))
    }

    fn new_epoch(&self) {
        self.lost.store(false, Ordering::SeqCst);
        self.epoch.store(nonce() | 1, Ordering::SeqCst);
    }

    pub(super) async fn start_new(
        &self,
        mut state: RolloutState,
        expected: Option<u64>,
    ) -> Result<()> {
        self.new_epoch();
        state.lease = Some(self.my_lease());
        let version = self.save_state(&state, expected).await?;
        self.beat();
        self.emit(
            EventKind::Started,
            &state,
            format!(
                "rollout of {} to {} in steps {:?}{}",
                self.spec.group,
                state
                    .canary_images
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                self.steps.iter().map(|w| w.get()).collect::<Vec<_>>(),
                if self.spec.skip_analysis {
                    " without analysis (skipAnalysis)"
                } else {
                    ""
                }
            ),
            None,
        );
        *self.cur.lock().await = Some(Versioned { state, version });
        Ok(())
    }

    pub(super) async fn take(&self, v: Versioned, announce: bool) -> Result<()> {
        self.new_epoch();
        let mut state = v.state;
        state.lease = Some(self.my_lease());
        let version = self.save_state(&state, Some(v.version)).await?;
        self.beat();
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

    /// Records a save that proved this controller still holds the lease.
    pub(super) fn beat(&self) {
        if let Ok(mut b) = self.beat_ok.lock() {
            *b = Some(tokio::time::Instant::now());
        }
    }

    /// The error for a lease this controller no longer holds; marks it lost.
    pub(super) fn lost_to(&self, state: &RolloutState) -> Error {
        self.lost.store(true, Ordering::SeqCst);
        let who = state
            .lease
            .as_ref()
            .map(|l| l.owner.clone())
            .unwrap_or_else(|| "nobody (the lease was handed back)".into());
        Error::conflict(format!(
            "lost the lease of {}: the rollout was taken over by {who}",
            self.spec.group
        ))
    }

    /// Fails unless this controller still holds the lease: the saved state is read again and
    /// its (owner, epoch) compared. Called before every change to the world, so a controller
    /// that was paused, cut off or overtaken never acts on a rollout another one drives.
    pub(super) async fn fence(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(Error::conflict(format!(
                "lost the lease of {}",
                self.spec.group
            )));
        }
        let fresh = self.load_state().await?;
        match fresh {
            Some(v) if self.holds(v.state.lease.as_ref()) => Ok(()),
            Some(v) => Err(self.lost_to(&v.state)),
            None => {
                self.lost.store(true, Ordering::SeqCst);
                Err(Error::conflict(format!(
                    "the state of {} was removed",
                    self.spec.group
                )))
            }
        }
    }

    /// Renews the lease every third of its length until it is lost; returns the loss. Runs
    /// beside the step loop (`run`), so long waits, converges, hooks and backoffs never let the
    /// lease lapse. A failed renewal is tried again at the next beat; a lease this controller
    /// could not renew for its whole length is given up (another controller may hold it now).
    pub(super) async fn heartbeat(&self) -> Error {
        let every = self.opts.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match self.save(|_| {}).await {
                Ok(()) => {}
                Err(e) if self.lost.load(Ordering::SeqCst) => return e,
                Err(e) => {
                    let since = self
                        .beat_ok
                        .lock()
                        .ok()
                        .and_then(|b| *b)
                        .map(|b| b.elapsed())
                        .unwrap_or_default();
                    if since >= self.opts.lease {
                        self.lost.store(true, Ordering::SeqCst);
                        return Error::conflict(format!(
                            "could not renew the lease of {} for {:?} ({e}); stopped driving",
                            self.spec.group, since
                        ));
                    }
                    tracing::warn!(group = %self.spec.group, "heartbeat failed: {e}");
                }
            }
        }
    }
}
