//! `canary status`: `Rollout::status`, printed.

use canary_core::Status;

use crate::args::Global;
use crate::error::CliResult;
use crate::output::{human_drift, human_report, tagged, Printer};
use crate::session;

pub(crate) async fn status(g: &Global, p: &Printer) -> CliResult<u8> {
    let (_, canary) = session::connect(g).await?;
    let stack = canary
        .spec()
        .stack
        .as_ref()
        .map(|s| format!(" (stack {s})"))
        .unwrap_or_default();
    let status = canary.status().await?;
    p.emit(tagged("status", &status), || human(&status, &stack));
    Ok(0)
}

fn ago(ms: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    format!("{:.1}s ago", now.saturating_sub(ms) as f64 / 1000.0)
}

fn human(s: &Status, stack: &str) -> String {
    let mut out = format!("group {}{stack}\n", s.group);
    match &s.state {
        None => out.push_str("rollout: none recorded\n"),
        Some(st) => {
            let step = format!("step {}/{}", st.step + 1, s.steps.len());
            out.push_str(&format!(
                "rollout: {} at {step} of {:?}, canary weight {}% (failures {}, inconclusive {})\n",
                st.phase, s.steps, st.weight, st.failures, st.inconclusive
            ));
            if let Some(c) = &st.cause {
                out.push_str(&format!("  cause: {c}\n"));
            }
            let images: Vec<String> = st
                .canary_images
                .iter()
                .map(|(a, i)| format!("{a}={i}"))
                .collect();
            out.push_str(&format!("  canary: {}\n", images.join(", ")));
            if !st.promoted_images.is_empty() {
                let images: Vec<String> = st
                    .promoted_images
                    .iter()
                    .map(|(a, i)| format!("{a}={i}"))
                    .collect();
                out.push_str(&format!("  promoted to: {}\n", images.join(", ")));
            }
            out.push_str(&format!(
                "  started {}, last change {}\n",
                ago(st.started_ms),
                ago(st.updated_ms)
            ));
            match &st.lease {
                Some(l) if s.driven => out.push_str(&format!(
                    "  driven by {} (heartbeat {})\n",
                    l.owner,
                    ago(l.heartbeat_ms)
                )),
                Some(l) => out.push_str(&format!(
                    "  not driven: the lease of {} expired (heartbeat {})\n",
                    l.owner,
                    ago(l.heartbeat_ms)
                )),
                None => out.push_str("  not driven\n"),
            }
            if let Some(cmd) = st.command {
                out.push_str(&format!("  command waiting for the driver: {cmd:?}\n"));
            }
        }
    }
    if let Some(plan) = &s.replica_plan {
        out.push_str("replica plan (replicas mode):\n");
        for (i, p) in plan.iter().enumerate() {
            out.push_str(&format!("  step {}: {}\n", i + 1, p.describe()));
        }
    }
    out.push_str("weights in force (read from Traefik):\n");
    if let Some(e) = &s.splits_error {
        out.push_str(&format!("  unreadable: {e}\n"));
    }
    let w = s
        .splits
        .iter()
        .map(|a| a.app.as_str().len())
        .max()
        .unwrap_or(0);
    for a in &s.splits {
        out.push_str(&format!(
            "  {:<w$}  stable {:>3}  canary {:>3}  header route {}  {}\n",
            a.app.as_str(),
            a.stable,
            a.canary,
            if a.header_route { "on " } else { "off" },
            if a.healthy { "enabled" } else { "NOT ENABLED" }
        ));
    }
    out.push_str("services:\n");
    let w = s
        .services
        .iter()
        .map(|x| x.name.as_str().len())
        .max()
        .unwrap_or(0);
    for svc in &s.services {
        out.push_str(&format!(
            "  {:<w$}  {}/{} running  {}  {}\n",
            svc.name.as_str(),
            svc.running,
            svc.desired,
            if svc.converged {
                "converged"
            } else {
                "updating "
            },
            svc.image
        ));
    }
    if !s.drift.is_empty() {
        out.push_str("drift (stable does not run what it should):\n");
        for line in human_drift(&s.drift).lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if let Some(a) = s.state.as_ref().and_then(|st| st.last_analysis.as_ref()) {
        out.push_str(&format!("last analysis: {:?}: {}", a.verdict, a.summary));
        out.push_str(&human_report(a, "  "));
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_mode_shows_the_plan() {
        let plan = |off: f64| serde_json::json!({"weight": 10, "stable": 3, "canary": 1, "effective": 25, "off": off});
        let s: Status = serde_json::from_value(serde_json::json!({
            "group": "g", "state": null, "steps": [10], "splits": [], "services": [],
            "driven": false, "replicaPlan": [plan(15.0)]
        }))
        .unwrap();
        let text = human(&s, "");
        assert!(
            text.contains(
                "replica plan (replicas mode):\n  step 1: 1 canary + 3 stable tasks give 25%, 15 points off 10%\n"
            ),
            "{text}"
        );
        let weighted: Status = serde_json::from_value(serde_json::json!({
            "group": "g", "state": null, "steps": [10], "splits": [], "services": [], "driven": false
        }))
        .unwrap();
        assert!(!human(&weighted, "").contains("replica plan"));
    }
}
