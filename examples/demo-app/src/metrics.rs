//! Prometheus counters and a latency histogram, rendered in text exposition format 0.0.4.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
pub(crate) const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct Inner {
    by_code: BTreeMap<u16, u64>,
    bucket_counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Request metrics shared by all connection threads.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Records one finished request.
    pub(crate) fn observe(&self, code: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.by_code.entry(code).or_insert(0) += 1;
        if let Some(i) = BUCKETS.iter().position(|&le| secs <= le) {
            m.bucket_counts[i] += 1;
        }
        m.sum += secs;
        m.count += 1;
    }

    /// Renders all metrics. `version` is a label value (already validated as label-safe).
    pub(crate) fn render(&self, version: &str, draining: bool, start_unix: f64) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::with_capacity(2048);
        let v = version;
        let _ = writeln!(out, "# HELP demo_build_info Demo app version (always 1).");
        let _ = writeln!(out, "# TYPE demo_build_info gauge");
        let _ = writeln!(out, "demo_build_info{{version=\"{v}\"}} 1");
        let _ = writeln!(
            out,
            "# HELP demo_draining 1 after SIGTERM while the app drains."
        );
        let _ = writeln!(out, "# TYPE demo_draining gauge");
        let _ = writeln!(
            out,
            "demo_draining{{version=\"{v}\"}} {}",
            u8::from(draining)
        );
        let _ = writeln!(
            out,
            "# HELP demo_start_time_seconds Start time of the process since unix epoch in seconds."
        );
        let _ = writeln!(out, "# TYPE demo_start_time_seconds gauge");
        let _ = writeln!(
            out,
            "demo_start_time_seconds{{version=\"{v}\"}} {start_unix:.3}"
        );
        let _ = writeln!(
            out,
            "# HELP demo_http_requests_total HTTP requests answered, by status code."
        );
        let _ = writeln!(out, "# TYPE demo_http_requests_total counter");
        for (code, n) in &m.by_code {
            let _ = writeln!(
                out,
                "demo_http_requests_total{{version=\"{v}\",code=\"{code}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP demo_http_request_duration_seconds Time to answer a request, added latency included.");
        let _ = writeln!(out, "# TYPE demo_http_request_duration_seconds histogram");
        let mut cumulative = 0u64;
        for (le, n) in BUCKETS.iter().zip(m.bucket_counts.iter()) {
            cumulative += n;
            let _ = writeln!(
                out,
                "demo_http_request_duration_seconds_bucket{{version=\"{v}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "demo_http_request_duration_seconds_bucket{{version=\"{v}\",le=\"+Inf\"}} {}",
            m.count
        );
        let _ = writeln!(
            out,
            "demo_http_request_duration_seconds_sum{{version=\"{v}\"}} {}",
            m.sum
        );
        let _ = writeln!(
            out,
            "demo_http_request_duration_seconds_count{{version=\"{v}\"}} {}",
            m.count
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_histogram() {
        let m = Metrics::default();
        m.observe(200, Duration::from_micros(500));
        m.observe(200, Duration::from_millis(30));
        m.observe(500, Duration::from_secs(20));
        let s = m.render("v1", false, 1.0);
        assert!(
            s.contains("demo_http_requests_total{version=\"v1\",code=\"200\"} 2\n"),
            "{s}"
        );
        assert!(s.contains("demo_http_requests_total{version=\"v1\",code=\"500\"} 1\n"));
        assert!(s.contains(
            "demo_http_request_duration_seconds_bucket{version=\"v1\",le=\"0.001\"} 1\n"
        ));
        assert!(s.contains(
            "demo_http_request_duration_seconds_bucket{version=\"v1\",le=\"0.025\"} 1\n"
        ));
        assert!(
            s.contains("demo_http_request_duration_seconds_bucket{version=\"v1\",le=\"0.05\"} 2\n")
        );
        assert!(
            s.contains("demo_http_request_duration_seconds_bucket{version=\"v1\",le=\"10\"} 2\n")
        );
        assert!(
            s.contains("demo_http_request_duration_seconds_bucket{version=\"v1\",le=\"+Inf\"} 3\n")
        );
        assert!(s.contains("demo_http_request_duration_seconds_count{version=\"v1\"} 3\n"));
        assert!(s.contains("demo_draining{version=\"v1\"} 0\n"));
    }

    #[test]
    fn every_sample_line_is_well_formed() {
        let m = Metrics::default();
        m.observe(200, Duration::from_millis(1));
        for line in m.render("dev", true, 0.0).lines() {
            if line.starts_with('#') {
                assert!(line.starts_with("# HELP ") || line.starts_with("# TYPE "));
                continue;
            }
            let (name_labels, value) = line.rsplit_once(' ').unwrap();
            assert!(name_labels.starts_with("demo_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
