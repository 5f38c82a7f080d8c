//! Image builds: the context directory is packed into a tar archive in memory (pure Rust, no
//! `docker` binary) and sent to the daemon's classic builder; its output is streamed back.
//!
//! The whole directory is sent, symlinks as symlinks; `.dockerignore` is not read, so keep the
//! context small (the seed's contexts are one app directory each).

use std::path::Path;

use bollard::query_parameters::BuildImageOptions;
use bollard::Docker;
use canary_core::traits::{BuildEvent, BuildRequest};
use canary_core::{Error, Result};
use futures::stream::{BoxStream, StreamExt};

use crate::error::{docker_error, Object};

/// The context directory as an uncompressed tar archive.
pub(crate) fn pack_context(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    // Like the Docker CLI: a symlink in the context is sent as a link, not as its target.
    archive.follow_symlinks(false);
    archive.append_dir_all("", dir)?;
    archive.into_inner()
}

/// Starts a build and returns its output as a stream that ends with [`BuildEvent::Built`], or
/// with an [`Error::Rejected`] carrying Docker's words when the build fails.
pub(crate) async fn build(
    docker: Docker,
    request: BuildRequest,
) -> Result<BoxStream<'static, Result<BuildEvent>>> {
    let dir = request.context.clone();
    if !dir.is_dir() {
        return Err(Error::invalid(
            "context",
            format!("{} is not a directory", dir.display()),
        ));
    }
    if !dir.join(&request.dockerfile).is_file() {
        return Err(Error::invalid(
            "dockerfile",
            format!("{} has no file {}", dir.display(), request.dockerfile),
        ));
    }
    let tar = tokio::task::spawn_blocking(move || pack_context(&dir))
        .await
        .map_err(|e| {
            Error::internal(format!("packing the build context panicked: {e}")).with_source(e)
        })?
        .map_err(|e| {
            Error::invalid(
                "context",
                format!("cannot read {}: {e}", request.context.display()),
            )
        })?;
    let options = BuildImageOptions {
        dockerfile: request.dockerfile.clone(),
        t: Some(request.tag.to_string()),
        rm: true,
        forcerm: true,
        buildargs: (!request.args.is_empty()).then(|| request.args.clone().into_iter().collect()),
        ..Default::default()
    };

    // bollard's build stream borrows its client; a task owns a clone and forwards the events, so
    // the caller gets a 'static stream. Dropping the stream ends the task at its next event.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<BuildEvent>>(64);
    tokio::spawn(async move {
        let mut events = docker.build_image(options, None, Some(bollard::body_full(tar.into())));
        let mut id: Option<String> = None;
        while let Some(item) = events.next().await {
            let info = match item {
                Ok(info) => info,
                Err(e) => {
                    let _ = tx.send(Err(rejected(docker_error(e, Object::None)))).await;
                    return;
                }
            };
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                let _ = tx.send(Err(Error::rejected("docker", message))).await;
                return;
            }
            if let Some(aux) = info.aux.and_then(|a| a.id) {
                id = Some(aux);
            }
            let text = info.stream.or(info.status).unwrap_or_default();
            for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                if tx
                    .send(Ok(BuildEvent::Output(line.to_string())))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        let end = match id {
            Some(id) => Ok(BuildEvent::Built(id)),
            None => Err(Error::internal("the build ended without naming an image")),
        };
        let _ = tx.send(end).await;
    });
    Ok(
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })
            .boxed(),
    )
}

/// A build's failure is Docker refusing what it was given (a bad Dockerfile, a missing file):
/// [`Error::Rejected`], unless the daemon was simply unreachable.
fn rejected(e: Error) -> Error {
    match e {
        Error::Unavailable { .. } | Error::Rejected { .. } => e,
        other => Error::rejected("docker", other.to_string()).with_cause(other.cause().cloned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_packed_with_relative_paths() {
        let dir = std::env::temp_dir().join(format!("canary-swarm-pack-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY hello.txt /\n").unwrap();
        std::fs::write(dir.join("sub/hello.txt"), "hi").unwrap();
        let tar = pack_context(&dir).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, vec!["Dockerfile", "sub", "sub/hello.txt"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
