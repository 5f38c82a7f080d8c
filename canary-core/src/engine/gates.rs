//! What stands between one step and the next: gate steps (`pause`) that hold until a person or a
//! timer opens them, `confirm` hooks asked before a weight rises, and the canary's capacity
//! following its weight (`canaryReplicas: auto`).

use std::time::Duration;

use super::calls::Waited;
use super::drive::lost_report;
use super::Rollout;
use crate::error::Result;
use crate::model::{AppRef, EventKind, Weight};
use crate::spec::{Pause, TrafficMode};
use crate::state::{now_ms, Gate, Phase};
use crate::traits::HookPoint;

impl Rollout {
    /// Waits `dur` at `step` with the canary watched and analysed; `true` when the time passed,
    /// `false` when a command, a lost canary or a critical failure was handled instead.
    pub(super) async fn hold(&self, step: usize, dur: Duration) -> Result<bool> {
        match self.wait(dur, true).await? {
            Waited::Elapsed => Ok(true),
            Waited::Command(cmd) => self.handle_command(cmd, None).await.map(|()| false),
            Waited::CanaryLost(why) => self.judge(step, lost_report(why)).await.map(|()| false),
            Waited::Critical(report) => {
                let st = self.state().await;
                self.emit(
                    EventKind::Analysis,
                    &st,
                    format!(
                        "continuous analysis at weight {}: a critical check failed mid-step",
                        st.weight
                    ),
                    Some(report.clone()),
                );
                self.judge(step, report).await.map(|()| false)
            }
        }
    }

    /// Asks `step`'s `confirm` hooks before its weight is put in force; `false` (after waiting
    /// one interval at the weight in force) while one says no. A weight already in force (a
    /// controller that picked the rollout up again) is not asked about twice.
    pub(super) async fn confirm_step(&self, step: usize) -> Result<bool> {
        let hooks = &self.plan[step].confirm;
        let st = self.state().await;
        if hooks.is_empty() || st.weight == self.steps[step].get() {
            return Ok(true);
        }
        for hook in hooks {
            let (ok, msg) = self
                .call_hook(hook, HookPoint::ConfirmTrafficIncrease, &st)
                .await;
            if !ok {
                self.emit(
                    EventKind::Waiting,
                    &st,
                    format!(
                        "step {} of {} (weight {}) waits for hook {} to confirm: {msg}",
                        step + 1,
                        self.steps.len(),
                        self.steps[step],
                        hook.name
                    ),
                    None,
                );
                self.hold(step, self.spec.traffic.interval.get()).await?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// With `canaryReplicas: auto`, scales each canary to its count at `weight`: only up when
    /// `grow` (before the weight rises, waiting until the new tasks run), only down otherwise
    /// (after it fell).
    pub(super) async fn follow_weight(&self, weight: Weight, grow: bool) -> Result<()> {
        if self.spec.traffic.mode != TrafficMode::Weighted {
            return Ok(());
        }
        let ceiling = self.spec.limits.max_replicas;
        let mut grown = Vec::new();
        for (app, spec_app) in self.apps.iter().zip(&self.spec.apps) {
            if !spec_app.canary_replicas.is_auto() {
                continue;
            }
            let stable = self.stable_size(app).await?;
            let want = spec_app.canary_replicas.at(weight, stable, ceiling);
            let scaled = self
                .scale_canary(app, want, grow, |now| {
                    format!(
                        "{}: canary {now} → {want} tasks for weight {weight} (stable runs {stable})",
                        app.name
                    )
                })
                .await?;
            if scaled && grow {
                grown.push(app.canary.clone());
            }
        }
        if !grown.is_empty() {
            self.wait_all(&grown, self.spec.timeouts.converge.get())
                .await?;
            // The new tasks join the routing before the weight that needs them.
            self.refresh_endpoints().await?;
        }
        Ok(())
    }

    /// Scales `app`'s canary to `want` tasks when that grows it (`grow`) or shrinks it (not
    /// `grow`), with a `canaryScaled` event saying `why(now)`; whether it scaled.
    pub(super) async fn scale_canary(
        &self,
        app: &AppRef,
        want: u64,
        grow: bool,
        why: impl FnOnce(u64) -> String,
    ) -> Result<bool> {
        let now = self
            .call("inspect canary", || {
                self.deps.orchestrator.inspect(&app.canary)
            })
            .await?
            .desired;
        if !((grow && want > now) || (!grow && want < now)) {
            return Ok(false);
        }
        self.effect("scale canary", || {
            self.deps.orchestrator.scale(&app.canary, want)
        })
        .await?;
        let st = self.state().await;
        self.emit(EventKind::CanaryScaled, &st, why(now), None);
        Ok(true)
    }

    /// Stable's desired task count, bounded by `limits.maxReplicas` (at least 1).
    pub(super) async fn stable_size(&self, app: &AppRef) -> Result<u64> {
        let s = self
            .call("inspect stable", || {
                self.deps.orchestrator.inspect(&app.stable)
            })
            .await?;
        Ok(s.desired.clamp(1, self.spec.limits.max_replicas.max(1)))
    }

    /// Holds at `step` (its analysis passed) until the gate opens.
    pub(super) async fn enter_gate(&self, step: usize, pause: Pause) -> Result<()> {
        let (until_ms, how) = match pause {
            Pause::UntilResumed => (
                None,
                "until `canary resume` or `canary promote`".to_string(),
            ),
            Pause::For(d) => (
                Some(now_ms().saturating_add(d.get().as_millis() as u64)),
                format!("for {d} (`canary resume` opens it early)"),
            ),
        };
        let cause = format!(
            "gate at step {} of {} (weight {}): holds {how}",
            step + 1,
            self.steps.len(),
            self.steps[step]
        );
        self.save(|s| {
            s.phase = Phase::Paused;
            s.gate = Some(Gate { step, until_ms });
            s.cause = Some(cause.clone());
        })
        .await?;
        let st = self.state().await;
        self.emit(EventKind::Gate, &st, cause, None);
        Ok(())
    }

    /// Waits at a gate, the canary still watched and analysed (a critical failure rolls back);
    /// a timed gate opens when its time is up, counted from the saved deadline so a controller
    /// that picks the rollout up does not start the wait again.
    pub(super) async fn at_gate(&self, gate: Gate) -> Result<()> {
        let dur = match gate.until_ms {
            Some(until) => Duration::from_millis(until.saturating_sub(now_ms())),
            None => Duration::from_secs(3600),
        };
        if self.hold(gate.step, dur).await? && gate.until_ms.is_some() {
            let held = match self.plan[gate.step].pause {
                Some(Pause::For(d)) => format!("held for {d}"),
                _ => "held".into(),
            };
            return self.open_gate(&held).await;
        }
        Ok(())
    }

    /// Opens the gate the rollout holds at and goes on to the next step (or promotion).
    pub(super) async fn open_gate(&self, why: &str) -> Result<()> {
        let Some(gate) = self.state().await.gate else {
            return Ok(());
        };
        self.save(|s| {
            s.gate = None;
            s.gate_passed = Some(gate.step);
            s.phase = Phase::Progressing;
            s.cause = None;
        })
        .await?;
        let st = self.state().await;
        self.emit(
            EventKind::Gate,
            &st,
            format!(
                "gate at step {} of {} opened: {why}",
                gate.step + 1,
                self.steps.len()
            ),
            None,
        );
        self.next_step(gate.step).await
    }

    /// After `step` passed (and its gate, if any, opened): the next step, or promotion once the
    /// confirm-promotion hooks agree (while one says no, the last step is run again).
    pub(super) async fn next_step(&self, step: usize) -> Result<()> {
        if step + 1 < self.steps.len() {
            return self.save(|s| s.step = step + 1).await;
        }
        let st = self.state().await;
        for hook in &self.spec.hooks.confirm_promotion {
            let (ok, msg) = self.call_hook(hook, HookPoint::ConfirmPromotion, &st).await;
            if !ok {
                self.emit(
                    EventKind::Waiting,
                    &st,
                    format!(
                        "waiting for promotion to be confirmed: hook {} said {msg}",
                        hook.name
                    ),
                    None,
                );
                return Ok(());
            }
        }
        let why = if self.spec.skip_analysis {
            "analysis skipped at every step (skipAnalysis)"
        } else {
            "analysis passed at every step"
        };
        self.begin_promotion(why).await
    }
}
