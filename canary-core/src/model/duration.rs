//! [`HumanDuration`]: durations as people write them (`500ms`, `30s`, `5m`, `1h`).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::reason_of;
use crate::error::{Error, Result};

/// A duration written as `500ms`, `30s`, `5m`, `1h`, `1d` or `1m30s` (a bare number means
/// seconds), at most [`HumanDuration::MAX`]: every duration a person gives canary is bounded, so
/// no wait can overflow a clock or outlive the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The longest duration accepted from text: 7 days.
    pub const MAX: Duration = Duration::from_secs(7 * 24 * 3600);

    /// Parses the text form; anything above [`HumanDuration::MAX`] is refused.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Error::invalid("", "a duration cannot be empty"));
        }
        if t.len() > 64 {
            return Err(Error::invalid("", "a duration has at most 64 characters"));
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<u64>() {
                Ok(secs) => Self::checked(Duration::from_secs(secs.min(u64::MAX / 2)), s),
                Err(_) => Err(too_long(s)),
            };
        }
        let mut total_ms = 0f64;
        let mut rest = t;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| {
                    Error::invalid("", format!("duration {s:?} lacks a unit (ms, s, m, h, d)"))
                })?;
            if num_len == 0 {
                return Err(Error::invalid(
                    "",
                    format!("duration {s:?} is not like 30s, 5m, 500ms"),
                ));
            }
            let n: f64 = rest[..num_len]
                .parse()
                .map_err(|_| Error::invalid("", format!("duration {s:?} has a bad number")))?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let ms = match unit {
                "ms" => 1.0,
                "s" => 1e3,
                "m" => 60e3,
                "h" => 3600e3,
                "d" => 86_400e3,
                other => {
                    return Err(Error::invalid(
                        "",
                        format!("duration {s:?} has unknown unit {other:?} (use ms, s, m, h or d)"),
                    ))
                }
            };
            total_ms += n * ms;
            if !total_ms.is_finite() || total_ms > Self::MAX.as_millis() as f64 {
                return Err(too_long(s));
            }
        }
        Self::checked(Duration::from_micros((total_ms * 1000.0).round() as u64), s)
    }

    fn checked(d: Duration, text: &str) -> Result<Self> {
        if d > Self::MAX {
            return Err(too_long(text));
        }
        Ok(HumanDuration(d))
    }

    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

fn too_long(s: &str) -> Error {
    Error::invalid(
        "",
        format!(
            "duration {:?} is above the limit of 7d",
            s.chars().take(40).collect::<String>()
        ),
    )
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        HumanDuration(d)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            write!(f, "{ms}ms")
        } else if ms.is_multiple_of(86_400_000) && ms > 0 {
            write!(f, "{}d", ms / 86_400_000)
        } else if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else {
            write!(f, "{}s", ms / 1000)
        }
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => HumanDuration::checked(Duration::from_secs(n), &n.to_string())
                .map_err(|e| serde::de::Error::custom(reason_of(&e))),
            Raw::Text(t) => {
                HumanDuration::parse(&t).map_err(|e| serde::de::Error::custom(reason_of(&e)))
            }
        }
    }
}

impl JsonSchema for HumanDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: 500ms, 30s, 5m, 1h, 1d, 1m30s, or a number of seconds; at most 7d.",
            "oneOf": [
                {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$", "maxLength": 64},
                {"type": "integer", "minimum": 0, "maximum": 604800}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s| HumanDuration::parse(s).unwrap().get();
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("1m30s"), Duration::from_secs(90));
        assert_eq!(d("2h"), Duration::from_secs(7200));
        assert_eq!(d("15"), Duration::from_secs(15));
        assert_eq!(d("7d"), HumanDuration::MAX);
        assert_eq!(d("1.5s"), Duration::from_millis(1500));
        assert_eq!(d("604800"), HumanDuration::MAX);
        for bad in [
            "",
            "s",
            "10x",
            "1.2.3s",
            "ten",
            "99999999999999999999s",
            "18446744073709551615s",
            "18446744073709551616",
            "604801",
            "7d1ms",
            "1e308s",
            "inf",
            "NaNs",
            "-1s",
        ] {
            assert!(HumanDuration::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(HumanDuration(Duration::from_secs(90)).to_string(), "90s");
        assert_eq!(HumanDuration(Duration::from_secs(120)).to_string(), "2m");
        assert_eq!(
            HumanDuration(Duration::from_millis(1500)).to_string(),
            "1500ms"
        );
    }
}
