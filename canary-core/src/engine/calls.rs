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

    /// Waits `dur`, looking for commands every `poll` and renewing the lease.
    pub(super) async fn wait(&self, dur: Duration, what: &str) -> Result<Waited> {
        let deadline = tokio::time::Instant::now() + dur;
        let mut last_beat = tokio::time::Instant::now();
        let _ = what;
        loop {
            if let Some(cmd) = self.poll_command().await? {
                return Ok(Waited::Command(cmd));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Waited::Elapsed);
            }
            if now.duration_since(last_beat) >= self.opts.lease / 3 {
                self.save(|_| {}).await?;
                last_beat = now;
            }
            let nap = self.opts.poll.min(deadline - now);
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// An external call with the spec's deadline, retried while the failure is retryable.
    pub(super) async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let timeout = self.spec.timeouts.call.get();
        let mut attempt = 0;
        loop {
            match with_timeout(what, timeout, f()).await {
                Err(e) if e.is_retryable() && attempt < self.opts.retries => {
                    attempt += 1;
                    if let Some(st) = self.cur.lock().await.as_ref().map(|v| v.state.clone()) {
                        self.emit(
                            EventKind::Retry,
                            &st,
                            format!("{what}: {e} (retry {attempt})"),
                            None,
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(200) * 2u32.pow(attempt)).await;
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
