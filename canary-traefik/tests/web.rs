//! [`WebMetrics`] against HTTP servers on 127.0.0.1: templated GET and POST, headers from the
//! environment, JSONPath hits, misses and non-numbers, garbage, HTML, error statuses, slow and
//! huge answers, redirects; and the analysis reading a web check through it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use canary_core::analysis::{self, Verdict};
use canary_core::spec::{MetricKind, WebHeader, WebMethod, WebMetric};
use canary_core::{
    AppRef, Error, HumanDuration, MetricQuery, MetricsSource, Observation, Result, ServiceName,
    Spec, Track,
};
use canary_testkit::{Answer, Server};
use canary_traefik::WebMetrics;

const TOKEN: &str = "Bearer tok-3f9a";

/// The source every non-web metric goes to: 42 for everything, and it notes what it was asked.
#[derive(Debug, Default)]
struct Inner {
    asked: Mutex<Vec<String>>,
}

#[async_trait]
impl MetricsSource for Inner {
    async fn value(&self, q: &MetricQuery) -> Result<Observation> {
        self.asked.lock().unwrap().push(q.metric.label());
        Ok(Observation::Value(42.0))
    }
    async fn samples(&self, q: &MetricQuery) -> Result<Vec<f64>> {
        self.asked.lock().unwrap().push(q.metric.label());
        Ok(vec![4.0, 2.0])
    }
}

fn source() -> WebMetrics {
    WebMetrics::new(Arc::new(Inner::default()))
        .timeout(Duration::from_secs(5))
        .env(|name| (name == "METRICS_TOKEN").then(|| TOKEN.to_string()))
}

fn sn(s: &str) -> ServiceName {
    ServiceName::parse(s).unwrap()
}

fn query(metric: WebMetric, track: Track) -> MetricQuery {
    MetricQuery::new(
        AppRef {
            name: sn("api"),
            stable: sn("shop_api"),
            canary: sn("shop_api-canary"),
        },
        track,
        MetricKind::Web(metric),
        Duration::from_secs(300),
    )
}

fn web(url: &str, json_path: &str) -> WebMetric {
    WebMetric {
        url: url.into(),
        method: WebMethod::Get,
        body: None,
        headers: BTreeMap::new(),
        json_path: json_path.into(),
        timeout: None,
    }
}

/// An answer with a content type.
fn answer(status: u16, content_type: &str, body: &[u8]) -> Answer {
    Answer::status(status)
        .header("content-type", content_type)
        .body(body)
}

#[tokio::test]
async fn get_fills_the_query_and_sends_headers_from_the_environment() {
    let srv = Server::in_turn(vec![Answer::json(
        r#"{"data": {"errorRate": 0.25, "other": 1}}"#,
    )]);
    let mut m = web(
        &format!(
            "{}/api/v1/{{{{app}}}}/errors?track={{{{track}}}}&svc={{{{service}}}}&w={{{{window}}}}&s={{{{windowSeconds}}}}&key=s3cret",
            srv.base()
        ),
        "$.data.errorRate",
    );
    m.headers.insert(
        "Authorization".into(),
        WebHeader::Env {
            env: "METRICS_TOKEN".into(),
        },
    );
    m.headers
        .insert("X-Team".into(), WebHeader::Value("payments".into()));
    let v = source().value(&query(m, Track::Canary)).await.unwrap();
    assert_eq!(v, Observation::Value(0.25));
    let reqs = srv.arrived(1).await;
    let req = &reqs[0];
    assert!(
        req.head.starts_with(
            "GET /api/v1/api/errors?track=canary&svc=shop_api-canary&w=300s&s=300&key=s3cret HTTP/1.1\r\n"
        ),
        "{}",
        req.head
    );
    assert_eq!(req.header("authorization"), Some(TOKEN));
    assert_eq!(req.header("x-team"), Some("payments"));
    assert_eq!(req.header("accept"), Some("application/json"));
    assert!(req.header("user-agent").unwrap().starts_with("canary/"));
}

#[tokio::test]
async fn post_sends_the_templated_body_as_json() {
    let srv = Server::in_turn(vec![Answer::json(
        r#"{"result": [{"v": "0.5"}, {"v": "0.7"}]}"#,
    )]);
    let mut m = web(&format!("{}/query", srv.base()), "$.result[0].v");
    m.method = WebMethod::Post;
    m.body = Some(
        r#"{"app": "{{app}}", "track": "{{track}}", "service": "{{ service }}", "seconds": {{windowSeconds}}}"#
            .into(),
    );
    let v = source().value(&query(m, Track::Stable)).await.unwrap();
    assert_eq!(v, Observation::Value(0.5), "a numeric string is a number");
    let reqs = srv.arrived(1).await;
    let req = &reqs[0];
    assert!(
        req.head.starts_with("POST /query HTTP/1.1\r\n"),
        "{}",
        req.head
    );
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.json(),
        serde_json::json!({"app": "api", "track": "stable", "service": "shop_api", "seconds": 300})
    );
}

#[tokio::test]
async fn misses_and_non_numbers_are_no_data_and_samples_take_every_number() {
    let doc = r#"{"s": "abc", "b": true, "n": null, "o": {"x": 1}, "xs": [1, "2", "x", null, 3.5, {"y": 4}], "nan": "NaN"}"#;
    let cases: [(&str, Observation); 6] = [
        ("$.missing", Observation::NoData),
        ("$.s", Observation::NoData),
        ("$.b", Observation::NoData),
        ("$.n", Observation::NoData),
        ("$.o", Observation::NoData),
        ("$.nan", Observation::NoData),
    ];
    let srv = Server::in_turn(vec![Answer::json(doc); cases.len() + 3]);
    let src = source();
    for (path, want) in cases {
        let got = src
            .value(&query(
                web(&format!("{}/m", srv.base()), path),
                Track::Canary,
            ))
            .await
            .unwrap();
        assert_eq!(got, want, "{path}");
    }
    let samples = src
        .samples(&query(
            web(&format!("{}/m", srv.base()), "$.xs[*]"),
            Track::Canary,
        ))
        .await
        .unwrap();
    assert_eq!(samples, [1.0, 2.0, 3.5]);
    let none = src
        .samples(&query(
            web(&format!("{}/m", srv.base()), "$.missing[*]"),
            Track::Canary,
        ))
        .await
        .unwrap();
    assert!(none.is_empty());
    // A check needs one value: a path that finds several is the spec's mistake, said so.
    let e = src
        .value(&query(
            web(&format!("{}/m", srv.base()), "$.xs[*]"),
            Track::Canary,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, reason, .. } if field == "metric.web.jsonPath" && reason.contains("found 6 values")),
        "{e}"
    );
    assert_eq!(srv.arrived(9).await.len(), 9);
}

#[tokio::test]
async fn garbage_and_html_answers_are_typed_errors_with_what_came() {
    let srv = Server::in_turn(vec![
        answer(200, "application/json", b"\x00\xff{\"a\": garbage\x1b[2J"),
        answer(
            200,
            "text/html; charset=utf-8",
            b"<html><body>Please log in</body></html>",
        ),
        answer(200, "application/json", b""),
    ]);
    let src = source();
    let q = query(
        web(&format!("{}/m?key=s3cret", srv.base()), "$.a"),
        Track::Canary,
    );
    let e = src.value(&q).await.unwrap_err();
    let Error::Rejected { by, message, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(by.starts_with("web metric GET http://127.0.0.1:"), "{by}");
    assert!(by.ends_with("/m"), "the query is not shown: {by}");
    assert!(message.contains("is not JSON"), "{message}");
    assert!(
        !message.contains('\x1b'),
        "terminal escapes are not passed on"
    );
    let e = src.value(&q).await.unwrap_err();
    assert!(
        matches!(&e, Error::Rejected { message, .. } if message.contains("text/html") && message.contains("Please log in")),
        "{e}"
    );
    let e = src.samples(&q).await.unwrap_err();
    assert!(
        matches!(&e, Error::Rejected { message, .. } if message.contains("not JSON")),
        "an empty answer is not JSON either: {e}"
    );
    assert!(!e.to_string().contains("s3cret"));
}

#[tokio::test]
async fn error_statuses_are_typed_and_secrets_stay_out() {
    let srv = Server::in_turn(vec![
        answer(500, "text/plain", b"database on fire"),
        answer(429, "text/plain", b"slow down"),
        answer(404, "application/json", br#"{"error": "no such app"}"#),
        answer(401, "text/plain", b""),
    ]);
    let mut m = web(&format!("{}/m?key=s3cret", srv.base()), "$.v");
    m.headers.insert(
        "Authorization".into(),
        WebHeader::Env {
            env: "METRICS_TOKEN".into(),
        },
    );
    let q = query(m, Track::Canary);
    let src = source();
    let e500 = src.value(&q).await.unwrap_err();
    assert!(
        matches!(&e500, Error::Unavailable { message: m, .. } if m.contains("HTTP 500: database on fire")),
        "{e500}"
    );
    let e429 = src.value(&q).await.unwrap_err();
    assert!(matches!(&e429, Error::Unavailable { message: m, .. } if m.contains("HTTP 429")));
    let e404 = src.value(&q).await.unwrap_err();
    assert!(
        matches!(&e404, Error::Rejected { message, .. } if message.contains("HTTP 404") && message.contains("no such app")),
        "{e404}"
    );
    let e401 = src.value(&q).await.unwrap_err();
    assert!(
        matches!(&e401, Error::Rejected { message, .. } if message == "HTTP 401"),
        "{e401}"
    );
    for e in [&e500, &e429, &e404, &e401] {
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains("tok-3f9a") && !text.contains("s3cret"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_slow_answer_times_out_at_the_metrics_own_timeout() {
    let srv = Server::in_turn(vec![
        Answer::json(r#"{"v": 1}"#).delay(Duration::from_secs(3))
    ]);
    let mut m = web(&format!("{}/slow", srv.base()), "$.v");
    m.timeout = Some(HumanDuration(Duration::from_millis(300)));
    let started = Instant::now();
    let e = source().value(&query(m, Track::Canary)).await.unwrap_err();
    assert!(
        matches!(&e, Error::Timeout { after, .. } if *after == Duration::from_millis(300)),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Without its own timeout the builder's applies.
    let srv = Server::in_turn(vec![
        Answer::json(r#"{"v": 1}"#).delay(Duration::from_secs(3))
    ]);
    let e = source()
        .timeout(Duration::from_millis(200))
        .value(&query(
            web(&format!("{}/slow", srv.base()), "$.v"),
            Track::Canary,
        ))
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Timeout { .. }), "{e}");
}

#[tokio::test]
async fn huge_answers_are_refused_after_the_cap() {
    // 4 MB announced by Content-Length: refused before reading. 2 MiB without a length (read
    // until the connection closes): refused once the cap is passed.
    let big = format!("[{}1]", "1,".repeat(2_000_000));
    let mut no_length =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n".to_vec();
    no_length.extend_from_slice(&big.as_bytes()[..2 * 1024 * 1024]);
    let srv = Server::in_turn(vec![
        answer(200, "application/json", big.as_bytes()),
        Answer::raw(no_length),
    ]);
    let src = source();
    let q = query(web(&format!("{}/big", srv.base()), "$[0]"), Track::Canary);
    for _ in 0..2 {
        let started = Instant::now();
        let e = src.value(&q).await.unwrap_err();
        assert!(
            matches!(&e, Error::Rejected { message, .. } if message.contains("above the 1048576-byte limit")),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = Server::in_turn(vec![Answer::json(r#"{"v": 0}"#)]);
    let srv = Server::in_turn(vec![Answer::raw(format!(
        "HTTP/1.1 302 Found\r\nlocation: {}/v\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        target.base()
    ))]);
    let e = source()
        .value(&query(
            web(&format!("{}/m", srv.base()), "$.v"),
            Track::Canary,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Rejected { message, .. } if message == "HTTP 302: redirects are not followed"),
        "{e}"
    );
    assert_eq!(srv.arrived(1).await.len(), 1);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), target.arrived(1))
            .await
            .is_err(),
        "the redirect target was called"
    );
}

#[tokio::test]
async fn a_missing_variable_is_named_and_nothing_is_sent() {
    let srv = Server::in_turn(vec![Answer::json(r#"{"v": 1}"#)]);
    let mut m = web(&format!("{}/m", srv.base()), "$.v");
    m.headers.insert(
        "X-Api-Key".into(),
        WebHeader::Env {
            env: "NOT_SET_ANYWHERE".into(),
        },
    );
    let e = source().value(&query(m, Track::Canary)).await.unwrap_err();
    assert_eq!(
        e,
        Error::invalid(
            "metric.web.headers.X-Api-Key",
            "environment variable NOT_SET_ANYWHERE is not set"
        )
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), srv.arrived(1))
            .await
            .is_err(),
        "no request without its headers"
    );
}

#[tokio::test]
async fn metadata_addresses_are_refused_and_other_metrics_go_to_the_inner_source() {
    let e = source()
        .value(&query(
            web("http://169.254.169.254/latest?key=s3cret", "$.v"),
            Track::Canary,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Rejected { message, .. } if message.contains("link-local or metadata")),
        "{e}"
    );
    assert!(!e.to_string().contains("s3cret"));
    let inner = Arc::new(Inner::default());
    let src = WebMetrics::new(inner.clone());
    let mut q = query(web("http://127.0.0.1:9/x", "$.v"), Track::Canary);
    q.metric = MetricKind::ErrorRate;
    assert_eq!(src.value(&q).await.unwrap(), Observation::Value(42.0));
    q.metric = MetricKind::Latency(0.99);
    assert_eq!(src.samples(&q).await.unwrap(), [4.0, 2.0]);
    assert_eq!(*inner.asked.lock().unwrap(), ["errorRate", "latency(p99)"]);
}

/// The analysis through [`WebMetrics`]: a web check that fails fails the analysis, one whose
/// endpoint answers garbage is inconclusive with the reason, never a pass.
#[tokio::test]
async fn the_analysis_reads_web_checks() {
    let srv = Server::in_turn(vec![
        Answer::json(r#"{"errors": 0.3}"#),
        answer(200, "text/html", b"<html>oops</html>"),
    ]);
    let text = format!(
        r#"
group: shop
apps:
  - name: api
    image: api:v2
    port: 8080
    rule: "Host(`api.localhost`)"
analysis:
  minRequests: 0
  checks:
    - name: app-errors
      metric:
        web:
          url: "{}/errors?service={{{{service}}}}"
          jsonPath: $.errors
      max: 0.05
"#,
        srv.base()
    );
    let spec = Spec::from_yaml(&text).unwrap();
    let src = source();
    let window = Duration::from_secs(60);
    let call = Duration::from_secs(5);
    let report = analysis::analyse(&spec, &spec.app_refs(), &src, window, call).await;
    assert_eq!(report.verdict, Verdict::Fail, "{}", report.summary);
    assert_eq!(report.checks[0].canary, Some(0.3));
    assert_eq!(report.checks[0].reason, "web 0.300 > max 0.05");
    let report = analysis::analyse(&spec, &spec.app_refs(), &src, window, call).await;
    assert_eq!(report.verdict, Verdict::Inconclusive, "{}", report.summary);
    assert!(
        report.checks[0].reason.contains("not JSON") && report.checks[0].reason.contains("oops"),
        "{}",
        report.checks[0].reason
    );
    let reqs = srv.arrived(2).await;
    assert!(
        reqs[0]
            .head
            .starts_with("GET /errors?service=api-canary HTTP/1.1"),
        "{}",
        reqs[0].head
    );
}
