//! Where a rollout is ([`Phase`]) and what a person can ask of it ([`Command`]).

use serde::{Deserialize, Serialize};

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Phase {
    /// Not started: hooks and the canary service come next.
    Pending,
    /// Shifting traffic step by step.
    Progressing,
    /// Held by a person or by an inconclusive analysis.
    Paused,
    /// Stable is taking over the canary's version.
    Promoting,
    /// Done: stable runs the canary's version and has all traffic.
    Promoted,
    /// Taking the canary out of traffic and scaling it down.
    RollingBack,
    /// Done: the canary is out, stable untouched.
    RolledBack,
    /// Stopped on an error that needs a person; `cause` says which.
    Failed,
}

impl Phase {
    /// True for the phases a rollout ends in.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Promoted | Phase::RolledBack | Phase::Failed)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Phase::Pending => "pending",
            Phase::Progressing => "progressing",
            Phase::Paused => "paused",
            Phase::Promoting => "promoting",
            Phase::Promoted => "promoted",
            Phase::RollingBack => "rolling back",
            Phase::RolledBack => "rolled back",
            Phase::Failed => "failed",
        };
        f.write_str(s)
    }
}

/// A manual control, from this process or another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Command {
    /// Hold at the current step.
    Pause,
    /// Continue after a pause.
    Resume,
    /// Go to the next step now (promote after the last).
    Promote,
    /// Promote now, skipping the remaining steps and analysis.
    PromoteFull,
    /// Roll back now.
    Abort,
}

impl std::str::FromStr for Command {
    type Err = crate::error::Error;
    /// The words of the CLI and the bindings: `pause`, `resume`, `promote`, `promote-full`
    /// (`promoteFull`), `rollback` (`abort`).
    fn from_str(s: &str) -> crate::error::Result<Self> {
        Ok(match s {
            "pause" => Command::Pause,
            "resume" => Command::Resume,
            "promote" => Command::Promote,
            "promote-full" | "promoteFull" | "promote_full" => Command::PromoteFull,
            "rollback" | "abort" => Command::Abort,
            other => {
                return Err(crate::error::Error::invalid(
                    "command",
                    format!(
                        "{other:?} is not one of pause, resume, promote, promote-full, rollback"
                    ),
                ))
            }
        })
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Promote => "promote",
            Command::PromoteFull => "promote-full",
            Command::Abort => "rollback",
        })
    }
}

impl std::str::FromStr for Phase {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> crate::error::Result<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            crate::error::Error::invalid("phase", format!("{s:?} is not a rollout phase"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for c in [
            Command::Pause,
            Command::Resume,
            Command::Promote,
            Command::PromoteFull,
            Command::Abort,
        ] {
            assert_eq!(c.to_string().parse::<Command>().unwrap(), c);
        }
        assert!("yolo".parse::<Command>().is_err());
        assert_eq!("rollingBack".parse::<Phase>().unwrap(), Phase::RollingBack);
        assert!("done".parse::<Phase>().is_err());
    }
}
