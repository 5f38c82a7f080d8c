//! `tcp://` + TLS as the Docker CLI does it (`DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`), through
//! a TLS proxy in front of the local daemon's socket that demands a client certificate.
//!
//! The proxy is a few lines of Python (`ssl` + `asyncio`) and the certificates come from the
//! `openssl` CLI; without either the test says so and skips.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use canary_core::{Error, Orchestrator};
use canary_swarm::{ConnectOptions, SwarmOrchestrator};
use common::Cleanup;

const PROXY: &str = r#"
import asyncio, ssl, sys
cert, key, ca, sock = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_REQUIRED

async def pipe(r, w):
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()

async def handle(r, w):
    ur, uw = await asyncio.open_unix_connection(sock)
    await asyncio.gather(pipe(r, uw), pipe(ur, w))

async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()

asyncio.run(main())
"#;

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, named as the Docker CLI
/// expects them (`ca.pem`, `cert.pem`, `key.pem`).
fn certificates(dir: &Path) -> bool {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    let steps: Vec<Vec<&str>> = vec![
        [
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca-key.pem",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=canary-test-ca",
            ],
        ]
        .concat(),
        [
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server-key.pem",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "server-cert.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
        [
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "key.pem",
                "-out",
                "client.csr",
                "-subj",
                "/CN=canary-test-client",
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ],
    ];
    steps.iter().all(|args| openssl(dir, args))
}

/// Kills the proxy (started by this test) when the test ends.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn connects_over_tls_with_a_client_certificate() {
    let swarm = swarm_or_skip!();
    let mut guard = Cleanup::new();
    let dir = guard.dir("tls");
    if !certificates(&dir) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and the openssl CLI could not make test certificates"
        );
        eprintln!("SKIPPED: the openssl CLI could not make test certificates");
        return;
    }
    std::fs::write(dir.join("proxy.py"), PROXY).unwrap();
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(String::from))
        .unwrap_or_else(|| "/var/run/docker.sock".into());
    let Ok(child) = Command::new("python3")
        .arg(dir.join("proxy.py"))
        .args(["server-cert.pem", "server-key.pem", "ca.pem", &socket])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and python3 is needed for the TLS proxy"
        );
        eprintln!("SKIPPED: python3 is needed for the TLS proxy");
        return;
    };
    let mut proxy = Proxy(child);
    let mut port = String::new();
    BufReader::new(proxy.0.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let host = format!("tcp://127.0.0.1:{}", port.trim());

    // A service made over the socket, changed over TLS: both the bollard client and the raw
    // spec client go through the proxy.
    let name = guard.service("tls");
    swarm
        .create_service(&common::stable(&name, common::V1, 1))
        .await
        .unwrap();
    let env = BTreeMap::from([
        ("DOCKER_HOST".to_string(), host.clone()),
        ("DOCKER_TLS_VERIFY".to_string(), "1".to_string()),
        ("DOCKER_CERT_PATH".to_string(), dir.display().to_string()),
    ]);
    let options = ConnectOptions::from_lookup(|k| env.get(k).cloned());
    let tls = SwarmOrchestrator::connect_with(&options).await.unwrap();
    assert_eq!(tls.api_version(), swarm.api_version());
    tls.update_labels(
        &name,
        &BTreeMap::from([("via".to_string(), Some("tls".to_string()))]),
    )
    .await
    .unwrap();
    let state = tls.inspect(&name).await.unwrap();
    assert_eq!(state.labels.get("via").map(String::as_str), Some("tls"));

    // The same proxy refuses a client whose certificate it did not sign.
    let other = guard.dir("tls-other");
    assert!(certificates(&other));
    // It trusts the proxy (same CA file), but its own certificate comes from another CA.
    std::fs::copy(dir.join("ca.pem"), other.join("ca.pem")).unwrap();
    let mut wrong = options.clone();
    wrong.cert_path = Some(other);
    let e = SwarmOrchestrator::connect_with(&wrong).await.unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e}");
    eprintln!("refused as expected: {e}");

    drop(proxy);
    guard.finish();
}
