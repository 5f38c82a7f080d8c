//! Where the router puts a group's config for Traefik to load: a file in the file provider's
//! directory (one Traefik, or several sharing the directory), or keys in etcd that every Traefik
//! replica's etcd provider watches ([`crate::kv`]). Both take the same rendered config and write
//! it whole or not at all.

use std::path::{Path, PathBuf};

use canary_core::{Error, Result, ServiceName};

use crate::dynamic::DynamicConfig;
use crate::kv::EtcdStore;
use crate::provider::RouteProvider;

/// The writer of the group configs.
#[derive(Debug)]
pub(super) enum Store {
    /// `<dir>/canary-<group>.yml`.
    File(PathBuf),
    /// The group's keys in etcd.
    Etcd(EtcdStore),
}

impl Store {
    /// The Traefik provider that loads what this store writes.
    pub(super) fn provider(&self) -> RouteProvider {
        match self {
            Store::File(_) => RouteProvider::File,
            Store::Etcd(_) => RouteProvider::Etcd,
        }
    }

    /// The file of a group (file store only).
    pub(super) fn file_path(&self, group: &ServiceName) -> Result<PathBuf> {
        match self {
            Store::File(dir) => Ok(dir.join(crate::names::file_name(group)?)),
            Store::Etcd(s) => Err(Error::invalid(
                "router",
                format!(
                    "this router writes to etcd at {} (key {}), not to a file",
                    s.url(),
                    s.index_key(group)
                ),
            )),
        }
    }

    /// Where a group's config lives, for messages.
    pub(super) fn location(&self, group: &ServiceName) -> String {
        match self {
            Store::File(_) => self
                .file_path(group)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|e| e.to_string()),
            Store::Etcd(s) => format!("etcd {} key {}", s.url(), s.index_key(group)),
        }
    }

    /// Writes `config` (whose YAML text is `text`) unless it is already in place; the previous
    /// text, if any.
    pub(super) async fn write(
        &self,
        group: &ServiceName,
        config: &DynamicConfig,
        text: &str,
    ) -> Result<Option<String>> {
        match self {
            Store::File(dir) => {
                let path = self.file_path(group)?;
                let previous = read_file(&path).await?;
                if previous.as_deref() != Some(text) {
                    write_atomic(dir, &path, text).await?;
                }
                Ok(previous)
            }
            Store::Etcd(s) => s.write_group(group, Some((config, text))).await,
        }
    }

    /// Puts `previous` back (after Traefik refused what replaced it), or removes the group's
    /// config when there was none.
    pub(super) async fn restore(&self, group: &ServiceName, previous: Option<&str>) -> Result<()> {
        match previous {
            Some(text) => {
                let config = DynamicConfig::from_yaml(text)?;
                self.write(group, &config, text).await.map(|_| ())
            }
            None => self.remove(group).await.map(|_| ()),
        }
    }

    /// Removes the group's config; its text, if there was one.
    pub(super) async fn remove(&self, group: &ServiceName) -> Result<Option<String>> {
        match self {
            Store::File(_) => {
                let path = self.file_path(group)?;
                let previous = read_file(&path).await?;
                if previous.is_some() {
                    match tokio::fs::remove_file(&path).await {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(Error::unavailable(format!(
                                "cannot remove {}: {e}",
                                path.display()
                            )))
                        }
                    }
                }
                Ok(previous)
            }
            Store::Etcd(s) => s.write_group(group, None).await,
        }
    }

    /// Whether the store can be reached (etcd answers; a directory exists).
    pub(super) async fn reachable(&self) -> Result<()> {
        match self {
            Store::File(dir) => match tokio::fs::metadata(dir).await {
                Ok(m) if m.is_dir() => Ok(()),
                _ => Err(Error::unavailable(format!(
                    "the file-provider directory {} does not exist",
                    dir.display()
                ))),
            },
            Store::Etcd(s) => s.reachable().await,
        }
    }
}

async fn read_file(path: &Path) -> Result<Option<String>> {
    match tokio::fs::read_to_string(path).await {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::unavailable(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// A dot-file in the same directory, synced, renamed into place: Traefik's file provider rereads on
/// any event, and must never see a half-written or empty file.
async fn write_atomic(dir: &Path, path: &Path, text: &str) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("canary.yml");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // A dot-file not ending in .yml: Traefik's file provider ignores it until the rename.
    let tmp = dir.join(format!(".{file_name}.{}.{nanos}.tmp", std::process::id()));
    let io = |e: std::io::Error, what: &str, p: &Path| {
        Error::unavailable(format!("cannot {what} {}: {e}", p.display())).with_source(e)
    };
    let result = async {
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io(e, "create", &tmp))?;
        f.write_all(text.as_bytes())
            .await
            .map_err(|e| io(e, "write", &tmp))?;
        f.sync_all().await.map_err(|e| io(e, "sync", &tmp))?;
        drop(f);
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(|e| io(e, "rename into", path))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}
