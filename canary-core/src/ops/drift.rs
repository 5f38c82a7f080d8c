//! Drift: whether each app's stable still runs what it should, between rollouts. Three images are
//! compared per app:
//!
//! - what stable **runs** now (its service spec's image);
//! - what the last rollout **promoted** it to (the saved state's `promotedImages`, while the state
//!   says promoted);
//! - what the **compose file** names for the app's service (`services.<app>.image`), when the spec
//!   came from one.
//!
//! Stable differing from either is a [`Drift`], and the one stable runs is the one that **won**:
//! the promotion (the file was not updated, or was edited back), the file (a `docker stack
//! deploy` of a file that did not name the promotion undid it), the last `docker stack deploy`
//! (the file was edited since: the image `docker stack deploy` records in the service label
//! `com.docker.stack.image`), or none of them (someone's `docker service update`). Images are
//! compared by what they are, not how they are written: a tag, an image ID and a digest of the
//! same image are the same (resolved through [`Orchestrator::pin_image`]); an image that cannot
//! be resolved here is compared as text.
//!
//! During a rollout nothing is reported: stable's image changes on purpose while promoting.
//! `docker stack deploy` erases the saved state (it replaces the service's labels), so after one
//! the promotion is no longer known and only the file is compared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::compose::image_of;
use crate::engine::Status;
use crate::error::{with_timeout, Error, Result};
use crate::model::ImageRef;
pub use crate::model::{Drift, DriftAgainst, DriftWinner};
use crate::spec::Spec;
use crate::state::Phase;
use crate::traits::Orchestrator;

/// The label `docker stack deploy` puts on each service: the image the compose file named.
pub const STACK_IMAGE_LABEL: &str = "com.docker.stack.image";

/// A group's drift check: its spec, the orchestrator to resolve images, and the compose file the
/// spec came from (read again at every check: a person may edit it meanwhile).
#[derive(Debug, Clone)]
pub struct DriftCheck {
    spec: Spec,
    orchestrator: Arc<dyn Orchestrator>,
    compose: Option<PathBuf>,
}

impl DriftCheck {
    /// A check of `spec`'s group against its saved promotion only.
    pub fn new(spec: Spec, orchestrator: Arc<dyn Orchestrator>) -> Self {
        DriftCheck {
            spec,
            orchestrator,
            compose: None,
        }
    }

    /// Compares with compose file `path` too.
    #[must_use]
    pub fn compose_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.compose = Some(path.into());
        self
    }

    /// The group.
    pub fn group(&self) -> &str {
        self.spec.group.as_str()
    }

    /// The compose file compared with, if any.
    pub fn compose_path(&self) -> Option<&Path> {
        self.compose.as_deref()
    }

    /// The drift of the group as `status` shows it (its saved state and stable services).
    pub async fn check(&self, status: &Status) -> Result<Vec<Drift>> {
        let text = match &self.compose {
            Some(p) => Some(read_compose(p)?),
            None => None,
        };
        let name = self
            .compose
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let compose = text.as_deref().map(|t| (name.as_str(), t));
        drift(&self.spec, self.orchestrator.as_ref(), status, compose).await
    }
}

/// Reads a compose file, bounded like a spec file.
pub(crate) fn read_compose(path: &Path) -> Result<String> {
    let cannot = |e: std::io::Error| {
        Error::invalid(
            "",
            format!("cannot read compose file {}: {e}", path.display()),
        )
        .with_source(e)
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if meta.len() > crate::yaml::MAX_TEXT as u64 {
        return Err(Error::invalid(
            "",
            format!(
                "compose file {} is {} bytes; the limit is {}",
                path.display(),
                meta.len(),
                crate::yaml::MAX_TEXT
            ),
        ));
    }
    std::fs::read_to_string(path).map_err(cannot)
}

/// The drift of `spec`'s apps as `status` shows them, against the last promotion and, when
/// given, compose file `(name, text)` (see the module docs).
pub async fn drift(
    spec: &Spec,
    orchestrator: &dyn Orchestrator,
    status: &Status,
    compose: Option<(&str, &str)>,
) -> Result<Vec<Drift>> {
    if status
        .state
        .as_ref()
        .is_some_and(|s| !s.phase.is_terminal())
    {
        return Ok(Vec::new());
    }
    let promoted = status
        .state
        .as_ref()
        .filter(|s| s.phase == Phase::Promoted)
        .map(|s| &s.promoted_images);
    let mut images = Resolver {
        orchestrator,
        timeout: spec.timeouts.call.get(),
        known: BTreeMap::new(),
    };
    let mut out = Vec::new();
    for (app, r) in spec.apps.iter().zip(spec.app_refs()) {
        let Some(stable) = status.services.iter().find(|s| s.name == r.stable) else {
            continue;
        };
        let running = stable.image.as_str();
        let last = promoted.and_then(|p| p.get(app.name.as_str()));
        let declared = match compose {
            Some((_, text)) => match image_of(text, app.name.as_str()) {
                // Compose variables are expanded where the stack is deployed, not here.
                Ok(Some((image, line))) if !image.contains('$') => Some((image, line)),
                Ok(_) | Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let mut against = Vec::new();
        let off_promotion = match last {
            Some(p) => !images.same(running, p).await,
            None => false,
        };
        if off_promotion {
            against.push(DriftAgainst::Promotion);
        }
        let off_file = match &declared {
            Some((d, _)) => !images.same(running, d).await,
            None => false,
        };
        if off_file {
            against.push(DriftAgainst::File);
        }
        if against.is_empty() {
            continue;
        }
        let deployed = stable.labels.get(STACK_IMAGE_LABEL).cloned();
        let won = if last.is_some() && !off_promotion {
            DriftWinner::Promotion
        } else if declared.is_some() && !off_file {
            DriftWinner::File
        } else if match &deployed {
            Some(d) => images.same(running, d).await,
            None => false,
        } {
            DriftWinner::LastDeploy
        } else {
            DriftWinner::Other
        };
        let file = compose.map(|(n, _)| n).unwrap_or("the compose file");
        let message = describe(
            app.name.as_str(),
            running,
            last.map(String::as_str),
            declared.as_ref().map(|(d, l)| (d.as_str(), *l)),
            file,
            &against,
            won,
        );
        out.push(Drift {
            app: app.name.to_string(),
            service: r.stable.to_string(),
            running: running.to_string(),
            promoted: last.cloned(),
            declared: declared.as_ref().map(|(d, _)| d.clone()),
            declared_line: declared.as_ref().map(|(_, l)| *l),
            deployed,
            against,
            won,
            message,
        });
    }
    Ok(out)
}

fn describe(
    app: &str,
    running: &str,
    promoted: Option<&str>,
    declared: Option<(&str, usize)>,
    file: &str,
    against: &[DriftAgainst],
    won: DriftWinner,
) -> String {
    let mut s = format!("{app}: stable runs {running}");
    let off_promotion = against.contains(&DriftAgainst::Promotion);
    let off_file = against.contains(&DriftAgainst::File);
    if let (true, Some(p)) = (off_promotion, promoted) {
        s.push_str(&format!(", not the last promoted {p}"));
    }
    if let (true, Some((d, line))) = (off_file, declared) {
        s.push_str(&format!(
            "{} {file} names {d} (line {line})",
            if off_promotion { ", and" } else { " but" }
        ));
    }
    if let (DriftWinner::Promotion, Some((d, _))) = (won, declared) {
        s.push_str(&format!(
            "; the promotion won: the next `docker stack deploy` of the file puts stable back on \
             {d} unless the promotion is written into it"
        ));
        return s;
    }
    s.push_str(match won {
        DriftWinner::Promotion => "; the promotion won",
        DriftWinner::File => {
            "; the compose file won: a `docker stack deploy` of a file without the promotion \
             undid it"
        }
        DriftWinner::LastDeploy => {
            "; the last `docker stack deploy` won: the file was edited since, and its next \
             deploy changes stable"
        }
        DriftWinner::Other if off_file => {
            "; something else changed stable after the last `docker stack deploy`, and the next \
             deploy of the file replaces it"
        }
        DriftWinner::Other => "; something else changed stable",
    });
    s
}

/// Images compared by what they are; each resolved once per check.
struct Resolver<'a> {
    orchestrator: &'a dyn Orchestrator,
    timeout: std::time::Duration,
    known: BTreeMap<String, Option<String>>,
}

impl Resolver<'_> {
    /// Whether `a` and `b` name one image. When one cannot be resolved here (an image only
    /// other nodes have), their names are compared without the digests `docker stack deploy`
    /// appends (`api:v2@sha256:…` is `api:v2`); an image ID is only ever itself.
    async fn same(&mut self, a: &str, b: &str) -> bool {
        if a == b {
            return true;
        }
        match (self.identity(a).await, self.identity(b).await) {
            (Some(x), Some(y)) => x == y,
            _ => {
                let name = |s: &str| s.split('@').next().unwrap_or(s).to_string();
                !a.starts_with("sha256:") && !name(a).is_empty() && name(a) == name(b)
            }
        }
    }

    /// The content hash an image reference comes to here: its image ID or digest.
    async fn identity(&mut self, image: &str) -> Option<String> {
        if let Some(k) = self.known.get(image) {
            return k.clone();
        }
        let parsed = ImageRef::parse(image).ok();
        let resolved = match &parsed {
            Some(r) => with_timeout(
                "resolve image",
                self.timeout,
                self.orchestrator.pin_image(r),
            )
            .await
            .ok(),
            None => None,
        };
        let key = match (resolved, parsed) {
            (Some(p), _) => Some(content_hash(p.as_str())),
            // Not here (another node's image, say): a digest still says what it is.
            (None, Some(r)) if r.is_pinned() => Some(content_hash(r.as_str())),
            _ => None,
        };
        self.known.insert(image.to_string(), key.clone());
        key
    }
}

/// `sha256:…` of an image ID or of a digest reference (`repo@sha256:…`, `repo:tag@sha256:…`).
fn content_hash(pinned: &str) -> String {
    pinned
        .rsplit_once('@')
        .map_or(pinned, |(_, d)| d)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hashes() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(content_hash(d), d);
        assert_eq!(content_hash(&format!("r:5000/a@{d}")), d);
        assert_eq!(content_hash(&format!("r:5000/a:v2@{d}")), d);
    }

    #[test]
    fn messages_say_who_won() {
        let m = describe(
            "api",
            "sha256:f46b",
            Some("sha256:f46b"),
            Some(("api:v1", 12)),
            "docker-compose.yml",
            &[DriftAgainst::File],
            DriftWinner::Promotion,
        );
        assert_eq!(
            m,
            "api: stable runs sha256:f46b but docker-compose.yml names api:v1 (line 12); the \
             promotion won: the next `docker stack deploy` of the file puts stable back on \
             api:v1 unless the promotion is written into it"
        );
        let m = describe(
            "api",
            "api:v1",
            Some("sha256:f46b"),
            Some(("api:v1", 12)),
            "c.yml",
            &[DriftAgainst::Promotion],
            DriftWinner::File,
        );
        assert!(
            m.starts_with(
                "api: stable runs api:v1, not the last promoted sha256:f46b; the compose file won"
            ),
            "{m}"
        );
        let m = describe(
            "api",
            "api:v9",
            Some("sha256:f46b"),
            Some(("api:v1", 3)),
            "c.yml",
            &[DriftAgainst::Promotion, DriftAgainst::File],
            DriftWinner::Other,
        );
        assert!(
            m.contains(", not the last promoted sha256:f46b, and c.yml names api:v1 (line 3); something else changed stable after"),
            "{m}"
        );
    }
}
