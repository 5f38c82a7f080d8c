//! `canary dashboard` in a real browser (headless Chromium through chromedriver) during a real
//! rollout on the local stack, and the HTML report of a bad canary.

use std::time::{Duration, Instant};

use canary_e2e::browser::{self, Browser};
use canary_e2e::group::{Group, Run};
use canary_e2e::load::Load;
use canary_e2e::stack::stack_or_skip;
use serde_json::Value;

/// Starts `canary dashboard ARGS -f SPEC -o json` and returns it with its URL.
fn dashboard(g: &Group, spec: &std::path::Path, args: &[&str]) -> (Run, String) {
    let mut all = vec!["dashboard"];
    all.extend_from_slice(args);
    let mut d = g.spawn(spec, &all);
    let line = d.wait_for("the dashboard's address", Duration::from_secs(60), |l| {
        l["type"] == "dashboard"
    });
    let url = line["url"].as_str().expect("a url").to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (d, url)
}

fn events_of(status: &Value) -> Vec<Value> {
    status["state"]["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until `canary status` satisfies `pred`; returns that status.
fn wait_status(
    g: &Group,
    spec: &std::path::Path,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = g.status(spec);
        if pred(&st) {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "canary status never showed {what}: {st}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn weight_on_page(b: &Browser) -> Option<u64> {
    b.text("#weight")?.trim_end_matches('%').parse().ok()
}

#[test]
fn the_dashboard_follows_a_live_rollout_and_pauses_and_resumes_it() {
    let test = "the_dashboard_follows_a_live_rollout_and_pauses_and_resumes_it";
    let Some(stack) = stack_or_skip(test) else {
        return;
    };
    if !browser::available_or_skip(test) {
        return;
    }
    let t0 = Instant::now();
    let g = Group::with_prefix(&stack, "db");
    // Many short steps: long enough to see the weight move and to pause, short enough to finish.
    let steps = "20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90";
    let analysis = "  window: 3s\n  minRequests: 5\n  inconclusiveLimit: 3\n  checks:\n\
                    \x20   - {name: success-rate, metric: successRate, min: 0.99, critical: true}\n\
                    \x20   - {name: errors-vs-stable, metric: errorRate, relative: {tolerance: 0.01}}\n";
    let spec = g.write(
        "canary.yaml",
        &g.spec(&["api"], steps, "4s", Some(analysis), ""),
    );
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let mut run = g.spawn(&spec, &["run", "--restart"]);
    run.wait_event("weightSet", 1, Duration::from_secs(90));
    let (mut dash, url) = dashboard(&g, &spec, &["--allow-actions"]);

    let b = Browser::start();
    b.goto(&format!("{url}#/g/{}", g.name));
    let first = b.wait(
        "the weight on the page",
        Duration::from_secs(20),
        weight_on_page,
    );
    assert_eq!(b.text("#phase").as_deref(), Some("progressing"));
    assert!(b.text("#conn").unwrap_or_default().contains("live"));
    // A mark the page keeps only as long as it is not reloaded.
    b.eval("window.__canaryNoReload = 42; return null;");

    // The weight moves on the page by itself: the stream, not a reload.
    let moved = b.wait("a new weight on the page", Duration::from_secs(30), |b| {
        weight_on_page(b).filter(|w| *w > first)
    });
    assert_eq!(
        b.eval("return window.__canaryNoReload;"),
        42,
        "the page was reloaded"
    );
    // Two analyses on the weight chart before pausing (and a fuller screenshot).
    b.wait(
        "two analyses on the weight chart",
        Duration::from_secs(30),
        |b| {
            b.eval("return document.querySelectorAll('#weight-chart svg circle.analysis').length;")
                .as_u64()
                .filter(|n| *n >= 2)
        },
    );
    eprintln!(
        "page: weight {first}% then {moved}% live ({:.1}s into the test)",
        t0.elapsed().as_secs_f64()
    );

    // Pause, confirmed in the dialog.
    b.click("button[data-action=pause]");
    b.wait("the confirmation", Duration::from_secs(5), |b| {
        b.eval("return document.getElementById('confirm').open;")
            .as_bool()
            .filter(|o| *o)
    });
    assert!(b
        .text("#confirm-title")
        .unwrap_or_default()
        .contains(&g.name));
    b.click("#confirm-ok");
    let toast = b.wait("the action's answer", Duration::from_secs(15), |b| {
        b.text("#toast").filter(|t| !t.is_empty())
    });
    assert!(toast.contains("delivered"), "{toast}");
    b.wait("paused on the page", Duration::from_secs(20), |b| {
        b.text("#phase").filter(|p| p == "paused")
    });
    let paused = wait_status(&g, &spec, "paused with the dashboard's command", |st| {
        st["state"]["phase"] == "paused"
            && events_of(st).iter().any(|e| {
                e["kind"] == "command"
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("pause from dashboard:127.0.0.1:"))
            })
    });
    let held = paused["state"]["weight"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(6)); // longer than a step
    let still = g.status(&spec);
    assert_eq!(still["state"]["phase"], "paused", "{still}");
    assert_eq!(
        still["state"]["weight"].as_u64(),
        Some(held),
        "the weight moved while paused"
    );
    assert_eq!(
        weight_on_page(&b),
        Some(held),
        "the page shows another weight than the state"
    );
    let shot = browser::artifacts_dir().join("dashboard.png");
    b.screenshot(&shot);
    eprintln!("screenshot of the paused rollout: {}", shot.display());

    // Resume, confirmed.
    b.click("button[data-action=resume]");
    b.wait("the confirmation", Duration::from_secs(5), |b| {
        b.eval("return document.getElementById('confirm').open;")
            .as_bool()
            .filter(|o| *o)
    });
    b.click("#confirm-ok");
    b.wait("progressing on the page", Duration::from_secs(20), |b| {
        b.text("#phase").filter(|p| p == "progressing")
    });
    wait_status(&g, &spec, "progressing with the dashboard's resume", |st| {
        st["state"]["phase"] == "progressing"
            && events_of(st).iter().any(|e| {
                e["kind"] == "command"
                    && e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("resume from dashboard:127.0.0.1:"))
            })
    });
    b.wait("the weight moving again", Duration::from_secs(30), |b| {
        weight_on_page(b).filter(|w| *w > held)
    });
    assert_eq!(
        b.eval("return window.__canaryNoReload;"),
        42,
        "the page was reloaded"
    );

    // End it quickly: roll back from the CLI; the page follows.
    g.canary(&spec, &["rollback"])
        .expect_code(0, "canary rollback");
    let (code, lines, stderr) = run.finish(Duration::from_secs(90));
    assert_eq!(code, Some(2), "{stderr}\n{lines:#?}");
    b.wait("rolled back on the page", Duration::from_secs(20), |b| {
        b.text("#phase").filter(|p| p == "rolled back")
    });
    drop(b);
    dash.kill();
    let _ = load.stop();
    eprintln!("dashboard browser test: {:.1}s", t0.elapsed().as_secs_f64());
}

#[test]
fn the_report_of_a_bad_canary_shows_the_failing_check_against_its_limit() {
    let test = "the_report_of_a_bad_canary_shows_the_failing_check_against_its_limit";
    let Some(stack) = stack_or_skip(test) else {
        return;
    };
    let g = Group::with_prefix(&stack, "db");
    // The demo's bad canary's checks (examples/neotix/canary-bad.yaml), shorter windows.
    let analysis = "  window: 3s\n  minRequests: 5\n  checks:\n\
                    \x20   - {name: success-rate, metric: successRate, min: 0.99, critical: true}\n\
                    \x20   - {name: errors-vs-stable, metric: errorRate, relative: {tolerance: 0.01}}\n";
    let spec = g.write(
        "canary.yaml",
        &g.spec(&["api"], "20, 50, 80", "3s", Some(analysis), ""),
    );
    g.deploy(&spec);
    let load = Load::start(stack.web_port, &g.host, &["/api/x"], 30);
    let run = g.spawn(
        &spec,
        &["run", "--restart", "--canary-env", "ERROR_RATE=0.3"],
    );
    let (code, lines, stderr) = run.finish(Duration::from_secs(120));
    let _ = load.stop();
    assert_eq!(code, Some(2), "{stderr}\n{lines:#?}");
    let st = g.status(&spec);
    let failed = st["state"]["lastAnalysis"]["checks"]
        .as_array()
        .expect("the last analysis")
        .iter()
        .find(|c| c["name"] == "success-rate" && c["verdict"] == "fail")
        .cloned()
        .unwrap_or_else(|| panic!("no failed success-rate: {st}"));
    let value = failed["canary"].as_f64().expect("a value");
    assert!(value < 0.99, "{failed}");

    let file = g.dir.join("report.html");
    let file_arg = file.display().to_string();
    g.canary(&spec, &["dashboard", "--report", &file_arg])
        .expect_code(0, "canary dashboard --report");
    let html = std::fs::read_to_string(&file).expect("the report");
    let start = html
        .find("<tr data-check=\"success-rate\" data-app=\"api\" data-verdict=\"fail\">")
        .unwrap_or_else(|| panic!("no failed success-rate row in the report"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    let cell = |class: &str| -> String {
        let open = format!("<td class=\"{class}\">");
        let at = row
            .find(&open)
            .unwrap_or_else(|| panic!("no {class} cell: {row}"))
            + open.len();
        row[at..at + row[at..].find("</td>").unwrap()].to_string()
    };
    let shown: f64 = cell("value")
        .parse()
        .unwrap_or_else(|e| panic!("{e}: {row}"));
    assert!(
        (shown - value).abs() < 1e-4,
        "report shows {shown}, the state says {value}"
    );
    assert_eq!(cell("limit"), "≥ 0.99", "{row}");
    assert!(
        html.contains("id=\"report-phase\">rolledBack<"),
        "the report names the outcome"
    );
    assert!(
        !html.contains("ERROR_RATE=0.3"),
        "the canary's env value is in the report"
    );
    eprintln!(
        "report: success-rate {shown} against ≥ 0.99, {} bytes, {}",
        html.len(),
        file.display()
    );

    // The same charts, drawn offline from the file.
    if browser::available_or_skip(test) {
        let b = Browser::start();
        b.goto(&format!("file://{}", file.display()));
        let drawn = b.wait("the report's charts", Duration::from_secs(10), |b| {
            let v = b.eval(
                "const f = document.querySelector('figure.check[data-check=\"success-rate\"]');\
                 if (!f) return null;\
                 return {limit: f.querySelectorAll('.limit').length, canary: f.querySelectorAll('circle.canary').length,\
                         fail: f.classList.contains('v-fail'), staticHidden: document.getElementById('static').hidden,\
                         weight: document.querySelectorAll('#weight-chart path.series.weight').length};",
            );
            v.is_object().then_some(v)
        });
        assert!(
            drawn["limit"].as_u64().unwrap_or(0) >= 1,
            "no limit line: {drawn}"
        );
        assert!(
            drawn["canary"].as_u64().unwrap_or(0) >= 1,
            "no canary point: {drawn}"
        );
        assert_eq!(drawn["fail"], true, "{drawn}");
        assert_eq!(drawn["staticHidden"], true, "{drawn}");
        assert_eq!(drawn["weight"], 1, "{drawn}");
        b.screenshot(&browser::artifacts_dir().join("report.png"));
    }
}
