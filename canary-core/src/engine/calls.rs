//! Calls to the world: deadlines and retries, waits that watch for commands, hooks.

use std::time::Duration;

use futures::future::join_all;

use super::Rollout;
use crate::error::{with_timeout, Result};
use crate::model::EventKind;
use crate::model::ServiceName;
use crate::spec::HookSpec;
use crate::state::{Command, Phase, RolloutState};
use crate::traits::{HookContext, HookPoint};

pub(super) enum Waited {
    Elapsed,
    Command(Command),
    /// The canary runs no task any more: why.
    CanaryLost(String),
    /// A continuous analysis failed a critical check.
    Critical(crate::model::AnalysisReport),
}

impl Rollout {
    pub(super) async fn wait_all(&self, services: &[ServiceName], timeout: Duration) -> Result<()> {
        let results = join_all(services.iter().map(|s| {
            let bound = timeout + self.spec.timeouts.call.get();
            with_timeout(
                format!("converge {s}"),
                bound,
                self.deps.orchestrator.wait_converged(s, timeout),
            )
        }))
        .await;
        for r in results {
            r?;
        }
        Ok(())
    }

    /// Waits `dur` while the canary is routed: looks for commands every `poll`, watches the
    /// canary every `traffic.watch` (see [`super::watch`]), with `analyse` runs the continuous
    /// analysis every `analysis.every`, renews the lease.
    pub(super) async fn wait(&self, dur: Duration, analyse: bool) -> Result<Waited> {
        let start = tokio::time::Instant::now();
        let deadline = start + dur;
        let watch_every = self.spec.traffic.watch.get();
        let every = self
            .spec
            .analysis
            .every
            .filter(|_| analyse && !self.spec.skip_analysis)
            .map(|e| e.get());
        let mut last_beat = start;
        let mut next_poll = start;
        let mut next_watch = start + watch_every;
        let mut next_analysis = every.map(|e| start + e);
        loop {
            let now = tokio::time::Instant::now();
            if now >= next_poll {
                if let Some(cmd) = self.poll_command().await? {
                    return Ok(Waited::Command(cmd));
                }
                next_poll = now + self.opts.poll;
            }
            if now >= deadline {
                return Ok(Waited::Elapsed);
            }
            if now >= next_watch {
                if let super::watch::Finding::CanaryLost(why) = self.watch_once().await? {
                    return Ok(Waited::CanaryLost(why));
                }
                next_watch = tokio::time::Instant::now() + watch_every;
            }
            if let (Some(at), Some(e)) = (next_analysis, every) {
                if now >= at {
                    if let Some(report) = self.analyse_now().await {
                        return Ok(Waited::Critical(report));
                    }
                    next_analysis = Some(tokio::time::Instant::now() + e);
                }
            }
            if now.duration_since(last_beat) >= self.opts.lease / 3 {
                self.save(|_| {}).await?;
                last_beat = now;
            }
            let now = tokio::time::Instant::now();
            let mut wake_at = next_poll.min(next_watch).min(deadline);
            if let Some(a) = next_analysis {
                wake_at = wake_at.min(a);
            }
            let nap = wake_at.saturating_duration_since(now);
            tokio::select! {
                _ = tokio::time::sleep(nap.max(Duration::from_millis(1))) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// One continuous analysis (see [`crate::spec::AnalysisSpec::every`]) over the spec's window
    /// or the time since the canary got traffic, if shorter; the report when a critical check
    /// failed. Anything else is left to the step's own verdict.
    async fn analyse_now(&self) -> Option<crate::model::AnalysisReport> {
        let since = self.traffic_since.lock().ok().and_then(|t| *t)?;
        let window = self.spec.window().min(since.elapsed());
        if window < Duration::from_millis(500) {
            return None;
        }
        let report = crate::analysis::analyse(
            &self.spec,
            &self.apps,
            self.deps.metrics.as_ref(),
            window,
            self.spec.timeouts.call.get(),
        )
        .await;
        report.critical_failure.then_some(report)
    }

    /// A read of the world with the spec's call deadline, retried like
    /// [`Rollout::retrying`].
    pub(super) async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.retrying(what, f).await
    }

    /// A change to the world: only while this controller still holds the lease
    /// ([`Rollout::fence`]), then like [`Rollout::call`].
    pub(super) async fn effect<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.fence().await?;
        self.retrying(what, f).await
    }

    /// Runs `f` with the spec's call deadline; a retryable failure (unavailable, timed out) is
    /// tried again with backoff (200 ms doubling to 5 s) until it works, `retries` attempts
    /// were made, or the spec's `timeouts.retry` has passed since the first: a Docker or
    /// state-store blip of a few seconds costs a wait, not a healthy canary.
    pub(super) async fn retrying<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let timeout = self.spec.timeouts.call.get();
        let deadline = tokio::time::Instant::now() + self.spec.timeouts.retry.get();
        let mut attempt: u32 = 0;
        let mut backoff = Duration::from_millis(200);
        loop {
            match with_timeout(what, timeout, f()).await {
                Err(e)
                    if e.is_retryable()
                        && attempt < self.opts.retries
                        && tokio::time::Instant::now() + backoff < deadline =>
                {
                    attempt += 1;
                    // The state may be locked by the save this call is part of: then only log.
                    match self.cur.try_lock() {
                        Ok(g) if g.is_some() => {
                            let st = g.as_ref().map(|v| v.state.clone());
                            drop(g);
                            if let Some(st) = st {
                                self.emit(
                                    EventKind::Retry,
                                    &st,
                                    format!("{what}: {e} (retry {attempt} in {backoff:?})"),
                                    None,
                                );
                            }
                        }
                        _ => {
                            tracing::warn!(group = %self.spec.group, "{what}: {e} (retry {attempt})")
                        }
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                r => return r,
            }
        }
    }

    /// Calls a hook; unreachable or failing hooks are a "no", never a pass.
    pub(super) async fn call_hook(
        &self,
        hook: &HookSpec,
        point: HookPoint,
        st: &RolloutState,
    ) -> (bool, String) {
        if let Err(e) = self.fence().await {
            return (false, e.to_string());
        }
        let ctx = HookContext {
            group: self.spec.group.to_string(),
            apps: self.apps.iter().map(|a| a.name.to_string()).collect(),
            point,
            step: matches!(st.phase, Phase::Progressing | Phase::Paused).then_some(st.step),
            weight: st.weight,
            phase: st.phase.to_string(),
            metadata: hook.metadata.clone(),
        };
        let (ok, msg) = match with_timeout(
            format!("hook {}", hook.name),
            hook.timeout.get(),
            self.deps.hooks.call(hook, &ctx),
        )
        .await
        {
            Ok(o) => (o.ok, o.message),
            Err(e) => (false, e.to_string()),
        };
        self.emit(
            EventKind::Hook,
            st,
            format!(
                "{:?} hook {}: {} {msg}",
                point,
                hook.name,
                if ok { "ok" } else { "refused" }
            ),
            None,
        );
        (ok, msg)
    }
}
