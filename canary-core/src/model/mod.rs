//! Validated values and the plain data every layer shares: a value of these types is always good,
//! so the engine and the implementations never check them again. Each one rejects bad input when
//! built or deserialized.
//!
//! | module | owns |
//! |---|---|
//! | `names` | [`ServiceName`], [`HeaderName`], [`RuleValue`], [`RuleRegex`], [`CookieName`], [`CookieValue`] |
//! | `image` | [`ImageRef`] |
//! | `weight` | [`Weight`], [`TrafficSplit`], [`ReplicaPlan`], [`StepPlan`] |
//! | `duration` | [`HumanDuration`] |
//! | `app` | [`Track`], [`AppRef`] |
//! | `build` | [`BuildRequest`], [`BuildEvent`] |
//! | `report` | the analysis results ([`AnalysisReport`] and its parts) |
//! | `phase` | [`Phase`], [`Command`] |
//! | `event` | [`Event`], [`EventKind`] |
//! | `service` | [`NewService`]: a service to create from scratch |

mod app;
mod build;
mod drift;
mod duration;
mod event;
mod image;
mod names;
mod phase;
mod report;
mod service;
mod weight;

pub use app::{AppRef, Track};
pub use build::{BuildEvent, BuildRequest};
pub use drift::{Drift, DriftAgainst, DriftWinner};
pub use duration::HumanDuration;
pub use event::{Event, EventKind};
pub use image::ImageRef;
pub use names::{CookieName, CookieValue, HeaderName, RuleRegex, RuleValue, ServiceName};
pub use phase::{Command, Phase};
pub use report::{AnalysisReport, CheckResult, Classification, JudgeReport, JudgedMetric, Verdict};
pub use service::{
    check_replicas, BindMount, EndpointMode, HostPort, NewService, MAX_REPLICAS,
    MAX_REPLICAS_CEILING, STACK_NAMESPACE_LABEL,
};
pub use weight::{ReplicaPlan, StepPlan, TrafficSplit, Weight};

use crate::error::Error;

/// Implements `Display`, `FromStr`, `AsRef<str>`, serde (as a validated string) and `JsonSchema` for
/// a string newtype with a `parse(&str) -> Result<Self>` constructor.
macro_rules! string_newtype {
    ($ty:ident, $schema:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                Self::parse(&s)
            }
        }
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(|e| serde::de::Error::custom(reason_of(&e)))
            }
        }
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
        impl $ty {
            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(crate) use string_newtype;

/// The reason text of an [`Error::InvalidInput`] (without the field), used inside serde errors so
/// the path is added once, by the spec loader.
pub(crate) fn reason_of(e: &Error) -> String {
    match e {
        Error::InvalidInput { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}
