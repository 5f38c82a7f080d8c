//! Pushing to a registry that wants credentials (Debian's `docker-registry`, started here on
//! 127.0.0.1 with htpasswd auth; the daemon treats loopback registries as plain HTTP): the
//! credentials of a Docker CLI `config.json` reach the registry through `X-Registry-Auth`, the
//! result is the registry's own digest, and the password shows up in no error, no `Debug` and
//! no log line, also when the registry refuses it. Without `docker-registry` the test skips, or
//! fails when `CI` is set.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use canary_core::{Error, ImageRef, Orchestrator};
use common::Cleanup;

const USER: &str = "canary-ci";
const PASSWORD: &str = "s3cr3t-Pa55";
/// `htpasswd -nbB canary-ci s3cr3t-Pa55`
const HTPASSWD: &str = "canary-ci:$2y$05$ZUeyS9/V5CqT6yX9kxMbfuMgZfkqbNIkmz6t4Y6d.m0hXqZcpHf8q\n";

struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every log line of the process, at every level (bollard's `log` records too).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn config_with(dir: &std::path::Path, registry: &str, user: &str, password: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"auths": {{"http://{registry}": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
}

fn refused_without_secret(e: &Error, secrets: &[&str]) {
    let shown = format!("{e} {e:?}");
    assert!(matches!(e, Error::Rejected { .. }), "{shown}");
    for s in secrets {
        assert!(!shown.contains(s), "a secret in {shown}");
    }
}

#[tokio::test]
async fn credentials_from_the_docker_config_reach_the_registry_and_nothing_else() {
    let swarm = swarm_or_skip!();
    if Command::new("docker-registry")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and there is no docker-registry (apt-get install docker-registry)"
        );
        eprintln!("SKIPPED: no docker-registry binary");
        return;
    }
    let logs = Logs::default();
    let sink = logs.clone();
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .try_init();

    let mut guard = Cleanup::new();
    let dir = guard.dir("registry");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let registry = format!("127.0.0.1:{port}");
    std::fs::write(dir.join("htpasswd"), HTPASSWD).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\n\
             http: {{addr: \"{registry}\"}}\nauth: {{htpasswd: {{realm: canary-test, path: {}}}}}\n",
            dir.join("data").display(),
            dir.join("htpasswd").display()
        ),
    )
    .unwrap();
    let _registry = Registry(
        Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the registry did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    let repo = format!("{registry}/{}", guard.name("push"));
    let image = ImageRef::parse(&format!("{repo}:v2")).unwrap();
    swarm
        .tag_image(&ImageRef::parse(common::V2).unwrap(), &image)
        .await
        .unwrap();
    let docker_config = guard.dir("docker-config");
    std::env::set_var("DOCKER_CONFIG", &docker_config);

    // No credentials: the registry refuses.
    std::fs::write(docker_config.join("config.json"), "{}").unwrap();
    let e = swarm.push_image(&image).await.unwrap_err();
    refused_without_secret(&e, &[PASSWORD]);

    // Wrong credentials: refused, and neither the wrong password nor its auth text is shown.
    let wrong = "wr0ng-Pa55w0rd";
    config_with(&docker_config, &registry, USER, wrong);
    let e = swarm.push_image(&image).await.unwrap_err();
    let wrong_auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{wrong}"));
    refused_without_secret(&e, &[wrong, &wrong_auth]);

    // The right ones: pushed, pinned by the registry's digest.
    config_with(&docker_config, &registry, USER, PASSWORD);
    let pinned = swarm.push_image(&image).await.unwrap();
    assert!(
        pinned.as_str().starts_with(&format!("{repo}@sha256:")),
        "{pinned}"
    );
    let answer = reqwest_like_get(port, &format!("/v2/{}/manifests/v2", guard.name("push")));
    let digest = answer
        .lines()
        .find_map(|l| {
            l.strip_prefix("Docker-Content-Digest: ")
                .or_else(|| l.strip_prefix("docker-content-digest: "))
        })
        .map(str::trim)
        .unwrap_or_else(|| panic!("no digest header in {answer}"));
    assert_eq!(pinned.as_str(), format!("{repo}@{digest}"));
    // What canary creation and promotion pin is this digest.
    assert_eq!(swarm.pin_image(&image).await.unwrap(), pinned);
    std::env::remove_var("DOCKER_CONFIG");
    // The digest reference outlives the tag the guard removes, and would stay on the demo image
    // (pin_image reads it) naming a registry that is gone.
    common::docker_ok(&["rmi", pinned.as_str()]);

    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logged.contains("pushing"),
        "the test captured the logs: {logged}"
    );
    let right_auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for s in [PASSWORD, wrong, &right_auth, &wrong_auth] {
        assert!(!logged.contains(s), "a secret in the logs");
    }
    guard.finish();
}

/// `GET path` on the registry with the test's credentials and the manifest types Docker pushes;
/// the raw answer head.
fn reqwest_like_get(port: u16, path: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    write!(
        s,
        "HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n\
         Accept: application/vnd.docker.distribution.manifest.v2+json\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}
