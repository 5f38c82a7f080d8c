//! [`WebMetrics`] reads `{env: VAR}` headers from the process environment at each call. Alone in
//! its test binary: the variable is set before any thread exists, so no other test can race the
//! environment.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use canary_core::spec::{MetricKind, WebHeader, WebMethod, WebMetric};
use canary_core::{
    AppRef, Error, MetricQuery, MetricsSource, Observation, Result, ServiceName, Track,
};
use canary_testkit::{Answer, Server};
use canary_traefik::WebMetrics;

#[derive(Debug)]
struct Nothing;

#[async_trait::async_trait]
impl MetricsSource for Nothing {
    async fn value(&self, _: &MetricQuery) -> Result<Observation> {
        Ok(Observation::NoData)
    }
    async fn samples(&self, _: &MetricQuery) -> Result<Vec<f64>> {
        Ok(Vec::new())
    }
}

#[test]
fn headers_come_from_the_process_environment_at_call_time() {
    std::env::set_var("CANARY_WEB_TEST_TOKEN", "Bearer env-token-77");
    std::env::remove_var("CANARY_WEB_TEST_UNSET");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let srv = Server::in_turn(vec![Answer::json(r#"{"v": 7}"#)]);
        let sn = |s: &str| ServiceName::parse(s).unwrap();
        let mut metric = WebMetric {
            url: srv.url("/m"),
            method: WebMethod::Get,
            body: None,
            headers: BTreeMap::from([(
                "Authorization".to_string(),
                WebHeader::Env {
                    env: "CANARY_WEB_TEST_TOKEN".into(),
                },
            )]),
            json_path: "$.v".into(),
            timeout: None,
        };
        let mut q = MetricQuery::new(
            AppRef {
                name: sn("api"),
                stable: sn("api"),
                canary: sn("api-canary"),
            },
            Track::Canary,
            MetricKind::Web(metric.clone()),
            Duration::from_secs(30),
        );
        let source = WebMetrics::new(Arc::new(Nothing));
        assert_eq!(source.value(&q).await.unwrap(), Observation::Value(7.0));
        let reqs = srv.arrived(1).await;
        assert!(
            reqs[0].head.contains("authorization: Bearer env-token-77\r\n"),
            "{}",
            reqs[0].head
        );
        metric.headers.insert(
            "X-Other".into(),
            WebHeader::Env {
                env: "CANARY_WEB_TEST_UNSET".into(),
            },
        );
        q.metric = MetricKind::Web(metric);
        let e = source.value(&q).await.unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { reason, .. } if reason.contains("CANARY_WEB_TEST_UNSET is not set")),
            "{e}"
        );
        assert!(!e.to_string().contains("env-token-77"));
    });
}
