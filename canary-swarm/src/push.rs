//! Pushing an image to its registry, with the credentials the Docker CLI would use: the
//! `auths` entry of `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`) for the image's
//! registry host, sent to the daemon as the `X-Registry-Auth` header.
//!
//! Credentials never leave this module except in that header: [`RegistryAuth`]'s `Debug` shows
//! no secret, and every error message is scrubbed of the password, token and `auth` text before it
//! is returned (a daemon or registry could echo them). Credential helpers (`credsStore`,
//! `credHelpers`, e.g. `docker-credential-pass`) are not run: a registry configured only through
//! one is pushed to without credentials, with a warning that says so.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE};
use base64::Engine as _;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptions;
use bollard::Docker;
use canary_core::{Error, ImageRef, Result};
use futures::StreamExt;
use serde_json::Value;

/// Docker Hub's key in `config.json`, for images without a registry host.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// The registry host of an image reference (`10.213.0.1:5000` of `10.213.0.1:5000/app:v2`), or
/// `None` for Docker Hub images (`app:v2`, `team/app`): like the Docker CLI, the first path
/// component is a host when it has a `.` or a `:`, or is `localhost`.
pub(crate) fn registry_host(image: &str) -> Option<&str> {
    let (first, rest) = image.split_once('/')?;
    if rest.is_empty() {
        return None;
    }
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// Credentials for one registry. `Debug` never shows a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    server: String,
    username: Option<String>,
    password: Option<String>,
    identity_token: Option<String>,
    /// The `auth` text as found (base64 `user:password`), to scrub from messages.
    raw_auth: Option<String>,
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl RegistryAuth {
    /// The registry these credentials are for, as written in `config.json`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// `text` with every secret of these credentials replaced by `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in [&self.password, &self.identity_token, &self.raw_auth]
            .into_iter()
            .flatten()
            .filter(|s| s.len() >= 3)
        {
            out = out.replace(secret.as_str(), "<redacted>");
        }
        out
    }

    /// The `X-Registry-Auth` value of service create and update: the credentials as JSON,
    /// base64url-encoded, as the Docker CLI sends them with `--with-registry-auth`.
    pub(crate) fn header(&self) -> String {
        let mut m = serde_json::Map::new();
        for (k, v) in [
            ("username", &self.username),
            ("password", &self.password),
            ("identitytoken", &self.identity_token),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v.clone()));
            }
        }
        m.insert("serveraddress".into(), Value::String(self.server.clone()));
        URL_SAFE.encode(Value::Object(m).to_string())
    }

    pub(crate) fn credentials(&self) -> DockerCredentials {
        DockerCredentials {
            username: self.username.clone(),
            password: self.password.clone(),
            identitytoken: self.identity_token.clone(),
            serveraddress: Some(self.server.clone()),
            ..Default::default()
        }
    }
}

/// The Docker CLI's config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub(crate) fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// `https://host:5000/v1/` → `host:5000`: how the Docker CLI matches `auths` keys to a host.
fn normalize_server(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// The credentials `config` (the text of `config.json`) holds for the registry of `image`;
/// `Ok(None)` when it holds none. A file that is not JSON, or an entry that does not decode, is
/// an error that names the file and the registry, never the secret.
pub fn auth_for(config: &str, file: &Path, image: &str) -> Result<Option<RegistryAuth>> {
    let host = registry_host(image);
    let v: Value = serde_json::from_str(config).map_err(|e| {
        Error::invalid(
            "dockerConfig",
            format!(
                "{} is not JSON (line {}, column {})",
                file.display(),
                e.line(),
                e.column()
            ),
        )
    })?;
    let want = host.unwrap_or("index.docker.io");
    let auths = v.get("auths").and_then(Value::as_object);
    let entry = auths.and_then(|a| {
        a.iter().find(|(k, _)| match host {
            Some(h) => normalize_server(k) == h,
            None => *k == DOCKER_HUB || normalize_server(k) == "index.docker.io",
        })
    });
    let Some((server, entry)) = entry else {
        let helper = v
            .get("credHelpers")
            .and_then(Value::as_object)
            .is_some_and(|h| h.keys().any(|k| normalize_server(k) == want))
            || v.get("credsStore").and_then(Value::as_str).is_some();
        if helper {
            tracing::warn!(
                registry = want,
                file = %file.display(),
                "credential helpers are not supported; pushing without credentials"
            );
        }
        return Ok(None);
    };
    let text = |k: &str| {
        entry
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let bad = |why: &str| {
        Error::invalid(
            "dockerConfig",
            format!("{}: the entry for {server} {why}", file.display()),
        )
    };
    let raw_auth = text("auth");
    let (mut username, mut password) = (text("username"), text("password"));
    if let Some(a) = &raw_auth {
        let decoded = B64
            .decode(a.trim())
            .map_err(|_| bad("has an auth value that is not base64"))?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| bad("has an auth value that is not UTF-8"))?;
        let (u, p) = decoded
            .split_once(':')
            .ok_or_else(|| bad("has an auth value that is not user:password"))?;
        username = Some(u.to_string());
        password = Some(p.to_string());
    }
    let identity_token = text("identitytoken");
    if username.is_none() && identity_token.is_none() {
        return Ok(None);
    }
    Ok(Some(RegistryAuth {
        server: server.clone(),
        username,
        password,
        identity_token,
        raw_auth,
    }))
}

/// The credentials of the Docker CLI's config file for `image`'s registry, if it has some.
pub fn docker_config_auth(image: &str) -> Result<Option<RegistryAuth>> {
    let Some(path) = config_path() else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => auth_for(&text, &path, image),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::invalid(
            "dockerConfig",
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

/// The `X-Registry-Auth` header for a service that runs `image`, when the Docker CLI's config
/// holds credentials for its registry: without it, nodes other than the one that holds the image
/// cannot pull it from a registry that wants a login.
pub(crate) fn service_auth_header(image: &str) -> Result<Option<String>> {
    Ok(docker_config_auth(image)?.map(|a| a.header()))
}

/// Pushes `image` (`registry/repo:tag`) with `auth`; every failure is [`Error::Rejected`] by
/// docker, or [`Error::Unavailable`] when the daemon cannot be reached, with secrets scrubbed.
pub(crate) async fn push(
    docker: &Docker,
    image: &ImageRef,
    auth: Option<&RegistryAuth>,
) -> Result<()> {
    let text = image.as_str();
    if image.is_pinned() {
        return Err(Error::invalid(
            "image",
            format!("{text} is an ID or a digest; push a repo:tag"),
        ));
    }
    if registry_host(text).is_none() {
        return Err(Error::invalid(
            "image",
            format!(
                "{text} names no registry host; tag it registry:port/name:tag (e.g. 10.213.0.1:5000/app:v2) so every node can pull it"
            ),
        ));
    }
    let (repo, tag) = match text.rfind(':') {
        Some(i) if !text[i + 1..].contains('/') => (&text[..i], &text[i + 1..]),
        _ => (text, "latest"),
    };
    let scrub = |m: String| match auth {
        Some(a) => a.scrub(&m),
        None => m,
    };
    let options = PushImageOptions {
        tag: Some(tag.to_string()),
        ..Default::default()
    };
    let mut stream = docker.push_image(repo, Some(options), auth.map(RegistryAuth::credentials));
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(status) = info.status {
                    tracing::debug!(image = text, "{}", scrub(status));
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                return Err(Error::rejected(
                    "docker",
                    scrub(format!("push of {text}: {error}")),
                ));
            }
            Err(e) => {
                let e = crate::error::docker_error(e, crate::error::Object::Image(text));
                // New errors, without bollard's as their cause: its words are not scrubbed.
                return Err(match e {
                    Error::Unavailable { message: m, .. } => Error::unavailable(scrub(m)),
                    other => Error::rejected("docker", scrub(format!("push of {text}: {other}"))),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-Pa55";

    fn config() -> String {
        let auth = B64.encode(format!("ci:{SECRET}"));
        format!(
            r#"{{"auths": {{"https://10.213.0.1:5000/v1/": {{"auth": "{auth}"}},
                 "registry.example:443": {{"username": "u", "password": "{SECRET}"}},
                 "https://index.docker.io/v1/": {{"identitytoken": "{SECRET}"}}}},
               "credHelpers": {{"gcr.io": "gcloud"}}}}"#
        )
    }

    #[test]
    fn hosts_like_the_docker_cli() {
        assert_eq!(
            registry_host("10.213.0.1:5000/app:v2"),
            Some("10.213.0.1:5000")
        );
        assert_eq!(registry_host("localhost/app"), Some("localhost"));
        assert_eq!(registry_host("reg.io/team/app:1"), Some("reg.io"));
        assert_eq!(registry_host("team/app:1"), None);
        assert_eq!(registry_host("app:v2"), None);
    }

    #[test]
    fn credentials_are_found_per_registry_and_never_shown() {
        let f = Path::new("/home/ci/.docker/config.json");
        let a = auth_for(&config(), f, "10.213.0.1:5000/api:v2")
            .unwrap()
            .unwrap();
        assert_eq!(a.username(), Some("ci"));
        assert_eq!(a.credentials().password.as_deref(), Some(SECRET));
        let b = auth_for(&config(), f, "registry.example:443/x")
            .unwrap()
            .unwrap();
        assert_eq!(b.username(), Some("u"));
        let hub = auth_for(&config(), f, "team/app").unwrap().unwrap();
        assert_eq!(hub.credentials().identitytoken.as_deref(), Some(SECRET));
        assert!(auth_for(&config(), f, "gcr.io/p/app:1").unwrap().is_none());
        assert!(auth_for(&config(), f, "other:5000/app").unwrap().is_none());
        for x in [&a, &b, &hub] {
            let shown = format!("{x:?} {x:#?}");
            assert!(!shown.contains(SECRET), "{shown}");
            assert!(
                !shown.contains(&B64.encode(format!("ci:{SECRET}"))),
                "{shown}"
            );
            let echoed = format!(
                "denied: {SECRET} {} was refused",
                B64.encode(format!("ci:{SECRET}"))
            );
            assert!(!x.scrub(&echoed).contains(SECRET), "{}", x.scrub(&echoed));
        }
        assert!(!a
            .scrub(&B64.encode(format!("ci:{SECRET}")))
            .contains(&B64.encode(format!("ci:{SECRET}"))));
    }

    #[test]
    fn the_service_header_is_the_clis() {
        let f = Path::new("/c.json");
        let a = auth_for(&config(), f, "10.213.0.1:5000/api:v2")
            .unwrap()
            .unwrap();
        let json = URL_SAFE.decode(a.header()).unwrap();
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"username": "ci", "password": SECRET,
                "serveraddress": "https://10.213.0.1:5000/v1/"})
        );
    }

    #[test]
    fn broken_config_files_name_the_file_not_the_secret() {
        let f = Path::new("/c.json");
        let e = auth_for(r#"{"auths": {"h:1": {"auth": "!!notbase64"}}}"#, f, "h:1/a").unwrap_err();
        assert!(
            e.to_string().contains("/c.json") && e.to_string().contains("h:1"),
            "{e}"
        );
        let secret_no_colon = B64.encode(SECRET);
        let e = auth_for(
            &format!(r#"{{"auths": {{"h:1": {{"auth": "{secret_no_colon}"}}}}}}"#),
            f,
            "h:1/a",
        )
        .unwrap_err();
        assert!(!format!("{e} {e:?}").contains(SECRET), "{e:?}");
        assert!(auth_for("not json", f, "h:1/a").is_err());
    }
}
