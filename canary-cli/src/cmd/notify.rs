//! `canary notify-test`: one test message to each of the spec's notifications, and what each
//! got. Reads the spec only: no Docker, Traefik or Prometheus.

use serde_json::json;

use crate::args::Global;
use crate::error::{CliResult, EXIT_ERROR, EXIT_OK};
use crate::output::{tagged, Printer};
use crate::specfile;

pub(crate) async fn notify_test(g: &Global, p: &Printer) -> CliResult<u8> {
    let file = specfile::load(&g.spec, &g.overrides)?;
    let group = file.spec.group.to_string();
    let results = canary_sdk::test_notifications_of(&file.spec).await?;
    if results.is_empty() {
        p.emit(
            json!({"type": "notificationTest", "group": group, "sent": 0, "failed": 0}),
            || format!("group {group} has no notifications: nothing to test"),
        );
        return Ok(EXIT_OK);
    }
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    for r in &results {
        p.emit(tagged("notification", r), || match (&r.status, &r.error) {
            (_, Some(e)) => format!("{} ({}, {}): NOT SENT: {e}", r.name, r.kind, r.target),
            (Some(s), None) => format!("{} ({}, {}): sent, HTTP {s}", r.name, r.kind, r.target),
            (None, None) => format!("{} ({}, {}): sent", r.name, r.kind, r.target),
        });
    }
    let sent = results.len() - failed;
    p.emit(
        json!({"type": "notificationTest", "group": group, "sent": sent, "failed": failed}),
        || format!("{sent} sent, {failed} failed"),
    );
    Ok(if failed == 0 { EXIT_OK } else { EXIT_ERROR })
}
