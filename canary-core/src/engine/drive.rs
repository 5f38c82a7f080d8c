//! The state machine: from pending through the steps to promotion or rollback, one transition at a
//! time, with the analysis verdicts, pauses and commands in between.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::calls::Waited;
use super::events::{command_word, Outcome};
use super::Rollout;
use crate::analysis::{self, AnalysisReport, Verdict};
use crate::error::{Error, Result};
use crate::model::EventKind;
use crate::model::{ImageRef, Track, Weight};
use crate::spec::{InconclusiveAction, Strategy, TrafficMode};
use crate::state::{Command, Phase};
use crate::traits::{CanaryService, HookPoint};

impl Rollout {
    /// Drives the rollout to its end. A rollback that fails is tried again with backoff (1 s
    /// doubling to 30 s) until it finishes or `timeouts.rollback` has passed; it then stops and
    /// says so, still `rolling back`, for `canary rollback` or `canary run` to drive on.
    pub(super) async fn drive(&self) -> Result<Outcome> {
        let mut rollback_since: Option<tokio::time::Instant> = None;
        let mut backoff = Duration::from_secs(1);
        loop {
            let state = self.state().await;
            match state.phase {
                Phase::Promoted => return Ok(Outcome::Promoted),
                Phase::RolledBack => {
                    return Ok(Outcome::RolledBack {
                        cause: state.cause.unwrap_or_else(|| "rolled back".into()),
                    })
                }
                Phase::Failed => {
                    return Err(Error::internal(format!(
                        "rollout of {} failed: {} (`canary rollback` rolls it back)",
                        self.spec.group,
                        state.cause.unwrap_or_default()
                    )))
                }
                _ => {}
            }
            match self.advance().await {
                Ok(()) => backoff = Duration::from_secs(1),
                Err(e) if self.lost.load(Ordering::SeqCst) => return Err(e),
                Err(e) if self.phase().await == Phase::RollingBack => {
                    let since = *rollback_since.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() + backoff > self.spec.timeouts.rollback.get() {
                        return Err(Error::unavailable(format!(
                            "the rollback of {} did not finish within {} ({e}); it stays rolling back: `canary rollback` or `canary run` drives it on",
                            self.spec.group, self.spec.timeouts.rollback
                        )));
                    }
                    let st = self.state().await;
                    self.emit(
                        EventKind::Retry,
                        &st,
                        format!("rollback not finished: {e}; trying again in {backoff:?}"),
                        None,
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One transition from the current phase. An error before promotion is decided starts a
    /// rollback; an error while rolling back is returned, the phase kept, for [`Self::drive`] to
    /// try again.
    pub(super) async fn advance(&self) -> Result<()> {
        let state = self.state().await;
        let r = match state.phase {
            Phase::Pending => self.start().await,
            Phase::Progressing => self.progress(state.step).await,
            Phase::Paused => self.paused().await,
            Phase::Promoting => self.promote().await,
            Phase::RollingBack => self.rollback().await,
            Phase::Promoted | Phase::RolledBack | Phase::Failed => Ok(()),
        };
        match r {
            Ok(()) => Ok(()),
            // Losing the lease is not the rollout's failure: stop driving, change nothing.
            Err(e) if self.lost.load(Ordering::SeqCst) => Err(e),
            Err(e) => {
                let phase = self.phase().await;
                match phase {
                    Phase::Pending | Phase::Progressing | Phase::Paused | Phase::Promoting => {
                        self.begin_rollback(format!("error: {e}")).await
                    }
                    _ => Err(e),
                }
            }
        }
    }

    pub(super) async fn start(&self) -> Result<()> {
        let st = self.state().await;
        for hook in &self.spec.hooks.pre_rollout {
            let (ok, msg) = self.call_hook(hook, HookPoint::PreRollout, &st).await;
            if !ok {
                return self
                    .begin_rollback(format!("pre-rollout hook {} failed: {msg}", hook.name))
                    .await;
            }
        }
        let converge = self.spec.timeouts.converge.get();
        let stable_labels = self.stable_labels().await?;
        // Resolve each canary image once, now: the canary runs exactly this image and promotion
        // ships exactly it, whatever its tag names later.
        let mut pinned = self.state().await.canary_pinned;
        for (app, spec_app) in self.apps.iter().zip(&self.spec.apps) {
            if !pinned.contains_key(app.name.as_str()) {
                let p = self
                    .call("pin image", || {
                        self.deps.orchestrator.pin_image(&spec_app.image)
                    })
                    .await?;
                pinned.insert(app.name.to_string(), p.to_string());
            }
        }
        self.save(|s| s.canary_pinned = pinned.clone()).await?;
        let mut canaries = Vec::new();
        for (app, spec_app) in self.apps.iter().zip(&self.spec.apps) {
            let route = self.app_route(app, spec_app, &stable_labels);
            let add = self.deps.router.service_labels(&route, Track::Stable);
            if !add.is_empty() {
                let add: BTreeMap<String, Option<String>> =
                    add.into_iter().map(|(k, v)| (k, Some(v))).collect();
                self.effect("label stable", || {
                    self.deps.orchestrator.update_labels(&app.stable, &add)
                })
                .await?;
            }
            let replicas = match (self.spec.traffic.mode, self.spec.strategy) {
                (TrafficMode::Replicas, _) => 0,
                // Blue/green: the new version at stable's full size, ready to take everything.
                (TrafficMode::Weighted, Strategy::BlueGreen) => self.stable_size(app).await?,
                (TrafficMode::Weighted, Strategy::Canary) => spec_app.canary_replicas.initial(),
            };
            let image = match pinned.get(app.name.as_str()) {
                Some(p) => ImageRef::parse(p)?,
                None => spec_app.image.clone(),
            };
            let canary = CanaryService {
                from: app.stable.clone(),
                name: app.canary.clone(),
                image,
                replicas,
                env: spec_app.canary_env.clone(),
                labels: self.deps.router.service_labels(&route, Track::Canary),
                init: spec_app.init,
                placement: spec_app.placement.clone(),
            };
            self.effect("create canary", || {
                self.deps.orchestrator.ensure_canary(&canary)
            })
            .await?;
            canaries.push(app.canary.clone());
        }
        if self.spec.traffic.mode == TrafficMode::Weighted {
            if let Err(e) = self.wait_all(&canaries, converge).await {
                return self
                    .begin_rollback(format!("canary did not start: {e}"))
                    .await;
            }
        }
        self.refresh_endpoints().await?;
        let config = self.route_config_with(Weight::ZERO, true, &stable_labels);
        self.effect("route", || self.deps.router.apply(&config))
            .await?;
        self.save(|s| {
            s.phase = Phase::Progressing;
            s.step = 0;
            s.weight = 0;
        })
        .await?;
        let st = self.state().await;
        self.emit(
            EventKind::CanaryReady,
            &st,
            format!(
                "canary running: {}",
                canaries
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        );
        Ok(())
    }

    pub(super) async fn progress(&self, step: usize) -> Result<()> {
        let step = step.min(self.steps.len() - 1);
        let weight = self.steps[step];
        if !self.confirm_step(step).await? {
            return Ok(());
        }
        // Capacity first: the canary's tasks are up before its share grows.
        self.follow_weight(weight, true).await?;
        let effective = self.set_weight(weight).await?;
        self.save(|s| s.weight = effective.get()).await?;
        self.follow_weight(weight, false).await?;
        let st = self.state().await;
        // Replicas mode says its counts; a weight of 0 with a header route says what still goes.
        let note = match self.replica_note(weight) {
            n if !n.is_empty() => n,
            _ if weight.get() == 0 && self.spec.traffic.header_route.is_some() => {
                " (header route only)".to_string()
            }
            _ => String::new(),
        };
        self.emit(
            EventKind::WeightSet,
            &st,
            format!(
                "step {} of {}: canary weight {weight}{note}",
                step + 1,
                self.steps.len()
            ),
            None,
        );
        if effective.get() > 0 {
            if let Ok(mut since) = self.traffic_since.lock() {
                since.get_or_insert_with(tokio::time::Instant::now);
            }
        }
        if !self.hold(step, self.spec.traffic.interval.get()).await? {
            return Ok(());
        }
        if self.spec.skip_analysis {
            return self.judge(step, skipped_report()).await;
        }
        // Step hooks (load and acceptance tests): a "no" counts as a failed analysis.
        let st = self.state().await;
        let mut hook_failure = None;
        for hook in &self.spec.hooks.step {
            let (ok, msg) = self.call_hook(hook, HookPoint::Step, &st).await;
            if !ok {
                hook_failure = Some(format!("step hook {} failed: {msg}", hook.name));
                break;
            }
        }
        let report = match hook_failure {
            Some(reason) => AnalysisReport {
                verdict: Verdict::Fail,
                critical_failure: false,
                checks: Vec::new(),
                judges: Vec::new(),
                summary: reason,
            },
            None => {
                analysis::analyse(
                    &self.spec,
                    &self.apps,
                    self.deps.metrics.as_ref(),
                    self.spec.window(),
                    self.spec.timeouts.call.get(),
                )
                .await
            }
        };
        self.judge(step, report).await
    }

    pub(super) async fn judge(&self, step: usize, report: AnalysisReport) -> Result<()> {
        let a = &self.spec.analysis;
        let summary = report.summary.clone();
        let verdict = report.verdict;
        let critical = report.critical_failure;
        self.save(|s| {
            s.last_analysis = Some(report.clone());
            match verdict {
                Verdict::Pass => s.inconclusive = 0,
                Verdict::Fail => s.failures += 1,
                Verdict::Inconclusive => s.inconclusive += 1,
            }
        })
        .await?;
        let st = self.state().await;
        let word = match verdict {
            Verdict::Pass => "passed",
            Verdict::Fail => "failed",
            Verdict::Inconclusive => "inconclusive",
        };
        self.emit(
            EventKind::Analysis,
            &st,
            format!(
                "analysis {word} at weight {}: {summary} (failures {}/{}, inconclusive {}/{})",
                st.weight, st.failures, a.failure_limit, st.inconclusive, a.inconclusive_limit
            ),
            Some(report),
        );
        match verdict {
            Verdict::Pass => {
                if let Some(pause) = self.plan[step].pause {
                    if st.gate_passed != Some(step) {
                        return self.enter_gate(step, pause).await;
                    }
                }
                self.next_step(step).await
            }
            Verdict::Fail if critical || st.failures > a.failure_limit => {
                let why = if critical {
                    "a critical check failed"
                } else {
                    "failure limit reached"
                };
                self.begin_rollback(format!("{why}: {summary}")).await
            }
            Verdict::Inconclusive if st.inconclusive > a.inconclusive_limit => {
                match a.on_inconclusive {
                    InconclusiveAction::Rollback => {
                        self.begin_rollback(format!("inconclusive limit reached: {summary}"))
                            .await
                    }
                    InconclusiveAction::Pause => {
                        let cause = format!("paused: inconclusive limit reached: {summary}");
                        self.save(|s| {
                            s.phase = Phase::Paused;
                            s.cause = Some(cause.clone());
                        })
                        .await?;
                        let st = self.state().await;
                        self.emit(EventKind::Paused, &st, cause, None);
                        Ok(())
                    }
                }
            }
            _ => Ok(()),
        }
    }

    pub(super) async fn paused(&self) -> Result<()> {
        if let Some(gate) = self.state().await.gate {
            return self.at_gate(gate).await;
        }
        loop {
            match self.wait(Duration::from_secs(3600), false).await? {
                Waited::Command(cmd) => return self.handle_command(cmd, None).await,
                Waited::CanaryLost(why) => {
                    // Counted like a failed analysis; past the limit the rollout rolls back.
                    let limit = self.spec.analysis.failure_limit;
                    self.save(|s| s.failures += 1).await?;
                    if self.state().await.failures > limit {
                        return self
                            .begin_rollback(format!("failure limit reached: {why}"))
                            .await;
                    }
                }
                Waited::Critical(_) | Waited::Elapsed => {}
            }
        }
    }

    pub(super) async fn handle_command(&self, cmd: Command, by: Option<&str>) -> Result<()> {
        let by = match by {
            Some(b) => b.to_string(),
            None => self.state().await.command_by.unwrap_or_default(),
        };
        self.save(|s| {
            s.command = None;
            s.command_by = None;
        })
        .await?;
        let st = self.state().await;
        let from = if by.is_empty() {
            String::new()
        } else {
            format!(" from {by}")
        };
        self.emit(
            EventKind::Command,
            &st,
            format!("received {}{from}", command_word(cmd)),
            None,
        );
        match (cmd, st.phase) {
            (Command::Pause, Phase::Progressing) => {
                self.save(|s| {
                    s.phase = Phase::Paused;
                    s.cause = Some("paused by a person".into());
                })
                .await?;
                let st = self.state().await;
                self.emit(EventKind::Paused, &st, "paused by a person".into(), None);
                Ok(())
            }
            (Command::Resume, Phase::Paused) if st.gate.is_some() => {
                self.open_gate(&format!("resumed{from}")).await
            }
            (Command::Resume, Phase::Paused) => {
                self.save(|s| {
                    s.phase = Phase::Progressing;
                    s.cause = None;
                    s.inconclusive = 0;
                })
                .await
            }
            (Command::Promote, Phase::Progressing | Phase::Paused) => {
                if st.step + 1 < self.steps.len() {
                    self.save(|s| {
                        s.phase = Phase::Progressing;
                        s.cause = None;
                        s.gate = None;
                        s.step += 1;
                    })
                    .await
                } else {
                    self.begin_promotion("promoted by a person").await
                }
            }
            (Command::PromoteFull, Phase::Progressing | Phase::Paused) => {
                self.begin_promotion("fully promoted by a person").await
            }
            (Command::Abort, _) => self.begin_rollback("aborted by a person".into()).await,
            // Pausing a paused rollout, resuming a running one: nothing to do.
            _ => Ok(()),
        }
    }

    /// Carries out a command with nobody driving the rollout.
    pub(super) async fn apply_standalone(&self, cmd: Command, by: &str) -> Result<()> {
        self.handle_command(cmd, Some(by)).await?;
        let phase = self.phase().await;
        match phase {
            // Promotion and rollback are finished here, so the command means what it says.
            Phase::Promoting | Phase::RollingBack => {
                self.driving.store(true, Ordering::SeqCst);
                let r = self.drive().await.map(|_| ());
                self.driving.store(false, Ordering::SeqCst);
                r
            }
            Phase::Progressing if cmd == Command::Promote => {
                // Put the next step's weight in force; the analysis is left to the next `run`.
                let step = self.state().await.step;
                let w = self.set_weight(self.steps[step]).await?;
                self.save(|s| s.weight = w.get()).await?;
                let st = self.state().await;
                self.emit(
                    EventKind::WeightSet,
                    &st,
                    format!("canary weight {w} set by a person"),
                    None,
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(super) async fn begin_promotion(&self, why: &str) -> Result<()> {
        self.save(|s| {
            s.phase = Phase::Promoting;
            s.cause = None;
            s.gate = None;
        })
        .await?;
        let st = self.state().await;
        self.emit(EventKind::Promoting, &st, format!("promoting: {why}"), None);
        Ok(())
    }

    pub(super) async fn begin_rollback(&self, cause: String) -> Result<()> {
        self.save(|s| {
            s.phase = Phase::RollingBack;
            s.cause = Some(cause.clone());
            s.gate = None;
        })
        .await?;
        let st = self.state().await;
        self.emit(
            EventKind::RollingBack,
            &st,
            format!("rolling back: {cause}"),
            None,
        );
        Ok(())
    }
}

pub(super) fn validate_command(cmd: Command, phase: Phase) -> Result<()> {
    let ok = match cmd {
        Command::Pause => matches!(phase, Phase::Progressing | Phase::Paused),
        Command::Resume => matches!(phase, Phase::Paused | Phase::Progressing),
        Command::Promote | Command::PromoteFull => {
            matches!(phase, Phase::Progressing | Phase::Paused)
        }
        Command::Abort => !phase.is_terminal() || phase == Phase::Failed,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "cannot {} a rollout that is {phase}",
            command_word(cmd)
        )))
    }
}

/// A canary that lost its tasks, as a failed analysis: the failure limit decides.
pub(super) fn lost_report(why: String) -> AnalysisReport {
    AnalysisReport {
        verdict: Verdict::Fail,
        critical_failure: false,
        checks: Vec::new(),
        judges: Vec::new(),
        summary: why,
    }
}

/// The verdict of a step of a spec with `skipAnalysis`: a pass that says it was not measured.
fn skipped_report() -> AnalysisReport {
    AnalysisReport {
        verdict: Verdict::Pass,
        critical_failure: false,
        checks: Vec::new(),
        judges: Vec::new(),
        summary: "analysis skipped (skipAnalysis: promoted without analysis)".into(),
    }
}
