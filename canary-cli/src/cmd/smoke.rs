//! `canary test`: a smoke test like the seed's `test-canary.sh`
//! ([`canary_sdk::Canary::smoke_test`]), printed: each app with and without the header route,
//! answers counted by status and by the version that answered.

use std::collections::BTreeMap;
use std::time::Duration;

use canary_core::ops::SmokeOptions;
use serde_json::json;

use crate::args::{Global, TestArgs};
use crate::error::{CliError, CliResult};
use crate::output::{tagged, Printer};
use crate::session;

fn counts(m: &BTreeMap<String, u32>) -> String {
    m.iter()
        .map(|(k, n)| format!("{n}x {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn test(g: &Global, a: &TestArgs, p: &Printer) -> CliResult<u8> {
    let (_, canary) = session::connect(g).await?;
    let mut options = SmokeOptions::default().requests(a.requests);
    if let Some(app) = &a.app {
        options = options.app(app);
    }
    // Whether the header route is in force (best effort: only for the note).
    let in_force: BTreeMap<String, bool> =
        match tokio::time::timeout(Duration::from_secs(10), canary.status()).await {
            Ok(Ok(s)) if s.splits_error.is_none() => s
                .splits
                .iter()
                .map(|x| (x.app.to_string(), x.header_route))
                .collect(),
            _ => BTreeMap::new(),
        };
    let report = canary.smoke_test(&options).await.map_err(CliError::from)?;
    let width = report
        .tallies
        .iter()
        .map(|t| t.app.len() + 1 + t.header.as_deref().map_or(14, |h| h.len() + 5))
        .max()
        .unwrap_or(0);
    for t in &report.tallies {
        let variant = match &t.header {
            Some(h) => format!("with {h}"),
            None => "without header".into(),
        };
        let note = match (t.header.is_some(), in_force.get(&t.app)) {
            (true, Some(true)) => "  (header route in force: these went to the canary)",
            (true, Some(false)) => {
                "  (header route not in force, no rollout running: these went to stable)"
            }
            _ => "",
        };
        p.emit(tagged("test", t), || {
            let mut s = format!(
                "{} {:<width$} GET {} Host: {}  -> {}  versions: {}{note}",
                if t.ok { "ok  " } else { "FAIL" },
                format!("{} {variant}", t.app),
                t.url,
                t.host.as_deref().unwrap_or("-"),
                counts(&t.statuses),
                counts(&t.versions),
            );
            if !t.errors.is_empty() {
                s.push_str(&format!("  errors: {}", counts(&t.errors)));
            }
            s
        });
    }
    p.emit(
        json!({"type": "result", "result": if report.ok { "passed" } else { "failed" }}),
        || {
            if report.ok {
                "smoke test passed".into()
            } else {
                "smoke test FAILED".into()
            }
        },
    );
    Ok(if report.ok { 0 } else { 1 })
}
