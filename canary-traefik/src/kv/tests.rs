//! The KV router's store against a real etcd v3 (Debian's `etcd-server`, started here on
//! 127.0.0.1 with a data dir of its own): a group's keys are exactly the rendered config's after
//! every write, each write is one revision (what Traefik's etcd provider reads is one revision,
//! so it never sees half a change), stale keys go in the same transaction, two writers never
//! leave a mix, and removal leaves nothing. Without an `etcd` binary the test skips, or fails
//! when `CI` is set.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::flatten::flatten;
use super::EtcdStore;
use crate::dynamic::render;
use crate::provider::ProviderVersion;
use canary_core::spec::{HeaderRoute, TrafficMode};
use canary_core::traits::TaskEndpoint;
use canary_core::{AppRef, AppRoute, RouteConfig, ServiceName, Weight};

struct Etcd {
    child: Child,
    dir: std::path::PathBuf,
    url: String,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn etcd_or_skip() -> Option<Etcd> {
    if Command::new("etcd").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and there is no etcd binary (apt-get install etcd-server)"
        );
        eprintln!("SKIPPED: no etcd binary (apt-get install etcd-server)");
        return None;
    }
    let (client, peer) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("canary-etcd-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let child = Command::new("etcd")
        .args(["--name", "t", "--data-dir"])
        .arg(&dir)
        .args([
            "--listen-client-urls",
            &url,
            "--advertise-client-urls",
            &url,
        ])
        .args(["--listen-peer-urls", &peer_url])
        .args(["--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("t={peer_url}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd starts");
    let etcd = Etcd { child, dir, url };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", client)).is_err() {
        assert!(Instant::now() < deadline, "etcd did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(etcd)
}

fn sn(s: &str) -> ServiceName {
    ServiceName::parse(s).unwrap()
}

fn config(group: &str, weight: u64, tasks: &[&str], routed: bool) -> RouteConfig {
    let apps = ["api", "web"]
        .iter()
        .map(|app| {
            let app_ref = AppRef {
                name: sn(app),
                stable: sn(&format!("{group}_{app}")),
                canary: sn(&format!("{group}_{app}-canary")),
            };
            let rule = format!("Host(`{group}.localhost`) && PathPrefix(`/{app}`)");
            AppRoute::new(sn(group), app_ref, rule, 8080)
                .health_path("/health")
                .entry_points(vec!["web".into()])
                .canary_endpoints(
                    tasks
                        .iter()
                        .map(|ip| TaskEndpoint {
                            task: format!("t{ip}"),
                            node: None,
                            addresses: BTreeMap::from([("canary-net".into(), ip.to_string())]),
                        })
                        .collect(),
                )
        })
        .collect();
    RouteConfig::new(sn(group), TrafficMode::Weighted, apps)
        .canary_weight(Weight::new(weight).unwrap())
        .canary_routed(routed)
        .header_route(routed.then(HeaderRoute::default))
        .mirror(Weight::new(if routed { 10 } else { 0 }).unwrap())
}

/// Every key under `prefix` and the store's revision, read with one range request.
async fn all_keys(url: &str, prefix: &str) -> (i64, BTreeMap<String, String>) {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD;
    let mut end = prefix.as_bytes().to_vec();
    *end.last_mut().unwrap() += 1;
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v3/kv/range"))
        .json(&serde_json::json!({"key": b.encode(prefix), "range_end": b.encode(&end)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rev = v["header"]["revision"].as_str().unwrap().parse().unwrap();
    let mut out = BTreeMap::new();
    for kv in v["kvs"].as_array().cloned().unwrap_or_default() {
        let k = String::from_utf8(b.decode(kv["key"].as_str().unwrap()).unwrap()).unwrap();
        let val =
            String::from_utf8(b.decode(kv["value"].as_str().unwrap_or_default()).unwrap()).unwrap();
        out.insert(k, val);
    }
    (rev, out)
}

#[tokio::test]
async fn a_group_is_written_whole_in_one_revision_and_removed_whole() {
    let Some(etcd) = etcd_or_skip() else { return };
    let store = EtcdStore::new(&etcd.url, "traefik", Duration::from_secs(5)).unwrap();
    let wait = Instant::now() + Duration::from_secs(20);
    while store.reachable().await.is_err() {
        assert!(Instant::now() < wait, "etcd did not answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let g = sn("shop");
    // Another group's keys must never be touched.
    let other = render(
        &config("shop2", 50, &["10.0.9.9"], true),
        ProviderVersion::V3,
        "canary-net",
    )
    .unwrap();
    store
        .write_group(
            &sn("shop2"),
            Some((&other.config, &other.config.to_yaml().unwrap())),
        )
        .await
        .unwrap();
    let other_keys = flatten("traefik", &other.config).unwrap();

    let mut last_rev = all_keys(&etcd.url, "traefik/").await.0;
    let steps = [
        config("shop", 0, &[], false),
        config("shop", 20, &["10.0.1.2", "10.0.1.3"], true),
        config("shop", 50, &["10.0.1.3"], true),
        config("shop", 50, &[], true),
        config("shop", 0, &[], false),
    ];
    let mut previous: Option<String> = None;
    for (i, c) in steps.iter().enumerate() {
        let r = render(c, ProviderVersion::V3, "canary-net").unwrap();
        let text = r.config.to_yaml().unwrap();
        let before = store
            .write_group(&g, Some((&r.config, &text)))
            .await
            .unwrap();
        assert_eq!(before, previous, "step {i}: the previous text");
        let (rev, keys) = all_keys(&etcd.url, "traefik/").await;
        assert_eq!(rev, last_rev + 1, "step {i}: one transaction, one revision");
        last_rev = rev;
        let mut want = flatten("traefik", &r.config).unwrap();
        want.extend(other_keys.clone());
        assert_eq!(
            keys, want,
            "step {i}: exactly the rendered keys (and the other group's)"
        );
        assert_eq!(
            store.read_group(&g).await.unwrap().as_deref(),
            Some(text.as_str())
        );
        // The same config again writes nothing.
        store
            .write_group(&g, Some((&r.config, &text)))
            .await
            .unwrap();
        assert_eq!(
            all_keys(&etcd.url, "traefik/").await.0,
            rev,
            "step {i}: unchanged"
        );
        previous = Some(text);
    }

    // Two controllers racing (a lease bug, a person): the keys end as one of the two configs,
    // never a mix.
    let a = render(
        &config("shop", 30, &["10.0.2.1"], true),
        ProviderVersion::V3,
        "canary-net",
    )
    .unwrap();
    let b = render(
        &config("shop", 70, &["10.0.3.1", "10.0.3.2"], true),
        ProviderVersion::V3,
        "canary-net",
    )
    .unwrap();
    let (ta, tb) = (a.config.to_yaml().unwrap(), b.config.to_yaml().unwrap());
    let store2 = EtcdStore::new(&etcd.url, "traefik", Duration::from_secs(5)).unwrap();
    for _ in 0..5 {
        let (ra, rb) = tokio::join!(
            store.write_group(&g, Some((&a.config, &ta))),
            store2.write_group(&g, Some((&b.config, &tb)))
        );
        ra.unwrap();
        rb.unwrap();
        let (_, keys) = all_keys(&etcd.url, "traefik/http/").await;
        let mine: BTreeMap<String, String> = keys
            .into_iter()
            .filter(|(k, _)| k.contains("/canary-shop--"))
            .collect();
        let fa = flatten("traefik", &a.config).unwrap();
        let fb = flatten("traefik", &b.config).unwrap();
        assert!(mine == fa || mine == fb, "a mix of two configs: {mine:#?}");
        let text = store.read_group(&g).await.unwrap().unwrap();
        assert_eq!(
            if mine == fa { &ta } else { &tb },
            &text,
            "index and keys agree"
        );
    }

    // Removal: every key of the group and its index, in one revision; the other group stays.
    let rev = all_keys(&etcd.url, "traefik/").await.0;
    assert!(store.write_group(&g, None).await.unwrap().is_some());
    let (after, keys) = all_keys(&etcd.url, "traefik/").await;
    assert_eq!(after, rev + 1);
    assert_eq!(keys, other_keys);
    assert_eq!(store.read_group(&g).await.unwrap(), None);
    assert_eq!(
        all_keys(&etcd.url, "canary/routes/traefik/shop/")
            .await
            .1
            .len(),
        0
    );
    assert_eq!(
        store.write_group(&g, None).await.unwrap(),
        None,
        "nothing left to remove"
    );
}
