//! Environment configuration, validated up front.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Runtime settings of the demo app, read from the environment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    /// Address to bind (`BIND`, default `0.0.0.0`).
    pub(crate) bind: IpAddr,
    /// TCP port (`PORT`, default 8080).
    pub(crate) port: u16,
    /// Version string reported in the body, `X-Version` and metrics (`VERSION`, default `dev`).
    pub(crate) version: String,
    /// Share of requests (0..=1) answered 500, health and metrics paths excluded (`ERROR_RATE`).
    pub(crate) error_rate: f64,
    /// Delay added to every request except health and metrics (`LATENCY_MS`).
    pub(crate) latency: Duration,
    /// How long to keep serving after SIGTERM/SIGINT before exiting 0 (`DRAIN_SECONDS`, default 3).
    pub(crate) drain: Duration,
    /// How long an idle keep-alive connection is kept open (`IDLE_TIMEOUT_SECONDS`, default 120).
    pub(crate) idle_timeout: Duration,
    /// Exit with code 3 this long after starting, as a crashing build would (`EXIT_AFTER_MS`;
    /// unset: never). Swarm restarts the task: a crash loop.
    pub(crate) exit_after: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([0, 0, 0, 0]),
            port: 8080,
            version: "dev".to_owned(),
            error_rate: 0.0,
            latency: Duration::ZERO,
            drain: Duration::from_secs(3),
            // Longer than Traefik's backend idleConnTimeout (90s), so Traefik, not the
            // backend, closes idle connections: no race on a reused half-closed connection.
            idle_timeout: Duration::from_secs(120),
            exit_after: None,
        }
    }
}

/// A bad environment value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// Variable name.
    pub(crate) var: &'static str,
    /// Offending value.
    pub(crate) value: String,
    /// What is expected.
    pub(crate) expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.var, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

const MAX_LATENCY_MS: u64 = 600_000;
const MAX_DRAIN_SECONDS: f64 = 3600.0;

impl Config {
    /// Reads the configuration from the process environment.
    pub(crate) fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (an empty value counts as unset).
    pub(crate) fn from_lookup<F>(get: F) -> Result<Self, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let mut c = Self::default();
        if let Some(v) = get("BIND") {
            c.bind = v.trim().parse().map_err(|_| ConfigError {
                var: "BIND",
                value: v.clone(),
                expected: "an IP address such as 0.0.0.0 or 127.0.0.1",
            })?;
        }
        if let Some(v) = get("PORT") {
            c.port = match v.trim().parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    return Err(ConfigError {
                        var: "PORT",
                        value: v,
                        expected: "an integer in 1..=65535",
                    })
                }
            };
        }
        if let Some(v) = get("VERSION") {
            if !valid_version(&v) {
                return Err(ConfigError {
                    var: "VERSION",
                    value: v,
                    expected: "1 to 64 characters from [A-Za-z0-9._:+-]",
                });
            }
            c.version = v;
        }
        if let Some(v) = get("ERROR_RATE") {
            c.error_rate = match v.trim().parse::<f64>() {
                Ok(r) if r.is_finite() && (0.0..=1.0).contains(&r) => r,
                _ => {
                    return Err(ConfigError {
                        var: "ERROR_RATE",
                        value: v,
                        expected: "a number between 0 and 1 (e.g. 0.2 for 20%)",
                    })
                }
            };
        }
        if let Some(v) = get("LATENCY_MS") {
            c.latency = match v.trim().parse::<u64>() {
                Ok(ms) if ms <= MAX_LATENCY_MS => Duration::from_millis(ms),
                _ => {
                    return Err(ConfigError {
                        var: "LATENCY_MS",
                        value: v,
                        expected: "an integer number of milliseconds in 0..=600000",
                    })
                }
            };
        }
        if let Some(v) = get("EXIT_AFTER_MS") {
            c.exit_after = match v.trim().parse::<u64>() {
                Ok(ms) if ms <= MAX_LATENCY_MS => Some(Duration::from_millis(ms)),
                _ => {
                    return Err(ConfigError {
                        var: "EXIT_AFTER_MS",
                        value: v,
                        expected: "an integer number of milliseconds in 0..=600000",
                    })
                }
            };
        }
        if let Some(v) = get("DRAIN_SECONDS") {
            c.drain = parse_seconds(&v, MAX_DRAIN_SECONDS).ok_or(ConfigError {
                var: "DRAIN_SECONDS",
                value: v,
                expected: "a number of seconds in 0..=3600 (decimals allowed)",
            })?;
        }
        if let Some(v) = get("IDLE_TIMEOUT_SECONDS") {
            c.idle_timeout = match parse_seconds(&v, MAX_DRAIN_SECONDS) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    return Err(ConfigError {
                        var: "IDLE_TIMEOUT_SECONDS",
                        value: v,
                        expected: "a number of seconds in (0, 3600]",
                    })
                }
            };
        }
        Ok(c)
    }
}

fn parse_seconds(v: &str, max: f64) -> Option<Duration> {
    let s = v.trim().parse::<f64>().ok()?;
    if s.is_finite() && (0.0..=max).contains(&s) {
        Some(Duration::from_secs_f64(s))
    } else {
        None
    }
}

fn valid_version(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'+' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.port, 8080);
        assert_eq!(c.version, "dev");
        assert_eq!(c.drain, Duration::from_secs(3));
    }

    #[test]
    fn empty_means_default() {
        assert_eq!(
            cfg(&[("PORT", ""), ("VERSION", " ")]).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn good_values() {
        let c = cfg(&[
            ("PORT", "9000"),
            ("VERSION", "v2.1-rc1"),
            ("ERROR_RATE", "0.25"),
            ("LATENCY_MS", "15"),
            ("DRAIN_SECONDS", "0.5"),
            ("BIND", "127.0.0.1"),
        ])
        .unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.version, "v2.1-rc1");
        assert!((c.error_rate - 0.25).abs() < f64::EPSILON);
        assert_eq!(c.latency, Duration::from_millis(15));
        assert_eq!(c.drain, Duration::from_millis(500));
        assert_eq!(c.bind, IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn bad_values() {
        for (k, v) in [
            ("PORT", "0"),
            ("PORT", "70000"),
            ("PORT", "http"),
            ("ERROR_RATE", "1.5"),
            ("ERROR_RATE", "-0.1"),
            ("ERROR_RATE", "NaN"),
            ("ERROR_RATE", "20%"),
            ("LATENCY_MS", "-1"),
            ("LATENCY_MS", "1.5"),
            ("LATENCY_MS", "999999999"),
            ("DRAIN_SECONDS", "-3"),
            ("DRAIN_SECONDS", "inf"),
            ("VERSION", "v1 beta"),
            ("VERSION", "v\"1"),
            ("BIND", "localhost"),
            ("IDLE_TIMEOUT_SECONDS", "0"),
        ] {
            let e = cfg(&[(k, v)]).unwrap_err();
            assert_eq!(e.var, k);
            assert!(e.to_string().contains(k), "{e}");
        }
    }
}
