//! The dashboard's server over real sockets on 127.0.0.1, with an in-memory engine: routing, the
//! access rules, the event stream and the report.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use canary_core::memory::{MemoryOrchestrator, MemoryRouter};
use canary_core::model::{AnalysisReport, CheckResult, Verdict};
use canary_core::{
    Deps, Event, EventKind, MemoryStateStore, MockHookRunner, MockMetricsSource, Phase, Rollout,
    RolloutOptions, RolloutState, ServiceName, Spec, StateStore,
};
use canary_dashboard::{Dashboard, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "test-token-0123456789";

fn spec(group: &str) -> Spec {
    Spec::from_yaml(&format!(
        "group: {group}\napps:\n  - name: api\n    image: app:v2\n    port: 8080\n    rule: \"Host(`x`)\"\n\
         traffic:\n  steps: [20, 50]\n  interval: 5s\nanalysis:\n  minRequests: 20\n  checks:\n\
         \x20   - {{name: success-rate, metric: successRate, min: 0.99, critical: true}}\n\
         \x20   - {{name: errors-vs-stable, metric: errorRate, relative: {{tolerance: 0.01}}}}\n"
    ))
    .unwrap()
}

struct World {
    store: Arc<MemoryStateStore>,
    rollout: Arc<Rollout>,
}

fn world(group: &str) -> World {
    let store = Arc::new(MemoryStateStore::new());
    let deps = Deps::new(
        Arc::new(MemoryOrchestrator::new()),
        Arc::new(MemoryRouter::new()),
        Arc::new(MockMetricsSource::new()),
        store.clone(),
        Arc::new(MockHookRunner::new()),
    );
    let rollout = Arc::new(
        Rollout::new(spec(group), deps, RolloutOptions::default().owner("test/1")).unwrap(),
    );
    World { store, rollout }
}

fn check(name: &str, canary: f64, stable: Option<f64>, verdict: Verdict) -> CheckResult {
    CheckResult {
        name: name.into(),
        app: "api".into(),
        metric: "m".into(),
        canary: Some(canary),
        stable,
        verdict,
        critical: name == "success-rate",
        dry_run: false,
        reason: format!("{name} was {canary}"),
    }
}

fn event(group: &str, at: u64, kind: EventKind, phase: Phase, weight: u8, msg: &str) -> Event {
    Event {
        at_ms: at,
        group: group.into(),
        kind,
        phase,
        step: 0,
        steps: 2,
        weight,
        message: msg.into(),
        analysis: None,
    }
}

/// A rollout of `group` saved at step 1 (20 %), its first analysis failed.
async fn save_progressing(store: &MemoryStateStore, group: &str, phase: Phase) -> u64 {
    let mut st = RolloutState::new(
        BTreeMap::from([("api".to_string(), "app:v2 SECRET_KEY=hunter22".to_string())]),
        1_000,
    );
    st.phase = phase;
    st.weight = 20;
    let mut analysis = event(group, 3_000, EventKind::Analysis, phase, 20, "analysis");
    analysis.analysis = Some(AnalysisReport {
        verdict: Verdict::Fail,
        critical_failure: true,
        checks: vec![
            check("minRequests", 57.0, None, Verdict::Pass),
            check("success-rate", 0.7123, None, Verdict::Fail),
            check("errors-vs-stable", 0.2877, Some(0.0), Verdict::Fail),
        ],
        judges: vec![],
        summary: "api: success-rate 0.712 < min 0.99".into(),
    });
    st.history = vec![
        event(
            group,
            1_000,
            EventKind::Started,
            Phase::Progressing,
            0,
            "rollout of x to app:v2 SECRET_KEY=hunter22",
        ),
        event(group, 2_000, EventKind::WeightSet, phase, 20, "weight 20"),
        analysis,
    ];
    let apps = spec(group).app_refs();
    let group = ServiceName::parse(group).unwrap();
    store.save(&group, &apps, &st, None).await.unwrap()
}

async fn serve(
    w: &World,
    f: impl FnOnce(canary_dashboard::DashboardBuilder) -> canary_dashboard::DashboardBuilder,
) -> Running {
    let b = Dashboard::builder()
        .rollout(w.rollout.clone())
        .store(w.store.clone())
        .poll_interval(Duration::from_millis(200));
    f(b).build().unwrap().serve().await.unwrap()
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

fn port_of(r: &Running) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], r.addr().port()))
}

async fn raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf))
        .await
        .expect("an answer in time")
        .ok();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

async fn call(r: &Running, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let addr = port_of(r);
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
        addr.port()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    raw(addr, req.as_bytes()).await
}

const ACT: (&str, &str) = ("X-Canary-Dashboard", "1");

#[tokio::test]
async fn routes_answer_the_page_its_assets_and_the_groups() {
    let w = world("shop");
    save_progressing(&w.store, "shop", Phase::Progressing).await;
    // Another group the store holds, without a rollout given: listed read-only.
    save_progressing(&w.store, "blog", Phase::Paused).await;
    let d = serve(&w, |b| b).await;

    let page = call(&d, "GET", "/", &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/assets/app.js"), "{}", page.body);
    assert!(page
        .head
        .to_lowercase()
        .contains("content-security-policy: default-src 'none'"));
    assert!(page.head.to_lowercase().contains("x-frame-options: deny"));
    for (asset, kind) in [
        ("app.js", "javascript"),
        ("charts.js", "javascript"),
        ("app.css", "css"),
    ] {
        let a = call(&d, "GET", &format!("/assets/{asset}"), &[]).await;
        assert_eq!(a.status, 200, "{asset}");
        assert!(a.head.contains(kind), "{asset}: {}", a.head);
        assert!(a.body.len() > 1000, "{asset}");
    }
    let config = call(&d, "GET", "/api/config", &[]).await;
    let config: serde_json::Value = serde_json::from_str(&config.body).unwrap();
    assert_eq!(config["allowActions"], false);
    assert_eq!(config["loopback"], true);

    // The store is listed by the poller within a few polls.
    let deadline = Instant::now() + Duration::from_secs(5);
    let groups = loop {
        let g = call(&d, "GET", "/api/groups", &[]).await;
        let g: serde_json::Value = serde_json::from_str(&g.body).unwrap();
        if g.as_array().unwrap().len() == 2 || Instant::now() > deadline {
            break g;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        groups,
        serde_json::json!([{"group": "blog", "controllable": false}, {"group": "shop", "controllable": true}])
    );
    let shop = call(&d, "GET", "/api/groups/shop", &[]).await;
    assert_eq!(shop.status, 200);
    let shop: serde_json::Value = serde_json::from_str(&shop.body).unwrap();
    assert_eq!(shop["status"]["state"]["phase"], "progressing");
    assert_eq!(shop["spec"]["steps"], serde_json::json!([20, 50]));
    assert_eq!(shop["events"].as_array().unwrap().len(), 3);
    assert!(
        !shop.to_string().contains("hunter22"),
        "the canary's env value leaked: {shop}"
    );
    // No browser watches, so nothing polls: the JSON is read again once a poll interval old.
    let group = ServiceName::parse("shop").unwrap();
    let mut v = w.store.load(&group, &[]).await.unwrap().unwrap();
    v.state.weight = 50;
    w.store
        .save(&group, &[], &v.state, Some(v.version))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let shop = call(&d, "GET", "/api/groups/shop", &[]).await;
    let shop: serde_json::Value = serde_json::from_str(&shop.body).unwrap();
    assert_eq!(shop["status"]["state"]["weight"], 50);
    let blog = call(&d, "GET", "/api/groups/blog", &[]).await;
    let blog: serde_json::Value = serde_json::from_str(&blog.body).unwrap();
    assert_eq!(blog["status"]["state"]["phase"], "paused");
    assert_eq!(blog["controllable"], false);
    // Without a spec there is no limit to show, but the values are there.
    assert_eq!(blog["analyses"][0]["checks"][1]["canary"], 0.7123);
    assert_eq!(
        blog["analyses"][0]["checks"][1]["limits"],
        serde_json::json!([])
    );

    for (method, path, want) in [
        ("GET", "/api/groups/nope", 404),
        ("GET", "/api/groups/..%2f..%2fetc", 404),
        ("GET", "/nope", 404),
        ("GET", "/assets/../Cargo.toml", 404),
        ("DELETE", "/api/groups", 405),
        ("PUT", "/", 405),
        ("GET", "/api/groups/shop/actions/pause", 405),
    ] {
        assert_eq!(
            call(&d, method, path, &[]).await.status,
            want,
            "{method} {path}"
        );
    }
    // DNS rebinding: another host name is refused, even with the right port.
    let a = raw(
        port_of(&d),
        format!(
            "GET /api/groups HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\n\r\n",
            d.addr().port()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(a.status, 421);
    d.shutdown().await;
}

#[tokio::test]
async fn actions_go_through_the_engine_and_only_when_allowed() {
    let w = world("shop");
    save_progressing(&w.store, "shop", Phase::Progressing).await;
    let ro = serve(&w, |b| b).await;
    let r = call(&ro, "POST", "/api/groups/shop/actions/pause", &[ACT]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("--allow-actions"), "{}", r.body);
    ro.shutdown().await;

    let d = serve(&w, |b| b.allow_actions(true)).await;
    let origin = format!("http://127.0.0.1:{}", d.addr().port());
    for (headers, want) in [
        (vec![], 403),
        (vec![("X-Canary-Dashboard", "0")], 403),
        (vec![ACT, ("Origin", "http://evil.example")], 403),
        (vec![ACT, ("Origin", "null")], 403),
        (vec![ACT, ("Sec-Fetch-Site", "cross-site")], 403),
    ] {
        let r = call(&d, "POST", "/api/groups/shop/actions/pause", &headers).await;
        assert_eq!(r.status, want, "{headers:?}: {}", r.body);
    }
    assert_eq!(
        call(&d, "POST", "/api/groups/shop/actions/explode", &[ACT])
            .await
            .status,
        404
    );
    assert_eq!(
        call(&d, "POST", "/api/groups/nope/actions/pause", &[ACT])
            .await
            .status,
        404
    );
    // A body is not wanted, and a big one is refused before it is read.
    let big = raw(
        port_of(&d),
        format!(
            "POST /api/groups/shop/actions/pause HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Canary-Dashboard: 1\r\n\
             Content-Length: 100000\r\nConnection: close\r\n\r\n",
            d.addr().port()
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(big.status, 413);
    let group = ServiceName::parse("shop").unwrap();
    assert_eq!(
        w.store
            .load(&group, &[])
            .await
            .unwrap()
            .unwrap()
            .state
            .phase,
        Phase::Progressing,
        "nothing refused changed the state"
    );

    // The browser's own request: header, same Origin.
    let r = call(
        &d,
        "POST",
        "/api/groups/shop/actions/pause",
        &[ACT, ("Origin", &origin), ("Sec-Fetch-Site", "same-origin")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["result"], "applied", "{body}");
    assert_eq!(body["detail"]["phase"], "paused", "{body}");
    let by = body["by"].as_str().unwrap().to_string();
    assert!(by.starts_with("dashboard:127.0.0.1:"), "{by}");
    let saved = w.store.load(&group, &[]).await.unwrap().unwrap().state;
    assert_eq!(saved.phase, Phase::Paused);
    let command = saved
        .history
        .iter()
        .find(|e| e.kind == EventKind::Command)
        .expect("a command event");
    assert!(
        command.message.contains(&format!("pause from {by}")),
        "{}",
        command.message
    );

    let r = call(&d, "POST", "/api/groups/shop/actions/resume", &[ACT]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        w.store
            .load(&group, &[])
            .await
            .unwrap()
            .unwrap()
            .state
            .phase,
        Phase::Progressing
    );
    // The engine's own rules still hold: resume of a running rollout is fine, pause twice too,
    // and an ended rollout refuses with a conflict.
    let mut st = w.store.load(&group, &[]).await.unwrap().unwrap();
    st.state.phase = Phase::RolledBack;
    w.store
        .save(&group, &[], &st.state, Some(st.version))
        .await
        .unwrap();
    let r = call(&d, "POST", "/api/groups/shop/actions/pause", &[ACT]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("already ended"), "{}", r.body);
    d.shutdown().await;
}

#[tokio::test]
async fn a_group_known_only_from_the_store_is_read_only() {
    let w = world("shop");
    let other = ServiceName::parse("blog").unwrap();
    save_progressing(&w.store, "blog", Phase::Progressing).await;
    let d = serve(&w, |b| b.allow_actions(true)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while call(&d, "GET", "/api/groups/blog", &[]).await.status != 200 {
        assert!(Instant::now() < deadline, "blog never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = call(&d, "POST", "/api/groups/blog/actions/rollback", &[ACT]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("saved state only"), "{}", r.body);
    assert_eq!(
        w.store
            .load(&other, &[])
            .await
            .unwrap()
            .unwrap()
            .state
            .phase,
        Phase::Progressing
    );
    d.shutdown().await;
}

#[tokio::test]
async fn off_loopback_actions_need_the_token() {
    let w = world("shop");
    save_progressing(&w.store, "shop", Phase::Progressing).await;
    let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let e = Dashboard::builder()
        .rollout(w.rollout.clone())
        .addr(any)
        .allow_actions(true)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("token"), "{e}");
    let e = Dashboard::builder().token("short").build().unwrap_err();
    assert!(e.to_string().starts_with("token:"), "{e}");

    let d = serve(&w, |b| b.addr(any).allow_actions(true).token(TOKEN)).await;
    let config = call(&d, "GET", "/api/config", &[]).await;
    assert!(
        config.body.contains("\"tokenRequired\":true"),
        "{}",
        config.body
    );
    assert!(!config.body.contains(TOKEN));
    for auth in ["", "Bearer wrong-token-0123456789", TOKEN] {
        let mut h = vec![ACT];
        if !auth.is_empty() {
            h.push(("Authorization", auth));
        }
        let r = call(&d, "POST", "/api/groups/shop/actions/pause", &h).await;
        assert_eq!(r.status, 401, "{auth:?}: {}", r.body);
        assert!(!r.body.contains(TOKEN) && !r.head.contains(TOKEN));
    }
    let bearer = format!("Bearer {TOKEN}");
    let r = call(
        &d,
        "POST",
        "/api/groups/shop/actions/pause",
        &[ACT, ("Authorization", &bearer)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    d.shutdown().await;
}

/// Reads server-sent events from `/api/events` until `pred` holds for a `group` frame's data.
async fn wait_frame(
    s: &mut TcpStream,
    buf: &mut String,
    within: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if let Some(data) = frame
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .filter(|_| frame.contains("event: group\n"))
            {
                let v: serde_json::Value = serde_json::from_str(data).unwrap();
                if pred(&v) {
                    return v;
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no matching frame in time");
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) => panic!("the stream ended"),
            Ok(Ok(n)) => buf.push_str(&String::from_utf8_lossy(&chunk[..n])),
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => panic!("no matching frame in time"),
        }
    }
}

async fn open_stream(d: &Running) -> (TcpStream, String) {
    let mut s = TcpStream::connect(port_of(d)).await.unwrap();
    let req = format!(
        "GET /api/events HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
        d.addr().port()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    let mut chunk = [0u8; 4096];
    while !buf.contains("\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed: {buf}");
        buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    assert!(buf.starts_with("HTTP/1.1 200"), "{buf}");
    assert!(buf.contains("text/event-stream"), "{buf}");
    let body = buf.split_once("\r\n\r\n").unwrap().1.to_string();
    // Chunked framing: keep only the event lines.
    (s, body)
}

#[tokio::test]
async fn the_stream_delivers_changes_from_this_process_and_from_the_store() {
    let w = world("shop");
    save_progressing(&w.store, "shop", Phase::Progressing).await;
    let d = serve(&w, |b| b.allow_actions(true)).await;
    let (mut s, mut buf) = open_stream(&d).await;
    let phase = |v: &serde_json::Value| v["status"]["state"]["phase"].as_str().map(str::to_string);
    wait_frame(&mut s, &mut buf, Duration::from_secs(5), |v| {
        phase(v).as_deref() == Some("progressing")
    })
    .await;

    // Another process saves a change: the poll of the store brings it.
    let group = ServiceName::parse("shop").unwrap();
    let mut v = w.store.load(&group, &[]).await.unwrap().unwrap();
    v.state.weight = 50;
    v.state.step = 1;
    w.store
        .save(&group, &[], &v.state, Some(v.version))
        .await
        .unwrap();
    let t = Instant::now();
    let got = wait_frame(&mut s, &mut buf, Duration::from_secs(5), |v| {
        v["status"]["state"]["weight"] == 50
    })
    .await;
    assert_eq!(got["status"]["state"]["step"], 1);
    eprintln!(
        "a change saved by another process reached the stream in {:?}",
        t.elapsed()
    );

    // A command through this process's engine: its event reaches the stream.
    w.rollout
        .command_by(canary_core::Command::Pause, "test:me")
        .await
        .unwrap();
    let got = wait_frame(&mut s, &mut buf, Duration::from_secs(5), |v| {
        v["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["kind"] == "command"))
    })
    .await;
    let cmd = got["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "command")
        .unwrap()
        .clone();
    assert!(
        cmd["message"].as_str().unwrap().contains("test:me"),
        "{cmd}"
    );
    wait_frame(&mut s, &mut buf, Duration::from_secs(5), |v| {
        phase(v).as_deref() == Some("paused")
    })
    .await;
    d.shutdown().await;
}

#[tokio::test]
async fn event_streams_are_bounded() {
    let w = world("shop");
    let d = serve(&w, |b| b.max_streams(1)).await;
    let (_first, _) = open_stream(&d).await;
    let second = call(&d, "GET", "/api/events", &[]).await;
    assert_eq!(second.status, 503, "{}", second.body);
    // Pages and JSON still answer.
    assert_eq!(call(&d, "GET", "/api/groups", &[]).await.status, 200);
    d.shutdown().await;
}

#[tokio::test]
async fn the_report_shows_each_check_with_its_value_and_its_limit() {
    let w = world("shop");
    save_progressing(&w.store, "shop", Phase::RolledBack).await;
    let d = serve(&w, |b| b).await;
    let r = call(&d, "GET", "/api/groups/shop/report", &[]).await;
    assert_eq!(r.status, 200);
    assert!(r
        .head
        .to_lowercase()
        .contains("content-security-policy: default-src 'none'; script-src 'unsafe-inline'"));
    let html = r.body;
    // Self-contained: nothing to fetch.
    assert!(
        !html.contains("src=\"") && !html.contains("href=\"/"),
        "{html}"
    );
    assert!(html.contains("<script type=\"application/json\" id=\"report-data\">"));
    assert!(
        html.contains("window.CanaryCharts"),
        "the chart code is inline"
    );
    let row = |name: &str| -> String {
        let start = html
            .find(&format!("<tr data-check=\"{name}\""))
            .unwrap_or_else(|| panic!("no row for {name}"));
        let end = start + html[start..].find("</tr>").unwrap();
        html[start..end].to_string()
    };
    let sr = row("success-rate");
    assert!(sr.contains("data-verdict=\"fail\""), "{sr}");
    assert!(sr.contains("<td class=\"value\">0.7123</td>"), "{sr}");
    assert!(sr.contains("<td class=\"limit\">≥ 0.99</td>"), "{sr}");
    let rel = row("errors-vs-stable");
    assert!(rel.contains("<td class=\"value\">0.2877</td>"), "{rel}");
    assert!(rel.contains("≤ stable 0 + 0.01"), "{rel}");
    let gate = row("minRequests");
    assert!(gate.contains("≥ 20 requests"), "{gate}");
    assert!(!html.contains("hunter22"), "the canary's env value leaked");
    // The same report without a server.
    let direct = Dashboard::builder()
        .rollout(w.rollout.clone())
        .build()
        .unwrap()
        .report("shop")
        .await
        .unwrap();
    assert!(direct.contains("<td class=\"limit\">≥ 0.99</td>"));
    let missing = Dashboard::builder()
        .build()
        .unwrap()
        .report("nope")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, canary_core::Error::NotFound { .. }),
        "{missing}"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn garbage_gets_an_answer_or_a_closed_connection_and_the_server_lives_on() {
    let w = world("shop");
    let d = serve(&w, |b| b).await;
    let addr = port_of(&d);
    let huge_header = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Big: {}\r\n\r\n",
        addr.port(),
        "a".repeat(64 * 1024)
    );
    for req in [
        b"\x00\x01\x02garbage\r\n\r\n".to_vec(),
        b"GET\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        huge_header.into_bytes(),
        vec![0xff; 20_000],
    ] {
        let a = raw(addr, &req).await;
        assert!(
            a.status == 0 || (400..500).contains(&a.status),
            "{}: {}",
            a.status,
            a.head
        );
    }
    // A client that sends half a head is cut off (within the head timeout, 10 s).
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let t = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(15), slow.read_to_end(&mut sink)).await;
    assert!(
        t.elapsed() < Duration::from_secs(14),
        "a slow head was not cut off"
    );
    assert_eq!(call(&d, "GET", "/api/config", &[]).await.status, 200);
    d.shutdown().await;
}

#[tokio::test]
async fn drift_from_the_compose_file_shows_on_the_page_and_in_the_report() {
    use canary_core::ops::DriftCheck;
    use canary_core::{ImageRef, MockOrchestrator};
    let orch = Arc::new(MemoryOrchestrator::new());
    orch.add_service(
        ServiceName::parse("api").unwrap(),
        &ImageRef::parse("app:v2").unwrap(),
        2,
    );
    let store = Arc::new(MemoryStateStore::new());
    let deps = Deps::new(
        orch,
        Arc::new(MemoryRouter::new()),
        Arc::new(MockMetricsSource::new()),
        store.clone(),
        Arc::new(MockHookRunner::new()),
    );
    let rollout = Arc::new(
        Rollout::new(
            spec("shop"),
            deps,
            RolloutOptions::default().owner("test/1"),
        )
        .unwrap(),
    );
    let dir = std::env::temp_dir().join(format!("canary-dashboard-drift-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("docker-compose.yml");
    std::fs::write(&file, "services:\n  api:\n    image: app:v1\n").unwrap();
    // Every tag is its own image here.
    let mut images = MockOrchestrator::new();
    images
        .expect_pin_image()
        .returning(|i: &ImageRef| Ok(i.clone()));
    let check = Arc::new(DriftCheck::new(spec("shop"), Arc::new(images)).compose_file(&file));
    assert!(Dashboard::builder().drift(check.clone()).build().is_err());
    let d = Dashboard::builder()
        .rollout(rollout)
        .store(store)
        .drift(check)
        .poll_interval(Duration::from_millis(200))
        .build()
        .unwrap()
        .serve()
        .await
        .unwrap();
    let r = call(&d, "GET", "/api/groups/shop", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let view: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let drift = &view["status"]["drift"][0];
    assert_eq!(drift["running"], "app:v2", "{view}");
    assert_eq!(drift["declared"], "app:v1", "{view}");
    assert_eq!(drift["declaredLine"], 3);
    assert_eq!(drift["won"], "other");
    let report = call(&d, "GET", "/api/groups/shop/report", &[]).await;
    assert!(
        report.body.contains("<ul id=\"report-drift\"><li>api: stable runs app:v2 but docker-compose.yml names app:v1 (line 3)"),
        "{}",
        report.body
    );
    // The file is read again: once it names what runs, the drift is gone.
    std::fs::write(&file, "services:\n  api:\n    image: app:v2\n").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = call(&d, "GET", "/api/groups/shop", &[]).await;
    let view: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(view["status"].get("drift").is_none(), "{view}");
    d.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
