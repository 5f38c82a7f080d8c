//! The local stack's Docker socket proxy (`tools/socket-proxy`, run by `scripts/stack/up.sh`):
//! Traefik has no socket, the proxy is the only way to the Docker API from Traefik's network,
//! it refuses writes with 403, and Traefik still sees Swarm services through it.
//!
//! Requests to the proxy go to 127.0.0.1:2375 inside the proxy container's own network
//! namespace (`nsenter --net`), so nothing leaves the machine and the proxy stays unpublished.

use std::process::Command;
use std::time::{Duration, Instant};

use canary_e2e::docker;
use canary_e2e::group::unique_name;
use canary_e2e::stack::stack_or_skip;
use serde_json::Value;

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The one running container of a Swarm service, inspected.
fn container_of(service: &str) -> Value {
    let filter = format!("label=com.docker.swarm.service.name={service}");
    let ids = docker::ok(&[
        "ps",
        "-q",
        "--filter",
        &filter,
        "--filter",
        "status=running",
    ]);
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 1, "running containers of {service}: {ids:?}");
    let v: Value = serde_json::from_str(&docker::ok(&["inspect", ids[0]])).expect("JSON");
    v[0].clone()
}

/// `curl` run inside the proxy's network namespace against 127.0.0.1:2375: (status, body).
fn through_proxy(pid: u64, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let url = format!("http://127.0.0.1:2375{path}");
    let mut args: Vec<String> = vec![
        format!("--net=/proc/{pid}/ns/net"),
        "curl".into(),
        "-sS".into(),
        "--path-as-is".into(),
        "--max-time".into(),
        "10".into(),
        "-o".into(),
        "-".into(),
        "-w".into(),
        "\n%{http_code}".into(),
    ];
    if method == "HEAD" {
        args.push("-I".into());
    } else {
        args.extend(["-X".into(), method.into()]);
    }
    if let Some(b) = body {
        args.extend([
            "-H".into(),
            "Content-Type: application/json".into(),
            "--data-binary".into(),
            b.into(),
        ]);
    }
    args.push(url);
    let out = Command::new("nsenter")
        .args(&args)
        .output()
        .expect("nsenter runs (util-linux; the test runs as root)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "nsenter curl {method} {path}: {} {}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn traefik_has_no_socket_and_the_proxy_refuses_writes() {
    if stack_or_skip("traefik_has_no_socket_and_the_proxy_refuses_writes").is_none() {
        return;
    }
    let traefik = var("CANARY_TRAEFIK_SERVICE", "canary-traefik");
    let proxy = var("CANARY_DOCKER_PROXY_SERVICE", "canary-docker-proxy");
    let api_net = var("CANARY_DOCKER_API_NETWORK", "canary-docker-api");

    // Traefik: no docker.sock, neither in its spec nor in its running container.
    let t = container_of(&traefik);
    let mounts = t["Mounts"].as_array().cloned().unwrap_or_default();
    assert!(
        !mounts.is_empty(),
        "Traefik has its config mounts: {mounts:?}"
    );
    for m in &mounts {
        for key in ["Source", "Destination"] {
            let p = m[key].as_str().unwrap_or_default();
            assert!(!p.contains("docker.sock"), "Traefik mounts {p}");
        }
    }
    let spec = docker::service(&traefik);
    assert!(
        !spec["Spec"]["TaskTemplate"]["ContainerSpec"]
            .to_string()
            .contains("docker.sock"),
        "{}",
        spec["Spec"]["TaskTemplate"]["ContainerSpec"]
    );

    // The API network: internal, not attachable.
    let net: Value = serde_json::from_str(&docker::ok(&["network", "inspect", &api_net])).unwrap();
    assert_eq!(net[0]["Internal"], true, "{}", net[0]);
    assert_eq!(net[0]["Attachable"], false, "{}", net[0]);

    // The proxy: on the API network only, no published port, the socket read-only, not root,
    // no capabilities.
    let p = docker::service(&proxy);
    let nets = p["Spec"]["TaskTemplate"]["Networks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let api_net_id = net[0]["Id"].as_str().unwrap_or_default();
    assert_eq!(nets.len(), 1, "{nets:?}");
    assert_eq!(nets[0]["Target"], api_net_id, "{nets:?}");
    assert!(
        p["Endpoint"]["Ports"].as_array().is_none_or(Vec::is_empty),
        "{}",
        p["Endpoint"]
    );
    let cs = &p["Spec"]["TaskTemplate"]["ContainerSpec"];
    let sock = cs["Mounts"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["Target"] == "/var/run/docker.sock"))
        .unwrap_or_else(|| panic!("the proxy mounts the socket: {cs}"));
    assert_eq!(sock["ReadOnly"], true, "{sock}");
    assert_eq!(cs["User"], "65534:65534", "{cs}");
    assert_eq!(cs["CapabilityDrop"], serde_json::json!(["ALL"]), "{cs}");

    // Traefik shares the API network with the proxy.
    let t_nets = t["NetworkSettings"]["Networks"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(t_nets.contains_key(&api_net), "{t_nets:?}");

    // Through the proxy: reads on the list pass, the rest is refused by the proxy itself.
    let pid = container_of(&proxy)["State"]["Pid"].as_u64().expect("pid");
    let (code, body) = through_proxy(pid, "GET", "/v1.41/services", None);
    assert_eq!(code, 200, "{body}");
    let services: Value = serde_json::from_str(&body).expect("a JSON list");
    assert!(
        services
            .as_array()
            .is_some_and(|l| l.iter().any(|s| s["Spec"]["Name"] == traefik.as_str())),
        "GET /services lists {traefik}"
    );
    assert_eq!(through_proxy(pid, "HEAD", "/_ping", None).0, 200);
    assert_eq!(through_proxy(pid, "GET", "/v1.41/version", None).0, 200);

    let probe = format!("{}-proxy-probe", unique_name());
    let create = format!(
        r#"{{"Name":"{probe}","Labels":{{"io.canary.test":"1"}},"TaskTemplate":{{"ContainerSpec":{{"Image":"canary-demo:latest"}}}}}}"#
    );
    // Writes name objects that do not exist, so a broken proxy fails this test (Docker would
    // answer 404, not 403) without harming the shared stack; a created probe is removed.
    let _probe_guard = Service(probe.clone());
    let refused: &[(&str, String, Option<&str>)] = &[
        ("POST", "/v1.41/services/create".into(), Some(&create)),
        ("DELETE", format!("/v1.41/services/{probe}"), None),
        ("POST", format!("/v1.41/containers/{probe}/kill"), None),
        (
            "POST",
            format!("/v1.41/services/{probe}/update?version=1"),
            Some("{}"),
        ),
        ("PUT", "/v1.41/nodes/self".into(), None),
        ("GET", "/v1.41/containers/json".into(), None),
        ("GET", "/v1.41/secrets".into(), None),
        ("GET", "/v1.41/events".into(), None),
        ("GET", "/v1.41/services/../containers/json".into(), None),
        (
            "GET",
            "/v1.41/services%2F..%2Fcontainers%2Fjson".into(),
            None,
        ),
    ];
    for (method, path, body) in refused {
        let (code, answer) = through_proxy(pid, method, path, *body);
        assert_eq!(code, 403, "{method} {path}: {answer}");
        assert!(
            answer.contains("\"message\":\"canary-socket-proxy: "),
            "{method} {path}: {answer}"
        );
    }
    assert!(
        !docker::run(&["service", "inspect", &probe])
            .expect("docker runs")
            .status
            .success(),
        "the refused create made a service"
    );
}

/// Removes the test's service even when an assertion fails.
struct Service(String);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = docker::run(&["service", "rm", &self.0]);
    }
}

#[test]
fn traefik_sees_a_new_swarm_service_through_the_proxy_but_not_its_environment() {
    let Some(stack) =
        stack_or_skip("traefik_sees_a_new_swarm_service_through_the_proxy_but_not_its_environment")
    else {
        return;
    };
    let proxy = var("CANARY_DOCKER_PROXY_SERVICE", "canary-docker-proxy");
    let name = format!("{}-proxy", unique_name());
    let secret = format!("CANARY_PROBE_SECRET={name}-s3cret");
    let port_label = format!("traefik.http.services.{name}.loadbalancer.server.port=8080");
    let net_label = format!("traefik.swarm.network={}", stack.network);
    docker::ok(&[
        "service",
        "create",
        "--detach",
        "--quiet",
        "--no-resolve-image",
        "--name",
        &name,
        "--label",
        "io.canary.test=1",
        "--label",
        "traefik.enable=true",
        "--label",
        &net_label,
        "--label",
        &port_label,
        "--network",
        &stack.network,
        "--endpoint-mode",
        "dnsrr",
        "--env",
        &secret,
        "canary-demo:latest",
    ]);
    let _guard = Service(name.clone());
    assert!(docker::service(&name).to_string().contains(&secret));
    let path = format!("/api/http/services/{name}@swarm");
    let start = Instant::now();
    loop {
        let answer = canary_e2e::load::http_get(
            stack.api_port,
            "127.0.0.1",
            &path,
            &[],
            Duration::from_secs(3),
        );
        if let Ok(a) = &answer {
            if a.status == 200 && a.body.contains("\"url\":\"http://") {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "Traefik did not list {name}@swarm with a server within 60s: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // The proxy passes the service and its labels, not its environment.
    let pid = container_of(&proxy)["State"]["Pid"].as_u64().expect("pid");
    for path in [
        "/v1.41/services".to_string(),
        format!("/v1.41/tasks?filters=%7B%22service%22%3A%7B%22{name}%22%3Atrue%7D%7D"),
    ] {
        let (code, body) = through_proxy(pid, "GET", &path, None);
        assert_eq!(code, 200, "{path}: {body}");
        let listed = if path.contains("tasks") {
            "\"ServiceID\""
        } else {
            &name
        };
        assert!(body.contains(listed), "{path} lists {name}: {body}");
        assert!(!body.contains("s3cret"), "{path} shows the environment");
    }
}
