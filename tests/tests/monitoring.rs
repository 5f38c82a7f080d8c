//! `monitoring/`: the alert rules pass promtool and its unit tests, load and evaluate in a real
//! Prometheus, and every dashboard query runs on the local stack's Prometheus.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use canary_e2e::load::http_get;
use canary_e2e::stack::stack_or_skip;
use serde_json::Value;

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../monitoring")
}

/// `tool`, or `None` after saying why the test is skipped (a failure with `CI` set).
fn tool_or_skip(tool: &str, test: &str) -> Option<()> {
    if Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(());
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set and {tool} is missing (apt-get install prometheus; scripts/stack/up.sh does)");
    }
    eprintln!("SKIPPED {test}: {tool} is missing (apt-get install prometheus)");
    None
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn get_json(port: u16, path: &str) -> Value {
    let a = http_get(port, "127.0.0.1", path, &[], Duration::from_secs(10))
        .expect("Prometheus answers");
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", a.body))
}

#[test]
fn alert_rules_pass_promtool_and_their_unit_tests() {
    let test = "alert_rules_pass_promtool_and_their_unit_tests";
    if tool_or_skip("promtool", test).is_none() {
        return;
    }
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(monitoring())
            .output()
            .expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every PromQL expression of the dashboard with its variables filled in.
fn dashboard_queries() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(monitoring().join("canary-dashboard.json")).expect("dashboard");
    let dash: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((
                p["title"].as_str().unwrap_or("").to_string(),
                t["expr"].as_str().expect("expr").to_string(),
            ));
        }
    }
    for a in dash["annotations"]["list"].as_array().into_iter().flatten() {
        if let Some(e) = a["expr"].as_str() {
            out.push(("annotation".into(), e.to_string()));
        }
    }
    for v in dash["templating"]["list"].as_array().into_iter().flatten() {
        if let Some(q) = v["definition"]
            .as_str()
            .and_then(|d| d.strip_prefix("label_values("))
        {
            // label_values(selector, label): the selector must be valid PromQL.
            let selector = q.rsplit_once(',').map(|(s, _)| s).unwrap_or(q);
            out.push((format!("variable {}", v["name"]), selector.to_string()));
        }
    }
    out.into_iter()
        .map(|(what, e)| {
            let filled = e
                .replace("${app:regex}", ".+")
                .replace("$group", ".*")
                .replace("$__rate_interval", "1m");
            (what, filled)
        })
        .collect()
}

#[test]
fn every_dashboard_query_runs_on_the_local_prometheus() {
    let Some(stack) = stack_or_skip("every_dashboard_query_runs_on_the_local_prometheus") else {
        return;
    };
    let queries = dashboard_queries();
    assert!(queries.len() >= 12, "{queries:?}");
    for (what, q) in &queries {
        // `$1` is label_replace's, not a dashboard variable.
        let unfilled = q
            .match_indices('$')
            .any(|(i, _)| !q[i + 1..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!unfilled, "{what}: an unfilled variable in {q}");
        let v = get_json(
            stack.prometheus_port,
            &format!("/api/v1/query?query={}", encode(q)),
        );
        assert_eq!(v["status"], "success", "{what}: {q}\n{v}");
    }
}

/// The throwaway Prometheus: killed, and its directory removed, when dropped.
struct Throwaway(Child, PathBuf);
impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

#[test]
fn the_rules_load_and_evaluate_in_a_prometheus() {
    let test = "the_rules_load_and_evaluate_in_a_prometheus";
    let Some(stack) = stack_or_skip(test) else {
        return;
    };
    if tool_or_skip("prometheus", test).is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("canary-e2e-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [{}]\n\
             scrape_configs:\n  - job_name: traefik\n    static_configs: [{{targets: ['127.0.0.1:{}']}}]\n",
            monitoring().join("alerts.yml").display(),
            stack.api_port
        ),
    )
    .unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let _guard = Throwaway(child, dir.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let groups = loop {
        assert!(
            Instant::now() < deadline,
            "the rules did not all evaluate within 30s"
        );
        std::thread::sleep(Duration::from_millis(500));
        let Ok(a) = http_get(
            port,
            "127.0.0.1",
            "/api/v1/rules",
            &[],
            Duration::from_secs(3),
        ) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&a.body) else {
            continue;
        };
        let groups = v["data"]["groups"].as_array().cloned().unwrap_or_default();
        let rules: Vec<&Value> = groups
            .iter()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        if rules.len() == 8 && rules.iter().all(|r| r["health"] == "ok") {
            break groups;
        }
        if let Some(bad) = rules.iter().find(|r| r["health"] == "err") {
            panic!("a rule fails to evaluate: {bad}");
        }
    };
    let mut names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["canary-rollout", "canary-traefik"]);
}
