//! Unit tests of the access-log source: parsing, bounds, windows and samples.

use super::*;
use canary_core::{AppRef, Track};
use std::io::Write;

#[test]
fn rfc3339_times() {
    assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_rfc3339_ns("2026-11-30T20:53:02.31271628Z"),
        Some(1_796_071_982_312_716_280)
    );
    assert_eq!(
        parse_rfc3339_ns("2000-03-01T00:00:01.5Z"),
        Some(951_868_801_500_000_000)
    );
    for bad in [
        "",
        "2026-11-30T20:53:02",
        "2026-11-30 20:53:02Z",
        "2026-13-30T20:53:02Z",
        "2026-11-30T20:53:02.Z",
        "2026-11-30T20:53:02.1234567890Z",
        "2026-11-30T20:53:02+01:00",
        "２026-11-30T20:53:02Z",
    ] {
        assert_eq!(parse_rfc3339_ns(bad), None, "{bad}");
    }
}

#[test]
fn lines_of_traefik_3_7_9() {
    // As the local stack writes them (fields kept: see scripts/stack/up.sh).
    let (s, r) = parse_line(r#"{"DownstreamStatus":200,"Duration":51234567,"OriginStatus":200,"RouterName":"canary-g--api@file","ServiceName":"canary-g--api--tasks@file","StartUTC":"2026-11-30T20:53:02.31271628Z","level":"info","msg":"","time":"2026-11-30T20:53:02Z"}"#).unwrap();
    assert_eq!(s, "canary-g--api--tasks@file");
    assert_eq!(r.duration_ns, 51_234_567);
    assert_eq!(r.end_ns, 1_796_071_982_312_716_280 + 51_234_567);
    assert_eq!(r.status, 200);
    // A 404 no router matched has no service.
    assert!(parse_line(r#"{"DownstreamStatus":404,"Duration":83764,"OriginStatus":0,"StartUTC":"2026-11-30T20:53:02.31271628Z","level":"info","msg":"","time":"2026-11-30T20:53:02Z"}"#).is_none());
    assert!(parse_line("not json").is_none());
    assert!(
        parse_line(r#"{"ServiceName":"a","Duration":-1,"StartUTC":"2026-11-30T20:53:02Z"}"#)
            .is_none()
    );
}

#[test]
fn quantiles_and_samples() {
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 1.0), Some(4.0));
    assert_eq!(quantile(&[], 0.5), None);
    let now = 100_000_000_000i128;
    let reqs: Vec<Request> = (0..10)
        .map(|i| Request {
            end_ns: now - (9 - i) * 100_000_000,
            duration_ns: (i as u64 + 1) * 1_000_000,
            status: if i % 5 == 0 { 503 } else { 200 },
        })
        .collect();
    let w = Duration::from_secs(2);
    assert_eq!(
        metric_of(&MetricKind::ErrorRate, &reqs, w),
        Observation::Value(0.2)
    );
    assert_eq!(
        metric_of(&MetricKind::RequestRate, &reqs, w),
        Observation::Value(5.0)
    );
    let p50 = metric_of(&MetricKind::Latency(0.5), &reqs, w)
        .value()
        .unwrap();
    assert!((p50 - 0.0055).abs() < 1e-12, "{p50}");
    assert_eq!(
        metric_of(&MetricKind::SuccessRate, &[], w),
        Observation::NoData
    );
    assert_eq!(
        metric_of(&MetricKind::RequestCount, &[], w),
        Observation::Value(0.0)
    );
    let lat = samples_of(&MetricKind::Latency(0.99), &reqs, w, now, 100);
    assert_eq!(lat.len(), 10);
    assert_eq!(lat[0], 0.001);
    assert_eq!(
        samples_of(&MetricKind::Latency(0.5), &reqs, w, now, 4).len(),
        4
    );
    let err = samples_of(&MetricKind::ErrorRate, &reqs, w, now, 100);
    assert_eq!(err.iter().sum::<f64>(), 2.0);
    // Ten requests in the last second of a 2 s window.
    assert_eq!(
        samples_of(&MetricKind::RequestCount, &reqs, w, now, 100),
        [0.0, 10.0]
    );
}

fn line(service: &str, start: &str, ms: u64, status: u16) -> String {
    format!(
        "{{\"DownstreamStatus\":{status},\"Duration\":{},\"ServiceName\":\"{service}\",\"StartUTC\":\"{start}\"}}\n",
        ms * 1_000_000
    )
}

#[test]
fn the_reader_follows_appends_cuts_truncations_and_garbage() {
    let dir = std::env::temp_dir().join(format!("canary-access-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("access.json");
    let _ = std::fs::remove_file(&path);
    let mut store = Store::default();
    read_new(&path, &mut store, 100).unwrap();
    assert!(store.requests.is_empty(), "no file yet is no request");
    let mut f = std::fs::File::create(&path).unwrap();
    let a = line("a@swarm", "2026-01-01T00:00:00Z", 5, 200);
    // A line cut in the middle waits for its end.
    f.write_all(a.as_bytes()).unwrap();
    f.write_all(&a.as_bytes()[..10]).unwrap();
    read_new(&path, &mut store, 100).unwrap();
    assert_eq!(store.requests.len(), 1);
    f.write_all(&a.as_bytes()[10..]).unwrap();
    f.write_all(b"garbage\n\n").unwrap();
    f.write_all(&vec![b'x'; MAX_LINE + 10]).unwrap();
    f.write_all(b"\n").unwrap();
    read_new(&path, &mut store, 100).unwrap();
    assert_eq!(store.requests.len(), 2);
    assert_eq!(store.skipped, 2, "the garbage line and the long one");
    // Truncated, then written again: read from the start.
    drop(f);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(line("b@swarm", "2026-01-01T00:00:01Z", 7, 500).as_bytes())
        .unwrap();
    read_new(&path, &mut store, 100).unwrap();
    assert_eq!(store.requests.len(), 3);
    assert_eq!(store.services.len(), 2);
    // Bounded: capacity 3 keeps the newest three.
    for _ in 0..5 {
        f.write_all(a.as_bytes()).unwrap();
    }
    read_new(&path, &mut store, 3).unwrap();
    assert_eq!(store.requests.len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn answers_per_track_from_a_file() {
    let dir = std::env::temp_dir().join(format!("canary-access-log-q-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("access.json");
    let now = SystemTime::now();
    let start = |ago_ms: u64| {
        let t = now - Duration::from_millis(ago_ms);
        let d = t.duration_since(UNIX_EPOCH).unwrap();
        // Format as RFC 3339 through the parser's inverse: seconds and nanos.
        let secs = d.as_secs() as i64;
        let days = secs.div_euclid(86_400);
        let (h, m, s) = (
            secs.rem_euclid(86_400) / 3600,
            secs.rem_euclid(3600) / 60,
            secs.rem_euclid(60),
        );
        // civil_from_days
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
        format!(
            "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{:09}Z",
            d.subsec_nanos()
        )
    };
    let mut text = String::new();
    for i in 0..20 {
        text.push_str(&line("api@swarm", &start(3000 - i * 100), 2, 200));
        text.push_str(&line(
            "canary-g--api--tasks@file",
            &start(3000 - i * 100),
            52,
            if i < 2 { 500 } else { 200 },
        ));
    }
    std::fs::write(&path, text).unwrap();
    let sn = |s: &str| ServiceName::parse(s).unwrap();
    let m = TraefikAccessLog::builder(&path)
        .backend(sn("api"), "api@swarm")
        .backend(sn("api-canary"), "canary-g--api--tasks@file")
        .build()
        .unwrap();
    let q = |track, metric| {
        MetricQuery::new(
            AppRef {
                name: sn("api"),
                stable: sn("api"),
                canary: sn("api-canary"),
            },
            track,
            metric,
            Duration::from_secs(10),
        )
    };
    let canary = m
        .samples(&q(Track::Canary, MetricKind::Latency(0.5)))
        .await
        .unwrap();
    let stable = m
        .samples(&q(Track::Stable, MetricKind::Latency(0.5)))
        .await
        .unwrap();
    assert_eq!((canary.len(), stable.len()), (20, 20));
    assert!(canary.iter().all(|v| (*v - 0.052).abs() < 1e-9));
    assert!(stable.iter().all(|v| (*v - 0.002).abs() < 1e-9));
    assert_eq!(
        m.value(&q(Track::Canary, MetricKind::ErrorRate))
            .await
            .unwrap(),
        Observation::Value(0.1)
    );
    assert_eq!(
        m.value(&q(Track::Canary, MetricKind::RequestCount))
            .await
            .unwrap(),
        Observation::Value(20.0)
    );
    // A service never seen is no data; PromQL is refused.
    let mut other = q(Track::Canary, MetricKind::RequestCount);
    other.app.canary = sn("other");
    assert_eq!(m.value(&other).await.unwrap(), Observation::NoData);
    assert!(m
        .value(&q(Track::Stable, MetricKind::Query("up".into())))
        .await
        .is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
