//! Writing a promotion back into the compose file the spec came from, so the file stays the
//! source of truth: the next `docker stack deploy` of it keeps the promoted version instead of
//! silently putting stable back.
//!
//! After a promotion each promoted app's service (`services.<app>.image`, the stable service in
//! both layouts; never `<app>-canary`) gets the promoted image and nothing else of the file
//! changes ([`crate::compose::set_images`]). What is written ([`WrittenAs`]):
//!
//! - a **registry digest** (`repo@sha256:…`), the promoted reference as it is: every node pulls
//!   the same bytes;
//! - for a **local image** (promoted by image ID, `sha256:…`, which `docker stack deploy` cannot
//!   pull by that name on other nodes and which reads badly in a file): the canary's image as the
//!   spec named it (`api:v2`) when that tag still resolves to the promoted ID here;
//! - else the **image ID** itself (the tag moved since): exact, though only on nodes that have it.
//!
//! The file is replaced atomically (a temporary file beside it, then a rename), keeping its
//! permissions and owner; a file changed by someone else since it was read is left alone
//! ([`Error::Conflict`]). With [`WriteBackOptions::dry_run`] nothing is written and the
//! [`WriteBack::patch`] says what would change.

use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::compose::{is_compose, set_images};
use crate::engine::Deps;
use crate::error::{with_timeout, Error, Result};
use crate::model::ImageRef;
use crate::ops::drift::read_compose;
use crate::spec::Spec;
use crate::state::{Phase, RolloutState};

/// How a promoted image was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum WrittenAs {
    /// The registry digest reference that was promoted.
    Digest,
    /// The canary's image as the spec named it, which still resolves to the promoted image ID.
    Tag,
    /// The promoted image ID (local only: no tag of the spec names it any more).
    Id,
}

/// One app's image in the compose file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageWrite {
    /// The app.
    pub app: String,
    /// Its compose service (`services.<service>.image`).
    pub service: String,
    /// The pinned image stable was promoted to.
    pub promoted: String,
    /// The image written.
    pub image: String,
    /// How.
    pub written_as: WrittenAs,
    /// The image the file had.
    pub previous: String,
    /// The 1-based line of the value.
    pub line: usize,
    /// False when the file already named `image`.
    pub changed: bool,
}

/// What writing a promotion back did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteBack {
    /// The compose file.
    pub file: String,
    /// True when the file on disk was changed.
    pub written: bool,
    /// Each promoted app's image.
    pub images: Vec<ImageWrite>,
    /// The change as a unified diff (`--- a/<file>`; for `git apply` or `patch -p1`), empty when
    /// the file already named every image.
    pub patch: String,
}

/// How to write back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct WriteBackOptions {
    /// Change nothing; the patch says what would change.
    pub dry_run: bool,
}

impl WriteBackOptions {
    /// Only the patch, nothing written.
    #[must_use]
    pub fn dry_run(mut self, dry: bool) -> Self {
        self.dry_run = dry;
        self
    }
}

/// Writes the promotion saved for `spec`'s group into compose file `path` (see the module docs).
/// An error when the saved rollout is not promoted, the file is not a compose file with
/// `x-canary`, an image cannot be set (variables, a shared anchor; named at its line), or the
/// file changed meanwhile.
pub async fn write_back(
    spec: &Spec,
    deps: &Deps,
    path: &Path,
    options: &WriteBackOptions,
) -> Result<WriteBack> {
    let text = read_compose(path)?;
    if !is_compose(&text) {
        return Err(Error::invalid(
            "",
            format!(
                "{} is not a compose file with x-canary settings: promotions are written back \
                 only to compose files",
                path.display()
            ),
        ));
    }
    let call = spec.timeouts.call.get();
    let state = with_timeout(
        "load state",
        call,
        deps.store.load(&spec.group, &spec.app_refs()),
    )
    .await?
    .map(|v| v.state)
    .ok_or_else(|| {
        Error::conflict(format!(
            "no rollout of {} is recorded: nothing to write back",
            spec.group
        ))
    })?;
    if state.phase != Phase::Promoted {
        return Err(Error::conflict(format!(
            "the rollout of {} is {}, not promoted: nothing to write back",
            spec.group, state.phase
        )));
    }
    let mut chosen: Vec<(String, String, ImageRef, WrittenAs)> = Vec::new();
    for app in &spec.apps {
        let Some(promoted) = state.promoted_images.get(app.name.as_str()) else {
            continue;
        };
        let promoted_ref = ImageRef::parse(promoted)?;
        let (image, how) = choose(spec, deps, &state, app, &promoted_ref).await;
        chosen.push((app.name.to_string(), promoted.clone(), image, how));
    }
    if chosen.is_empty() {
        return Err(Error::conflict(format!(
            "the promotion of {} saved no image of this spec's apps: nothing to write back",
            spec.group
        )));
    }
    let pairs: Vec<(&str, &ImageRef)> = chosen
        .iter()
        .map(|(service, _, image, _)| (service.as_str(), image))
        .collect();
    let edits = set_images(&text, &pairs)?;
    let images = chosen
        .iter()
        .zip(edits.edits())
        .map(|((service, promoted, image, how), e)| ImageWrite {
            app: service.clone(),
            service: service.clone(),
            promoted: promoted.clone(),
            image: image.to_string(),
            written_as: *how,
            previous: e.old_image().to_string(),
            line: e.line(),
            changed: !e.is_noop(),
        })
        .collect();
    let file = patch_name(path);
    let patch = edits.patch(&file);
    let written = !options.dry_run && !edits.is_noop();
    if written {
        write_atomic(path, &text, edits.text())?;
    }
    Ok(WriteBack {
        file: path.display().to_string(),
        written,
        images,
        patch,
    })
}

/// What to write for `app`, promoted to `promoted` (see the module docs).
async fn choose(
    spec: &Spec,
    deps: &Deps,
    state: &RolloutState,
    app: &crate::spec::AppSpec,
    promoted: &ImageRef,
) -> (ImageRef, WrittenAs) {
    if promoted.as_str().contains('@') {
        return (promoted.clone(), WrittenAs::Digest);
    }
    if !promoted.as_str().starts_with("sha256:") {
        return (promoted.clone(), WrittenAs::Tag);
    }
    // The canary's image as the rollout named it (the state keeps it, with ` env:<hash>` when
    // the canary had extra env), else as the spec names it now.
    let named = state
        .canary_images
        .get(app.name.as_str())
        .and_then(|n| ImageRef::parse(n.split(" env:").next().unwrap_or(n)).ok())
        .unwrap_or_else(|| app.image.clone());
    if named.is_pinned() {
        return (promoted.clone(), WrittenAs::Id);
    }
    let now = with_timeout(
        "resolve image",
        spec.timeouts.call.get(),
        deps.orchestrator.pin_image(&named),
    )
    .await;
    match now {
        Ok(p) if p == *promoted => (named, WrittenAs::Tag),
        _ => (promoted.clone(), WrittenAs::Id),
    }
}

/// The file's name in a patch: the path as given when relative (`git apply` from where the
/// command ran), its file name when absolute (`patch -p1` in its directory).
fn patch_name(path: &Path) -> String {
    let name = if path.is_absolute() {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        path.display().to_string()
    };
    name.strip_prefix("./").unwrap_or(&name).to_string()
}

/// Replaces `path` (through symlinks) with `text` atomically, keeping its permissions and (when
/// allowed) its owner; refuses when the file no longer holds `original`.
fn write_atomic(path: &Path, original: &str, text: &str) -> Result<()> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        Error::unavailable(format!("cannot {what} {}: {e}", p.display())).with_source(e)
    };
    let real = std::fs::canonicalize(path).map_err(|e| io("find", path, e))?;
    let meta = std::fs::metadata(&real).map_err(|e| io("read", &real, e))?;
    let dir = real.parent().unwrap_or(Path::new("."));
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "compose.yml".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{name}.canary-{}-{nanos}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io("create", &tmp, e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| io("write", &tmp, e))?;
        f.sync_all().map_err(|e| io("sync", &tmp, e))?;
        drop(f);
        std::fs::set_permissions(&tmp, meta.permissions())
            .map_err(|e| io("set the permissions of", &tmp, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // Only root may give a file away; anyone else writes a file of their own, as an
            // editor would.
            let _ = std::os::unix::fs::chown(&tmp, Some(meta.uid()), Some(meta.gid()));
        }
        // A last look: an edit made while the rollout ran must not be lost.
        let now = std::fs::read_to_string(&real).map_err(|e| io("read", &real, e))?;
        if now != original {
            return Err(Error::conflict(format!(
                "{} changed while the promotion was written; nothing was written (run again, or \
                 apply the patch)",
                path.display()
            )));
        }
        std::fs::rename(&tmp, &real).map_err(|e| io("replace", &real, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
