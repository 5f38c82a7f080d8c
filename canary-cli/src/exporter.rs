//! `canary run --metrics-addr`: the engine's own decisions as Prometheus metrics, so a dashboard
//! can show them beside Traefik's.
//!
//! | metric | labels | value |
//! |---|---|---|
//! | `canary_weight` | `group`, `app` | the canary weight in force, percent |
//! | `canary_step` | `group` | the current step, 1-based (0 before the first) |
//! | `canary_steps` | `group` | the number of steps |
//! | `canary_phase` | `group`, `phase` | 1 for the current phase, 0 for the others |
//! | `canary_analysis_verdict` | `group` | last analysis: 1 pass, 0 inconclusive, -1 fail |
//! | `canary_check_value` | `group`, `app`, `check`, `track` (and `dry_run="true"`) | the value each check measured |
//! | `canary_check_verdict` | `group`, `app`, `check` (and `dry_run="true"`) | 1 pass, 0 inconclusive, -1 fail |
//! | `canary_backend_info` | `group`, `app`, `track`, `service` | 1: the Traefik service (`service` label of `traefik_service_*`) of each app's track |
//! | `canary_drift` | `group`, `app`, `against` | 1 when stable does not run the last promoted image (`against="promotion"`) or the image the compose file names (`against="file"`), else 0; from the check before the rollout (and after a promotion) |
//! | `canary_events_total` | `group`, `kind` | events so far (counter) |
//! | `canary_last_event_timestamp_seconds` | `group` | Unix time of the last event |
//!
//! A dry-run check (`dryRun: true`) carries the label `dry_run="true"`: its figures are there to
//! be watched, and `canary_analysis_verdict` never counted them.
//!
//! The server is a plain Tokio listener answering `GET /metrics` (anything else is a 404), one
//! request per connection.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use canary_core::analysis::Verdict;
use canary_core::ops::{Drift, DriftAgainst};
use canary_core::{Event, Phase};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::error::{CliError, CliResult};

const PHASES: [Phase; 8] = [
    Phase::Pending,
    Phase::Progressing,
    Phase::Paused,
    Phase::Promoting,
    Phase::Promoted,
    Phase::RollingBack,
    Phase::RolledBack,
    Phase::Failed,
];

fn phase_label(p: Phase) -> String {
    // The serde name (camelCase), stable for queries: rollingBack, rolledBack.
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn verdict_value(v: Verdict) -> i8 {
    match v {
        Verdict::Pass => 1,
        Verdict::Inconclusive => 0,
        Verdict::Fail => -1,
        // A verdict newer than this exporter: neither a pass nor a fail.
        _ => 0,
    }
}

#[derive(Debug, Default)]
struct Gauges {
    group: String,
    apps: Vec<String>,
    weight: u8,
    step: Option<usize>,
    steps: usize,
    phase: Option<Phase>,
    verdict: Option<Verdict>,
    /// (app, check, track) → value.
    values: BTreeMap<(String, String, String), f64>,
    /// (app, check) → verdict.
    checks: BTreeMap<(String, String), Verdict>,
    /// (app, check) of the dry runs.
    dry: BTreeSet<(String, String)>,
    events: BTreeMap<String, u64>,
    last_ms: u64,
    /// (app, track, Traefik service).
    backends: Vec<(String, &'static str, String)>,
    /// (app, against) → drifting; empty until checked.
    drift: BTreeMap<(String, &'static str), bool>,
}

/// The engine's decisions, as gauges.
#[derive(Debug, Clone, Default)]
pub(crate) struct Exporter {
    g: Arc<Mutex<Gauges>>,
}

impl Exporter {
    /// Gauges for `group` and its `apps`.
    pub(crate) fn new(group: &str, apps: Vec<String>, steps: usize) -> Self {
        let g = Gauges {
            group: group.to_string(),
            apps,
            steps,
            ..Gauges::default()
        };
        Exporter {
            g: Arc::new(Mutex::new(g)),
        }
    }

    /// Sets the Traefik services of each app's tracks.
    pub(crate) fn set_backends(&self, backends: Vec<(String, &'static str, String)>) {
        self.g.lock().expect("gauges lock").backends = backends;
    }

    /// Takes in the drift of stable (every app not in `drift` does not drift).
    pub(crate) fn set_drift(&self, drift: &[Drift]) {
        let mut g = self.g.lock().expect("gauges lock");
        let apps = g.apps.clone();
        g.drift.clear();
        for app in apps {
            let d = drift.iter().find(|d| d.app == app);
            for (word, against) in [
                ("promotion", DriftAgainst::Promotion),
                ("file", DriftAgainst::File),
            ] {
                let on = d.is_some_and(|d| d.against.contains(&against));
                g.drift.insert((app.clone(), word), on);
            }
        }
    }

    /// Takes in an event.
    pub(crate) fn update(&self, ev: &Event) {
        let mut g = self.g.lock().expect("gauges lock");
        g.weight = ev.weight;
        g.steps = ev.steps;
        g.phase = Some(ev.phase);
        if matches!(ev.phase, Phase::Progressing | Phase::Paused) {
            g.step = Some(ev.step);
        }
        g.last_ms = ev.at_ms;
        let kind = serde_json::to_value(ev.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        *g.events.entry(kind).or_default() += 1;
        if let Some(r) = &ev.analysis {
            g.verdict = Some(r.verdict);
            g.values.clear();
            g.checks.clear();
            g.dry.clear();
            for c in &r.checks {
                for (track, v) in [("canary", c.canary), ("stable", c.stable)] {
                    if let Some(v) = v {
                        g.values
                            .insert((c.app.clone(), c.name.clone(), track.to_string()), v);
                    }
                }
                g.checks.insert((c.app.clone(), c.name.clone()), c.verdict);
                if c.dry_run {
                    g.dry.insert((c.app.clone(), c.name.clone()));
                }
            }
        }
    }

    /// The Prometheus text format.
    pub(crate) fn render(&self) -> String {
        let g = self.g.lock().expect("gauges lock");
        let grp = escape(&g.group);
        let mut s = String::new();
        let head = |s: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut s,
            "canary_weight",
            "gauge",
            "Canary weight in force, percent.",
        );
        for app in &g.apps {
            let _ = writeln!(
                s,
                "canary_weight{{group=\"{grp}\",app=\"{}\"}} {}",
                escape(app),
                g.weight
            );
        }
        head(
            &mut s,
            "canary_step",
            "gauge",
            "Current step, 1-based (0 before the first step).",
        );
        let _ = writeln!(
            s,
            "canary_step{{group=\"{grp}\"}} {}",
            g.step.map(|i| i + 1).unwrap_or(0)
        );
        head(&mut s, "canary_steps", "gauge", "Number of steps.");
        let _ = writeln!(s, "canary_steps{{group=\"{grp}\"}} {}", g.steps);
        head(
            &mut s,
            "canary_phase",
            "gauge",
            "1 for the rollout's current phase, 0 for the others.",
        );
        for p in PHASES {
            let on = u8::from(g.phase == Some(p));
            let _ = writeln!(
                s,
                "canary_phase{{group=\"{grp}\",phase=\"{}\"}} {on}",
                phase_label(p)
            );
        }
        if let Some(v) = g.verdict {
            head(
                &mut s,
                "canary_analysis_verdict",
                "gauge",
                "Last analysis: 1 pass, 0 inconclusive, -1 fail.",
            );
            let _ = writeln!(
                s,
                "canary_analysis_verdict{{group=\"{grp}\"}} {}",
                verdict_value(v)
            );
        }
        if !g.values.is_empty() {
            head(
                &mut s,
                "canary_check_value",
                "gauge",
                "The value each check of the last analysis measured.",
            );
            for ((app, check, track), v) in &g.values {
                let _ = writeln!(
                    s,
                    "canary_check_value{{group=\"{grp}\",app=\"{}\",check=\"{}\",track=\"{track}\"{}}} {v}",
                    escape(app),
                    escape(check),
                    dry_label(&g.dry, app, check)
                );
            }
        }
        if !g.checks.is_empty() {
            head(
                &mut s,
                "canary_check_verdict",
                "gauge",
                "Each check of the last analysis: 1 pass, 0 inconclusive, -1 fail.",
            );
            for ((app, check), v) in &g.checks {
                let _ = writeln!(
                    s,
                    "canary_check_verdict{{group=\"{grp}\",app=\"{}\",check=\"{}\"{}}} {}",
                    escape(app),
                    escape(check),
                    dry_label(&g.dry, app, check),
                    verdict_value(*v)
                );
            }
        }
        if !g.backends.is_empty() {
            head(
                &mut s,
                "canary_backend_info",
                "gauge",
                "The Traefik service of each app's track.",
            );
            for (app, track, service) in &g.backends {
                let _ = writeln!(
                    s,
                    "canary_backend_info{{group=\"{grp}\",app=\"{}\",track=\"{track}\",service=\"{}\"}} 1",
                    escape(app),
                    escape(service)
                );
            }
        }
        if !g.drift.is_empty() {
            head(
                &mut s,
                "canary_drift",
                "gauge",
                "1 when stable does not run the last promoted image (against=promotion) or the compose file's (against=file).",
            );
            for ((app, against), on) in &g.drift {
                let _ = writeln!(
                    s,
                    "canary_drift{{group=\"{grp}\",app=\"{}\",against=\"{against}\"}} {}",
                    escape(app),
                    u8::from(*on)
                );
            }
        }
        head(
            &mut s,
            "canary_events_total",
            "counter",
            "Rollout events by kind.",
        );
        for (kind, n) in &g.events {
            let _ = writeln!(
                s,
                "canary_events_total{{group=\"{grp}\",kind=\"{}\"}} {n}",
                escape(kind)
            );
        }
        if g.last_ms > 0 {
            head(
                &mut s,
                "canary_last_event_timestamp_seconds",
                "gauge",
                "Unix time of the last event.",
            );
            let _ = writeln!(
                s,
                "canary_last_event_timestamp_seconds{{group=\"{grp}\"}} {:.3}",
                g.last_ms as f64 / 1000.0
            );
        }
        s
    }

    /// Serves `GET /metrics` on `addr` until the returned task is aborted.
    pub(crate) async fn serve(&self, addr: SocketAddr) -> CliResult<tokio::task::JoinHandle<()>> {
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            CliError::new(
                "CANARY_UNAVAILABLE",
                format!("cannot listen on {addr} for --metrics-addr: {e}"),
            )
        })?;
        let me = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    continue;
                };
                let me = me.clone();
                tokio::spawn(async move {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), me.answer(&mut conn)).await;
                });
            }
        }))
    }

    async fn answer(&self, conn: &mut tokio::net::TcpStream) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let head = String::from_utf8_lossy(&buf);
        let mut parts = head.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (status, ctype, body) = if (method == "GET" || method == "HEAD")
            && path.split('?').next() == Some("/metrics")
        {
            (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                self.render(),
            )
        } else {
            (
                "404 Not Found",
                "text/plain; charset=utf-8",
                "not found: try /metrics\n".to_string(),
            )
        };
        let mut resp = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        if method != "HEAD" {
            resp.push_str(&body);
        }
        conn.write_all(resp.as_bytes()).await?;
        conn.shutdown().await
    }
}

/// `,dry_run="true"` for a dry-run check, nothing for the others.
fn dry_label(dry: &BTreeSet<(String, String)>, app: &str, check: &str) -> &'static str {
    if dry.contains(&(app.to_string(), check.to_string())) {
        ",dry_run=\"true\""
    } else {
        ""
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use canary_core::analysis::{AnalysisReport, CheckResult};
    use canary_core::EventKind;

    fn event(kind: EventKind, phase: Phase, step: usize, weight: u8) -> Event {
        Event {
            at_ms: 1_700_000_000_000,
            group: "neotix".into(),
            kind,
            phase,
            step,
            steps: 3,
            weight,
            message: String::new(),
            analysis: None,
        }
    }

    #[test]
    fn drift_is_a_gauge_per_app_and_source() {
        use canary_core::ops::DriftWinner;
        let x = Exporter::new("shop", vec!["api".into(), "web".into()], 1);
        assert!(!x.render().contains("canary_drift"));
        x.set_drift(&[Drift {
            app: "api".into(),
            service: "shop_api".into(),
            running: "sha256:aa".into(),
            promoted: Some("sha256:aa".into()),
            declared: Some("api:v1".into()),
            declared_line: Some(3),
            deployed: None,
            against: vec![DriftAgainst::File],
            won: DriftWinner::Promotion,
            message: String::new(),
        }]);
        let text = x.render();
        for (line, want) in [
            (
                "canary_drift{group=\"shop\",app=\"api\",against=\"file\"}",
                "1",
            ),
            (
                "canary_drift{group=\"shop\",app=\"api\",against=\"promotion\"}",
                "0",
            ),
            (
                "canary_drift{group=\"shop\",app=\"web\",against=\"file\"}",
                "0",
            ),
        ] {
            assert!(
                text.contains(&format!("{line} {want}\n")),
                "{line} in\n{text}"
            );
        }
        x.set_drift(&[]);
        assert!(x
            .render()
            .contains("canary_drift{group=\"shop\",app=\"api\",against=\"file\"} 0\n"));
    }

    #[tokio::test]
    async fn decisions_become_metrics_served_over_http() {
        let x = Exporter::new("neotix", vec!["neotix-api".into(), "gcp".into()], 3);
        x.set_backends(vec![(
            "gcp".into(),
            "canary",
            "canary-neotix--gcp--tasks@file".into(),
        )]);
        x.update(&event(EventKind::WeightSet, Phase::Progressing, 1, 50));
        let mut a = event(EventKind::Analysis, Phase::Progressing, 1, 50);
        a.analysis = Some(AnalysisReport {
            verdict: Verdict::Fail,
            critical_failure: true,
            checks: vec![
                CheckResult {
                    name: "errors".into(),
                    app: "gcp".into(),
                    metric: "errorRate".into(),
                    canary: Some(0.3),
                    stable: Some(0.0),
                    verdict: Verdict::Fail,
                    critical: true,
                    dry_run: false,
                    reason: "x".into(),
                },
                CheckResult {
                    name: "p99-budget".into(),
                    app: "gcp".into(),
                    metric: "web".into(),
                    canary: Some(2.5),
                    stable: None,
                    verdict: Verdict::Fail,
                    critical: false,
                    dry_run: true,
                    reason: "web 2.500 > max 0.5".into(),
                },
            ],
            judges: Vec::new(),
            summary: "bad".into(),
        });
        x.update(&a);
        let text = x.render();
        for want in [
            "canary_weight{group=\"neotix\",app=\"neotix-api\"} 50",
            "canary_weight{group=\"neotix\",app=\"gcp\"} 50",
            "canary_step{group=\"neotix\"} 2",
            "canary_phase{group=\"neotix\",phase=\"progressing\"} 1",
            "canary_phase{group=\"neotix\",phase=\"rolledBack\"} 0",
            "canary_analysis_verdict{group=\"neotix\"} -1",
            "canary_check_value{group=\"neotix\",app=\"gcp\",check=\"errors\",track=\"canary\"} 0.3",
            "canary_check_value{group=\"neotix\",app=\"gcp\",check=\"errors\",track=\"stable\"} 0",
            "canary_check_verdict{group=\"neotix\",app=\"gcp\",check=\"errors\"} -1",
            "canary_check_value{group=\"neotix\",app=\"gcp\",check=\"p99-budget\",track=\"canary\",dry_run=\"true\"} 2.5",
            "canary_check_verdict{group=\"neotix\",app=\"gcp\",check=\"p99-budget\",dry_run=\"true\"} -1",
            "canary_events_total{group=\"neotix\",kind=\"analysis\"} 1",
            "canary_backend_info{group=\"neotix\",app=\"gcp\",track=\"canary\",service=\"canary-neotix--gcp--tasks@file\"} 1",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let task = x.serve(addr).await.unwrap();
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut body = String::new();
        c.read_to_string(&mut body).await.unwrap();
        assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
        assert!(body.contains("canary_weight{group=\"neotix\",app=\"gcp\"} 50"));
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let mut body = String::new();
        c.read_to_string(&mut body).await.unwrap();
        assert!(body.starts_with("HTTP/1.1 404"), "{body}");
        task.abort();
    }
}
